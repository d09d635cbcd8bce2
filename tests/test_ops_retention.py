"""ops.retention: old artefacts go, everything else (and anything behind a symlink) stays."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ops import retention
from ops.retention import FolderResult, cleanup

NOW = 1_710_500_000.0
DAY = 86400
OLD = NOW - 91 * DAY
NEW = NOW - 89 * DAY


def make(path: Path, size: int, mtime: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data dir where only the files named old_* below may be deleted."""
    d = tmp_path / "data"
    make(d / "summaries" / "old_a.json", 100, OLD)
    make(d / "summaries" / "old_b.json", 50, OLD)
    make(d / "summaries" / "new.json", 7, NEW)
    make(d / "summaries" / "notes.txt", 9, OLD)  # not a summary
    make(d / "summaries" / "nested" / "deep.json", 9, OLD)  # not directly in the folder
    make(d / "traces" / "old_t.zip", 1000, OLD)
    make(d / "traces" / "old_s.png", 300, OLD)
    make(d / "traces" / "new.png", 30, NEW)
    make(d / "traces" / "old.json", 30, OLD)  # wrong suffix for traces
    make(d / "notebooks" / "old_n.ipynb", 2000, OLD)
    make(d / "notebooks" / "new.ipynb", 20, NEW)
    for keep in ("state.sqlite3", "state.sqlite3-wal", "session.json", "other.json", "old.png"):
        make(d / keep, 10, OLD)
    make(d / "logs" / "creditbot.log", 10, OLD)
    outside = make(tmp_path / "elsewhere" / "precious.png", 5, OLD)
    link = d / "traces" / "link.png"
    link.symlink_to(outside)
    os.utime(link, (OLD, OLD), follow_symlinks=False)
    (d / "traces" / "dir.zip").mkdir()  # a folder with a matching name is not a file
    os.utime(d / "traces" / "dir.zip", (OLD, OLD))
    return d


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def test_cleanup_removes_only_old_artefacts(data: Path, tmp_path: Path) -> None:
    before = files(tmp_path)
    result = cleanup(data, now=NOW)
    assert result.folders == {
        "summaries": FolderResult(files=2, bytes=150),
        "traces": FolderResult(files=2, bytes=1300),
        "notebooks": FolderResult(files=1, bytes=2000),
    }
    assert (result.files, result.bytes, result.errors) == (5, 3450, [])
    assert result.cutoff == NOW - 90 * DAY
    gone = before - files(tmp_path)
    assert gone == {
        "data/summaries/old_a.json",
        "data/summaries/old_b.json",
        "data/traces/old_t.zip",
        "data/traces/old_s.png",
        "data/notebooks/old_n.ipynb",
    }
    assert (data / "traces" / "link.png").is_symlink()
    assert (tmp_path / "elsewhere" / "precious.png").read_bytes() == b"xxxxx"
    assert (data / "traces" / "dir.zip").is_dir()


def test_dry_run_counts_the_same_and_deletes_nothing(data: Path, tmp_path: Path) -> None:
    before = files(tmp_path)
    result = cleanup(data, now=NOW, dry_run=True)
    assert (result.files, result.bytes, result.dry_run) == (5, 3450, True)
    assert files(tmp_path) == before
    assert "summaries  would delete 2 file(s), 150 bytes" in result.describe()
    assert result.describe().splitlines()[-1] == "total      would delete 5 file(s), 3,450 bytes"


def test_the_cutoff_is_strict_and_configurable(tmp_path: Path) -> None:
    d = tmp_path / "data"
    make(d / "summaries" / "edge.json", 1, NOW - 10 * DAY)
    make(d / "summaries" / "older.json", 1, NOW - 10 * DAY - 1)
    result = cleanup(d, older_than_days=10, now=NOW)
    assert result.folders["summaries"].files == 1
    assert files(d) == {"summaries/edge.json"}
    with pytest.raises(ValueError):
        cleanup(d, older_than_days=-1, now=NOW)


def test_missing_and_symlinked_folders_are_skipped(tmp_path: Path) -> None:
    d = tmp_path / "data"
    outside = tmp_path / "elsewhere"
    make(outside / "old.ipynb", 10, OLD)
    d.mkdir()
    (d / "notebooks").symlink_to(outside, target_is_directory=True)
    (d / "traces").write_text("not a folder")
    result = cleanup(d, now=NOW)
    assert result.folders["summaries"] == FolderResult(skipped="no such folder")
    assert result.folders["notebooks"] == FolderResult(skipped="a symlink, not followed")
    assert result.folders["traces"] == FolderResult(skipped="not a folder")
    assert (outside / "old.ipynb").exists()
    assert "notebooks  deleted 0 file(s), 0 bytes (a symlink, not followed)" in result.describe()


def test_a_file_that_cannot_be_removed_is_reported(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_unlink = os.unlink

    def unlink(path: str) -> None:
        if path.endswith("old_t.zip"):
            raise PermissionError(13, "Permission denied")
        real_unlink(path)

    monkeypatch.setattr(retention.os, "unlink", unlink)
    result = cleanup(data, now=NOW)
    assert result.folders["traces"] == FolderResult(files=1, bytes=300)
    assert len(result.errors) == 1 and "old_t.zip: Permission denied" in result.errors[0]
    assert (data / "traces" / "old_t.zip").exists()
    assert "error: " in result.describe()
