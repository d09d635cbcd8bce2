"""The Looker session store: encrypted at rest, key in a keyring if there is one, else a 0600 file.

This machine has no OS keyring service, so keyring's default is its `fail` backend (the file
fallback). The keyring case installs a small in-memory backend standing in for the OS service.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from auth.store import FALLBACK_SETTING, SERVICE, SessionStore, SessionStoreError, expires_at
from core.errors import SettingsError

ORIGIN = "https://acme.cloud.looker.com"
COOKIE_VALUE = "s3cr3t-looker-session-cookie-value"
REPO = Path(__file__).resolve().parent.parent


class MemoryKeyring(KeyringBackend):
    """Stands in for the OS keyring service (Keychain, Credential Manager, Secret Service)."""

    # Below `fail` (0): keyring's own detection never picks it, only `set_keyring` does.
    priority = -1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop((service, username), None)


def storage_state() -> dict[str, Any]:
    """A Playwright storage state after SSO: Looker's cookies plus the IdP's."""
    return {
        "cookies": [
            {
                "name": "CSRF-TOKEN",
                "value": "csrf-1",
                "domain": "acme.cloud.looker.com",
                "path": "/",
                "expires": 1_900_000_500.0,
            },
            {
                "name": "looker.browser",
                "value": COOKIE_VALUE,
                "domain": ".acme.cloud.looker.com",
                "path": "/",
                "expires": 1_900_000_000.0,
            },
            {
                "name": "_session",
                "value": "browser-session-only",
                "domain": "acme.cloud.looker.com",
                "path": "/",
                "expires": -1,
            },
            {
                "name": "idp_sid",
                "value": "okta-secret",
                "domain": "acme.okta.com",
                "path": "/",
                "expires": 1_800_000_000.0,
            },
            {
                "name": "evil",
                "value": "x",
                "domain": "acme.cloud.looker.com.evil.io",
                "path": "/",
                "expires": 1_700_000_000.0,
            },
        ],
        "origins": [
            {"origin": ORIGIN, "localStorage": [{"name": "lk", "value": "1"}]},
            {"origin": "https://acme.okta.com", "localStorage": [{"name": "okta", "value": "2"}]},
        ],
    }


@pytest.fixture(autouse=True)
def restore_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> None:
    """The machine's default is the fail backend; make that explicit, whatever runs before."""
    keyring.set_keyring(fail.Keyring())


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_file_fallback_encrypts_and_is_owner_only(tmp_path: Path, no_keyring: None) -> None:
    store = SessionStore(tmp_path / "data", looker_origin=ORIGIN)
    stored = store.save(storage_state())
    raw = store.path.read_bytes()
    assert COOKIE_VALUE.encode() not in raw
    assert b"looker.browser" not in raw
    assert mode(store.path) == 0o600
    assert mode(store.key_file) == 0o600
    assert not list((tmp_path / "data").glob("*.tmp"))
    assert stored.expires_at == 1_900_000_000.0

    loaded = SessionStore(tmp_path / "data", looker_origin=ORIGIN).load()
    assert loaded is not None
    assert loaded.state == stored.state
    assert loaded.saved_at == stored.saved_at
    assert loaded.expires_at == 1_900_000_000.0


def test_file_fallback_warns_naming_the_setting(tmp_path: Path, no_keyring: None) -> None:
    store = SessionStore(tmp_path, looker_origin=ORIGIN)
    assert store.uses_file_fallback()
    warning = store.warning()
    assert warning is not None
    assert "no OS keyring" in warning
    assert FALLBACK_SETTING in warning
    assert str(store.key_file) in warning
    assert str(store.key_file) in store.where()


def test_forbidden_fallback_raises_settings_error(tmp_path: Path, no_keyring: None) -> None:
    store = SessionStore(tmp_path, looker_origin=ORIGIN, allow_file_fallback=False)
    with pytest.raises(SettingsError) as caught:
        store.save(storage_state())
    assert caught.value.setting == FALLBACK_SETTING
    assert not store.path.exists()
    assert not store.key_file.exists()


