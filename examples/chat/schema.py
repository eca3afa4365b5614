"""The chat example's tables: channels, their messages, and who is typing where."""

from reactor import define_schema, define_table, v

schema = define_schema(
    {
        "channels": define_table({"name": v.string()}).index("by_name", ["name"]),
        "messages": define_table(
            {"channel": v.id("channels"), "author": v.string(), "body": v.string()}
        ).index("by_channel", ["channel"]),
        # One row per (channel, user) while the user is typing; see functions/presence.py.
        "presence": define_table(
            {
                "channel": v.id("channels"),
                "user": v.string(),
                "updatedAt": v.number(),
                "expiresAt": v.number(),
            }
        ).index("by_channel_user", ["channel", "user"]),
    }
)
