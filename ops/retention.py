"""Delete old artefacts from the data dir, and nothing else.

Summaries, failure traces/screenshots and executed notebooks pile up (traces also hold session
data, so keeping them forever is a liability). Only regular files directly inside those three
folders, with the listed suffixes and older than the cutoff (by mtime), are removed. Symlinks are
never followed nor removed, a folder that is itself a symlink is left alone, and the state
database, the session files and the logs are outside the rules: memos keep their recorded outcome.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

RULES: dict[str, tuple[str, ...]] = {
    "summaries": (".json",),
    "traces": (".zip", ".png"),
    "notebooks": (".ipynb",),
}


@dataclass
class FolderResult:
    files: int = 0
    bytes: int = 0
    skipped: str | None = None  # why the folder was not looked at (missing, a symlink)


@dataclass
class CleanupResult:
    cutoff: float  # files last modified before this epoch second are old
    dry_run: bool
    folders: dict[str, FolderResult] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # files that could not be removed

    @property
    def files(self) -> int:
        return sum(f.files for f in self.folders.values())

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.folders.values())

    def describe(self) -> str:
        """One line per folder, for the terminal."""
        verb = "would delete" if self.dry_run else "deleted"
        lines = []
        for name, folder in self.folders.items():
            detail = f" ({folder.skipped})" if folder.skipped else ""
            lines.append(
                f"{name:<10} {verb} {folder.files} file(s), {folder.bytes:,} bytes{detail}"
            )
        lines.append(f"{'total':<10} {verb} {self.files} file(s), {self.bytes:,} bytes")
        lines += [f"error: {e}" for e in self.errors]
        return "\n".join(lines)


def cleanup(
    data_dir: Path,
    *,
    older_than_days: float = 90,
    now: float | None = None,
    dry_run: bool = False,
) -> CleanupResult:
    """Remove (or with `dry_run`, only count) the old artefacts of `data_dir`."""
    if older_than_days < 0:
        raise ValueError("older_than_days must not be negative")
    now = time.time() if now is None else now
    result = CleanupResult(cutoff=now - older_than_days * 86400, dry_run=dry_run)
    for name, suffixes in RULES.items():
        result.folders[name] = _clean_folder(data_dir / name, suffixes, result, dry_run)
    return result


def _clean_folder(
    folder: Path, suffixes: tuple[str, ...], result: CleanupResult, dry_run: bool
) -> FolderResult:
    found = FolderResult()
    try:
        mode = folder.lstat().st_mode
    except FileNotFoundError:
        found.skipped = "no such folder"
        return found
    if not stat.S_ISDIR(mode):
        found.skipped = "a symlink, not followed" if stat.S_ISLNK(mode) else "not a folder"
        return found
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.name.endswith(suffixes) or not entry.is_file(follow_symlinks=False):
                continue
            info = entry.stat(follow_symlinks=False)
            if info.st_mtime >= result.cutoff:
                continue
            if not dry_run:
                try:
                    os.unlink(entry.path)
                except OSError as exc:
                    result.errors.append(f"{entry.path}: {exc.strerror or exc}")
                    continue
            found.files += 1
            found.bytes += info.st_size
    return found
