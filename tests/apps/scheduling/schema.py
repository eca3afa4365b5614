from reactor import define_schema, define_table, v

schema = define_schema(
    {
        # What scheduled functions and crons did, in order.
        "events": define_table(v.any()).index("by_tag", ["tag"]),
        "items": define_table({"name": v.string()}),
    }
)