def test_keyring_backend_holds_the_key(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    store = SessionStore(tmp_path / "data", looker_origin=ORIGIN, allow_file_fallback=False)
    assert store.warning() is None
    stored = store.save(storage_state())
    assert not store.key_file.exists()
    assert list(memory_keyring.secrets) == [(SERVICE, store.key_name)]
    assert COOKIE_VALUE.encode() not in store.path.read_bytes()
    assert mode(store.path) == 0o600
    assert "MemoryKeyring" in store.where()
    assert "keyring" in store.where()

    loaded = SessionStore(tmp_path / "data", looker_origin=ORIGIN).load()
    assert loaded is not None and loaded.state == stored.state


def test_key_lost_from_keyring_is_an_error(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    store = SessionStore(tmp_path, looker_origin=ORIGIN)
    store.save(storage_state())
    memory_keyring.secrets.clear()
    with pytest.raises(SessionStoreError, match="login"):
        store.load()


def test_only_looker_cookies_and_origin_are_kept(tmp_path: Path, no_keyring: None) -> None:
    store = SessionStore(tmp_path, looker_origin=ORIGIN)
    stored = store.save(storage_state())
    assert sorted(c["name"] for c in stored.state["cookies"]) == [
        "CSRF-TOKEN",
        "_session",
        "looker.browser",
    ]
    assert [o["origin"] for o in stored.state["origins"]] == [ORIGIN]
    loaded = store.load()
    assert loaded is not None
    assert "okta-secret" not in json.dumps(loaded.state)


def test_no_looker_cookie_is_refused(tmp_path: Path, no_keyring: None) -> None:
    state = storage_state()
    state["cookies"] = [c for c in state["cookies"] if "looker.com" not in c["domain"]]
    with pytest.raises(SessionStoreError, match="no cookie"):
        SessionStore(tmp_path, looker_origin=ORIGIN).save(state)


def test_expires_at_is_the_earliest_persistent_cookie() -> None:
    assert expires_at(storage_state()) == 1_700_000_000.0
    assert expires_at({"cookies": [{"expires": -1}, {"name": "no expiry"}]}) is None
    assert expires_at({}) is None


def test_tampered_file_is_refused(tmp_path: Path, no_keyring: None) -> None:
    store = SessionStore(tmp_path, looker_origin=ORIGIN)
    store.save(storage_state())
    data = bytearray(store.path.read_bytes())
    data[len(data) // 2] ^= 0x01
    store.path.write_bytes(bytes(data))
    with pytest.raises(SessionStoreError) as caught:
        store.load()
    assert "cannot be decrypted" in str(caught.value)
    assert COOKIE_VALUE not in str(caught.value)


def test_missing_key_file_is_an_error(tmp_path: Path, no_keyring: None) -> None:
    store = SessionStore(tmp_path, looker_origin=ORIGIN)
    store.save(storage_state())
    store.key_file.unlink()
    with pytest.raises(SessionStoreError, match="key is missing"):
        store.load()


def test_load_without_a_session_and_delete(tmp_path: Path, no_keyring: None) -> None:
    store = SessionStore(tmp_path, looker_origin=ORIGIN)
    assert store.load() is None
    store.save(storage_state())
    store.delete()
    assert store.load() is None
    store.delete()


def test_data_dirs_get_different_keys(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    a = SessionStore(tmp_path / "a", looker_origin=ORIGIN)
    b = SessionStore(tmp_path / "b", looker_origin=ORIGIN)
    a.save(storage_state())
    b.save(storage_state())
    assert a.key_name != b.key_name
    assert len(memory_keyring.secrets) == 2


PROBE = """
import sys
spawned = []
sys.addaudithook(lambda event, args: event == "subprocess.Popen" and spawned.append(args[0]))
if sys.argv[1] == "creditbot":
    import auth.store
import keyring
backend = keyring.get_keyring()
print(type(backend).__module__, type(backend).__name__, len(spawned))
"""


@pytest.mark.skipif(sys.platform == "darwin", reason="on macOS the macOS backend is the one")
def test_finding_the_keyring_runs_no_program_and_finds_what_keyring_alone_finds(
    tmp_path: Path,
) -> None:
    """keyring alone asks ldconfig, gcc and ld for Apple's frameworks on every start (its macOS
    backend's import); through CreditBot nothing is run, and the backend is the same one."""
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE, encoding="utf-8")
    found = {}
    for way in ("keyring", "creditbot"):
        ran = subprocess.run(
            [sys.executable, str(probe), way],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        *backend, spawned = ran.stdout.split()
        found[way] = (backend, int(spawned))
    assert found["creditbot"] == (found["keyring"][0], 0)
