from reactor import define_schema, define_table, v

schema = define_schema(
    {
        "messages": define_table(
            {"channel": v.string(), "body": v.string(), "author": v.optional(v.string())}
        ).index("by_channel", ["channel"]),
        "a": define_table({"n": v.number()}),
        "b": define_table({"n": v.number()}),
        "c": define_table({"n": v.number()}),
        "counters": define_table({"name": v.string(), "value": v.number()}).index(
            "by_name", ["name"]
        ),
    }
)
