"""The reliability test app (RELIABILITY.md).

``lists``: Elle's list-append workload. One row per key; ``items`` is the list
transactions append to, so every read reveals the key's whole version order.
Nothing stops two rows of one key being inserted but serializability (the
insert's read of the empty key range conflicts), so a key with two rows is
itself an anomaly the checker reports.

``crash_a`` / ``crash_b``: the crash test. Each ``crash:write`` inserts one row
into each, carrying the same client-chosen token.
"""

from reactor import define_schema, define_table, v

schema = define_schema(
    {
        "lists": define_table({"key": v.number(), "items": v.array(v.number())}).index(
            "by_key", ["key"]
        ),
        "crash_a": define_table({"token": v.string(), "writer": v.string()}).index(
            "by_token", ["token"]
        ),
        "crash_b": define_table({"token": v.string(), "writer": v.string()}).index(
            "by_token", ["token"]
        ),
    }
)
