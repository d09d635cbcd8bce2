"""Where the Looker session (Playwright storage state) is kept between runs.

The storage state is encrypted (Fernet) into `session.enc` in the data dir, owner-only, and the
key lives in the OS keyring through `keyring`. Keeping only the small key in the keyring also
fits keyrings that cannot hold a blob the size of a storage state (Windows Credential Manager
stops near 2.5 KB). Without a keyring backend (headless Linux, CI) the key goes to an owner-only
file beside it; that fallback is announced on every start and can be forbidden by a setting.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keyring
import keyring.errors
from cryptography.fernet import Fernet, InvalidToken
from keyring.backends import fail

from core import redact
from core.errors import CreditBotError, SettingsError

SERVICE = "creditbot"
FALLBACK_SETTING = "CREDITBOT_SESSION_FILE_FALLBACK"


class SessionStoreError(CreditBotError):
    kind = "session_store"


@dataclass(frozen=True)
class Stored:
    state: dict[str, Any]
    saved_at: float
    expires_at: float | None  # earliest expiry of a Looker cookie; None: session cookies only


class SessionStore:
    def __init__(self, data_dir: Path, *, looker_origin: str, allow_file_fallback: bool = True):
        self.data_dir = data_dir
        self.path = data_dir / "session.enc"
        self.key_file = data_dir / "session.key"
        self.looker_origin = looker_origin
        self.allow_file_fallback = allow_file_fallback
        digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
        self.key_name = f"session-key-{digest}"

    # --- where the key lives ----------------------------------------------------------------

    def keyring_backend(self) -> str | None:
        """The keyring backend's name, or None when the OS has none (keyring's `fail` backend)."""
        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring):
            return None
        return f"{type(backend).__module__}.{type(backend).__name__}"

    def uses_file_fallback(self) -> bool:
        return self.keyring_backend() is None

    def warning(self) -> str | None:
        """Said on every start while the key sits in a file rather than a keyring."""
        if not self.uses_file_fallback():
            return None
        return (
            f"no OS keyring backend: the Looker session key is kept in {self.key_file} "
            f"(owner-only, mode 0600) instead; set {FALLBACK_SETTING}=false to forbid this"
        )

    def where(self) -> str:
        backend = self.keyring_backend()
        key = f"key in keyring ({backend})" if backend else f"key in {self.key_file} (0600)"
        return f"{self.path} (encrypted, 0600), {key}"

    def _key(self, create: bool) -> bytes | None:
        backend = self.keyring_backend()
        if backend is None:
            if not self.allow_file_fallback:
                raise SettingsError(
                    FALLBACK_SETTING,
                    "is false and there is no OS keyring backend to keep the session key in",
                )
            if self.key_file.exists():
                return self.key_file.read_bytes().strip()
            if not create:
                return None
            key = Fernet.generate_key()
            _write_private(self.key_file, key)
            return key
        try:
            stored = keyring.get_password(SERVICE, self.key_name)
            if not stored and self.key_file.exists():
                # Saved while there was no keyring; move the key in now that there is one.
                stored = self.key_file.read_bytes().decode().strip()
                keyring.set_password(SERVICE, self.key_name, stored)
                self.key_file.unlink()
            if stored or not create:
                return stored.encode() if stored else None
            key = Fernet.generate_key()
            keyring.set_password(SERVICE, self.key_name, key.decode())
            return key
        except keyring.errors.KeyringError as exc:
            raise SessionStoreError(
                f"the keyring ({backend}) refused the session key: {type(exc).__name__}"
            ) from None

    # --- the session itself -----------------------------------------------------------------

    def save(self, state: dict[str, Any]) -> Stored:
        """Keep only what Looker needs: its own cookies and local storage, nothing of the IdP."""
        redact.register_session(state)
        kept = self.only_looker(state)
        if not kept["cookies"]:
            raise SessionStoreError(
                f"the browser holds no cookie for {self.looker_origin}: sign-in did not finish"
            )
        key = self._key(create=True)
        assert key is not None
        saved_at = time.time()
        payload = json.dumps({"saved_at": saved_at, "state": kept}).encode()
        _write_private(self.path, Fernet(key).encrypt(payload))
        return Stored(kept, saved_at, expires_at(kept))

    def load(self) -> Stored | None:
        if not self.path.exists():
            return None
        key = self._key(create=False)
        if key is None:
            raise SessionStoreError(
                f"{self.path} exists but its key is missing from "
                f"{'the keyring' if self.keyring_backend() else self.key_file}; "
                "run `python main.py login` again"
            )
        try:
            data = json.loads(Fernet(key).decrypt(self.path.read_bytes()))
        except (InvalidToken, ValueError):
            raise SessionStoreError(
                f"{self.path} cannot be decrypted with the stored key; "
                "run `python main.py login` again"
            ) from None
        state = data["state"]
        redact.register_session(state)
        return Stored(state, float(data["saved_at"]), expires_at(state))

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)

    def only_looker(self, state: dict[str, Any]) -> dict[str, Any]:
        from urllib.parse import urlsplit

        host = urlsplit(self.looker_origin).hostname or ""
        cookies = [
            c
            for c in state.get("cookies", [])
            if c.get("domain", "").lstrip(".") == host
            or host.endswith("." + c.get("domain", "").lstrip("."))
        ]
        origins = [o for o in state.get("origins", []) if o.get("origin") == self.looker_origin]
        return {"cookies": cookies, "origins": origins}


def expires_at(state: dict[str, Any]) -> float | None:
    """The earliest expiry among persistent cookies (-1 marks a browser-session cookie)."""
    times = [float(c["expires"]) for c in state.get("cookies", []) if c.get("expires", -1) > 0]
    return min(times) if times else None


def _write_private(path: Path, data: bytes) -> None:
    """Owner-only from the first byte: create 0600, write, then rename into place."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
