from reactor import define_schema, define_table, v

schema = define_schema(
    {
        "messages": define_table(
            {
                "channel": v.string(),
                "tag": v.string(),
                "body": v.string(),
                "n": v.number(),
                "author": v.string(),
            }
        ).index("by_channel", ["channel"]),
        "counters": define_table({"name": v.string(), "value": v.number()}).index(
            "by_name", ["name"]
        ),
    }
)
