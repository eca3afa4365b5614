from reactor import define_schema, define_table, v

schema = define_schema(
    {
        # A payment provider's events, each recorded once however often it is delivered.
        "payments": define_table(
            {"eventId": v.string(), "kind": v.string(), "amount": v.number()}
        ).index("by_event_id", ["eventId"]),
        # Idempotency receipts: one per event id ever processed.
        "webhookReceipts": define_table({"eventId": v.string(), "receivedAt": v.number()}).index(
            "by_event_id", ["eventId"]
        ),
        "uploads": define_table({"storageId": v.id("_storage"), "name": v.string()}),
    }
)
