"""Ending MongoDB sessions, also when an operation on them was cancelled.

PyMongo keeps ended sessions' server sessions in a pool and hands them to later
``start_session`` calls (with the next ``txnNumber``). It discards one only
when the driver saw a network error on it, not when the task running an
operation was cancelled (``asyncio.CancelledError``: a client that
disconnected, a server shutting down). Such a session's transaction state is
unknown: a command cancelled on its way may never have reached the server (a
cancelled ``commitTransaction`` leaves the transaction open there, while the
driver believes it committed), or may reach it after the driver aborted the
transaction and open it again. A real replica set aborts a stale transaction
when the next ``txnNumber`` arrives; the jongodb wire server instead refuses
every later transaction on that session ("transaction already in progress for
this session", code 14), so a pooled session with an open transaction failed
whichever mutation drew it next (RELIABILITY.md, finding 2).

``end`` therefore treats a session whose operation was interrupted as lost: it
is marked dirty (the driver's own flag: the pool drops it, it is never reused),
its transaction is aborted if the driver still thinks it open, and the server
is asked to end it (``endSessions`` aborts whatever transaction it still has
open there). All of it is shielded from a second cancellation, which would
otherwise cut the clean-up short.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError

__all__ = ["discard", "end", "interrupted"]


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` stopped an operation half-way, leaving its session's state unknown:
    a cancellation or an interrupt, not an error the server or the driver reported."""
    return not isinstance(exc, Exception)


def discard(session: AsyncClientSession) -> None:
    """Never let the driver hand out this session's server session again.

    ``_server_session.mark_dirty()`` is what PyMongo itself calls on a network
    error; the pool then drops the server session when it comes back."""
    server_session = session._server_session
    if server_session is not None:
        server_session.mark_dirty()


async def end(session: AsyncClientSession, *, lost: bool = False) -> None:
    """End ``session``, aborting its transaction if one is open; ``lost``: an
    operation on it was interrupted (see the module). Shielded from cancellation."""
    await asyncio.shield(_end(session, lost))


async def _end(session: AsyncClientSession, lost: bool) -> None:
    lsid: Any = None
    if lost:
        discard(session)
        with contextlib.suppress(PyMongoError):
            lsid = session.session_id
    try:
        if session.in_transaction:
            await session.abort_transaction()  # errors of the abort itself are ignored
    except PyMongoError:
        discard(session)  # the transaction may still be open on the server
    finally:
        await session.end_session()
    if lsid is not None:
        with contextlib.suppress(PyMongoError):
            await session.client.admin.command({"endSessions": [lsid]})
