"""Sans-I/O codec for the Convex sync protocol (PROTOCOL.md §4, §5).

Text frame <-> message dataclass, for both ends of the socket:

* server: :func:`parse_client_message`, :func:`encode_server_message`, and the
  fan-out path :func:`encode_query_updated_value` +
  :func:`encode_query_updated_fragment` + :func:`encode_transition_frame`;
* reactor's client: :func:`encode_client_message`, :func:`parse_server_message`.

Parsing is strict and raises :class:`ProtocolError` with the wire path of the
offending field; unknown extra fields are ignored. Encoding raises
``ValueError`` for messages no client could accept (u32 out of range, a
successful MutationResponse without ts, ...) and ``InvalidValueError`` for
values that are not Convex values.
"""

from __future__ import annotations

from reactor.sync._codec_client import encode_client_message, parse_client_message
from reactor.sync._codec_fragments import (
    encode_modification_fragment,
    encode_query_failed_fragment,
    encode_query_removed_fragment,
    encode_query_updated_fragment,
    encode_query_updated_value,
    encode_transition_frame,
)
from reactor.sync._codec_server import encode_server_message, parse_server_message
from reactor.sync._messages import ProtocolError

__all__ = [
    "ProtocolError",
    "encode_client_message",
    "encode_modification_fragment",
    "encode_query_failed_fragment",
    "encode_query_removed_fragment",
    "encode_query_updated_fragment",
    "encode_query_updated_value",
    "encode_server_message",
    "encode_transition_frame",
    "parse_client_message",
    "parse_server_message",
]
