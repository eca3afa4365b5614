from reactor import define_schema, define_table, v

schema = define_schema(
    {
        "counters": define_table({"name": v.string(), "value": v.number()}).index(
            "by_name", ["name"]
        ),
        "messages": define_table(
            {
                "channel": v.string(),
                "body": v.string(),
                "author": v.optional(v.string()),
                "likes": v.number(),
            }
        )
        .index("by_channel", ["channel"])
        .index("by_channel_likes", ["channel", "likes"]),
        "mixed": define_table(v.any()).index("by_value", ["value"]),
        "ab": define_table({"a": v.number(), "b": v.number()}).index("by_a_b", ["a", "b"]),
        "kv": define_table({"key": v.string()}).index("by_key", ["key"]),
        "sides": define_table({"side": v.string(), "by": v.string()}).index("by_side", ["side"]),
        "users": define_table({"name": v.string()}),
        "notes": define_table({"user": v.id("users"), "text": v.string()}),
    }
)
