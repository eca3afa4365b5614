"""open_store: from a URL or a path to an (unopened) store."""

from __future__ import annotations

from pathlib import Path

import pytest

from reactor.storage import MongoStore, SqliteStore, Store, open_store


def sqlite(store: Store) -> SqliteStore:
    assert isinstance(store, SqliteStore)
    return store


def test_sqlite_url(tmp_path: Path) -> None:
    store = sqlite(open_store(f"sqlite://{tmp_path}/a.db"))
    assert store.path == tmp_path.resolve() / "a.db"
    assert store.durability == "full"
    assert sqlite(open_store(store.url)).path == store.path  # url round-trips
    # SQLAlchemy's four-slash spelling names the same absolute path.
    assert sqlite(open_store(f"sqlite:///{tmp_path}/a.db")).path == store.path


def test_sqlite_url_durability(tmp_path: Path) -> None:
    store = sqlite(open_store(f"sqlite://{tmp_path}/a.db?durability=normal"))
    assert store.durability == "normal"
    with pytest.raises(ValueError, match="durability"):
        open_store(f"sqlite://{tmp_path}/a.db?durability=sometimes")
    with pytest.raises(ValueError, match="unknown option"):
        open_store(f"sqlite://{tmp_path}/a.db?cache=big")


def test_plain_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sqlite(open_store(str(tmp_path / "a.db"))).path == tmp_path.resolve() / "a.db"
    monkeypatch.chdir(tmp_path)
    assert sqlite(open_store("data/app.db")).path == tmp_path.resolve() / "data" / "app.db"


def test_relative_sqlite_url_is_refused() -> None:
    with pytest.raises(ValueError, match="absolute path"):
        open_store("sqlite://data/app.db")


def test_mongodb_urls() -> None:
    for url in ("mongodb://localhost:27017/app", "mongodb+srv://cluster.example/app?w=1"):
        store = open_store(url)
        assert isinstance(store, MongoStore)
        assert (store.url, store.database, store.shared) == (url, "app", True)
    # No database in the URL: "reactor".
    for url in ("mongodb://h1,h2/?replicaSet=rs0", "mongodb://localhost"):
        store = open_store(url)
        assert isinstance(store, MongoStore)
        assert store.database == "reactor"


def test_unknown_schemes_and_empty_urls() -> None:
    with pytest.raises(ValueError, match="scheme"):
        open_store("postgres://localhost/app")
    with pytest.raises(ValueError, match="empty"):
        open_store("")
