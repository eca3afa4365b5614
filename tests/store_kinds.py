"""The store kinds tests run on, and fresh MongoDB databases for them.

``sqlite`` always; ``mongodb`` (the jongodb wire server the session starts);
``mongodb-uri`` when ``MONGODB_URI`` names a real replica set.
``REACTOR_SKIP_MONGO=1`` deselects the MongoDB ones.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

SKIP_MONGO = os.environ.get("REACTOR_SKIP_MONGO") == "1"
REAL_URI = os.environ.get("MONGODB_URI", "")
MONGO_LANES = ["jongodb", *(["uri"] if REAL_URI else [])]
STORE_KINDS = ["sqlite", "mongodb", *(["mongodb-uri"] if REAL_URI else [])]


def fresh_database(request: pytest.FixtureRequest, lane: str) -> Iterator[tuple[str, str]]:
    """A new database on the lane's server; real servers drop it afterwards."""
    uri = REAL_URI if lane == "uri" else request.getfixturevalue("jongodb_uri")
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield uri, name
    if lane == "uri":  # jongodb has no dropDatabase: its databases die with the server
        client: MongoClient[dict[str, object]] = MongoClient(uri)
        try:
            client.drop_database(name)
        except OperationFailure:
            pass
        finally:
            client.close()
