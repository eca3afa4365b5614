"""The admin key file, admin key checks, and ``Authorization`` header parsing."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from reactor.auth import (
    ADMIN_KEY_ENV,
    ADMIN_KEY_PREFIX,
    AuthConfig,
    Authenticator,
    load_or_create_admin_key,
    parse_authorization_header,
    split_acting_as,
)
from reactor.errors import AuthError


@pytest.fixture(autouse=True)
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ADMIN_KEY_ENV, raising=False)


def test_key_file_created_private_and_stable(tmp_path: Path) -> None:
    data_dir = tmp_path / ".reactor"  # does not exist yet
    key = load_or_create_admin_key(data_dir)
    assert key.startswith(ADMIN_KEY_PREFIX)
    assert len(key) >= len(ADMIN_KEY_PREFIX) + 43  # 32 random bytes, base64url
    path = data_dir / "admin_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == key
    assert load_or_create_admin_key(data_dir) == key
    assert load_or_create_admin_key(tmp_path / "elsewhere") != key


def test_existing_key_file_is_used(tmp_path: Path) -> None:
    (tmp_path / "admin_key").write_text("my-own-key\n")
    (tmp_path / "admin_key").chmod(0o600)
    assert load_or_create_admin_key(tmp_path) == "my-own-key"


def test_empty_key_file_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "admin_key").write_text("")
    key = load_or_create_admin_key(tmp_path)
    assert key.startswith(ADMIN_KEY_PREFIX)
    assert (tmp_path / "admin_key").read_text().strip() == key
    assert stat.S_IMODE((tmp_path / "admin_key").stat().st_mode) == 0o600


def test_env_var_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load_or_create_admin_key(tmp_path)
    monkeypatch.setenv(ADMIN_KEY_ENV, "from-env")
    assert load_or_create_admin_key(tmp_path) == "from-env"
    assert load_or_create_admin_key(tmp_path / "fresh") == "from-env"
    assert not (tmp_path / "fresh").exists()  # nothing written when the env var is set


def test_readable_key_file_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "admin_key").write_text("k")
    (tmp_path / "admin_key").chmod(0o644)
    assert load_or_create_admin_key(tmp_path) == "k"
    assert "readable by other users" in caplog.text


@pytest.mark.anyio
async def test_verify_admin_key() -> None:
    auth = Authenticator(AuthConfig(), admin_key="reactor-admin|secret")
    await auth.verify_admin_key("reactor-admin|secret")
    for wrong in ("reactor-admin|secreT", "", "reactor-admin|secret ", "ключ"):
        with pytest.raises(AuthError, match="invalid admin key"):
            await auth.verify_admin_key(wrong)
    await auth.aclose()


@pytest.mark.anyio
async def test_no_admin_key_configured() -> None:
    async with Authenticator(AuthConfig(), admin_key=None) as auth:
        with pytest.raises(AuthError, match="no admin key"):
            await auth.verify_admin_key("anything")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, ("none", None)),
        ("", ("none", None)),
        ("   ", ("none", None)),
        ("Bearer abc.def.ghi", ("user", "abc.def.ghi")),
        ("bearer   abc.def.ghi  ", ("user", "abc.def.ghi")),
        ("BEARER t", ("user", "t")),
        ("Convex reactor-admin|k", ("admin", "reactor-admin|k")),
        ("convex prod:name|k:eyJ9", ("admin", "prod:name|k:eyJ9")),
    ],
)
def test_parse_authorization_header(header: str | None, expected: tuple[str, str | None]) -> None:
    assert parse_authorization_header(header) == expected


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Basic dXNlcjpwYXNz", "must be `Bearer <token>` or `Convex <admin key>`"),
        ("abc.def.ghi", "must be `Bearer <token>` or `Convex <admin key>`"),
        ("Bearer", "`Bearer` has no credentials"),
        ("Convex   ", "`Convex` has no credentials"),
    ],
)
def test_bad_authorization_header(header: str, message: str) -> None:
    with pytest.raises(AuthError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_authorization_header(header)


def test_split_acting_as() -> None:
    identity = {"tokenIdentifier": "https://iss|u1", "subject": "u1", "issuer": "https://iss"}
    suffix = base64.b64encode(json.dumps(identity).encode()).decode()
    assert split_acting_as(f"prod:dep|key:{suffix}") == ("prod:dep|key", identity)
    assert split_acting_as("prod:dep|key") == ("prod:dep|key", None)
    assert split_acting_as("reactor-admin|abc") == ("reactor-admin|abc", None)
    not_object = base64.b64encode(b"[1]").decode()
    assert split_acting_as(f"k:{not_object}") == (f"k:{not_object}", None)
