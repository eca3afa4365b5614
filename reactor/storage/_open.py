"""Choosing a store from a URL (the ``--store`` option, ``REACTOR_STORE`` and the like)."""

from __future__ import annotations

from pathlib import Path
from typing import cast, get_args
from urllib.parse import parse_qs, unquote

from reactor.storage._contract import Store
from reactor.storage._mongo import MongoStore
from reactor.storage._sqlite import Durability, SqliteStore

__all__ = ["open_store"]


def open_store(url: str) -> Store:
    """The store a URL names, not yet opened: ``await store.open()`` takes it.

    * ``sqlite:///abs/path.db`` (an absolute path after ``sqlite://``), optionally
      with ``?durability=full|normal|off``;
    * a plain filesystem path, absolute or relative to the current directory;
    * ``mongodb://`` and ``mongodb+srv://`` URLs (a replica set or sharded cluster):
      the ``MongoStore`` on the database the URL names (``mongodb://h/app``),
      else on ``reactor``. The URL's options go to PyMongo as they are.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        if not url:
            raise ValueError("empty store URL")
        return SqliteStore(url)
    if scheme in ("mongodb", "mongodb+srv"):
        return MongoStore(url)
    if scheme != "sqlite":
        raise ValueError(f"unknown store URL scheme {scheme!r} in {url!r}: use sqlite:// or a path")
    raw_path, _, query = rest.partition("?")
    if not raw_path.startswith("/"):
        raise ValueError(
            f"{url!r}: a sqlite URL needs an absolute path, as in sqlite:///abs/path.db "
            "(or pass a plain, possibly relative, path)"
        )
    # sqlite:////abs (SQLAlchemy's spelling of an absolute path) names the same file.
    path = Path("/" + unquote(raw_path).lstrip("/"))
    options = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    durability = options.pop("durability", ["full"])
    if options:
        raise ValueError(f"{url!r}: unknown option(s) {sorted(options)}; only durability is known")
    if len(durability) != 1 or durability[0] not in get_args(Durability):
        raise ValueError(f"{url!r}: durability must be one of full, normal, off")
    return SqliteStore(path, durability=cast(Durability, durability[0]))
