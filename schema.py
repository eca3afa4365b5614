"""The schema of the repository's own app: a multi-tenant business backend.

Every tenant-owned table carries ``workspaceId`` and is read through an index
that starts with it, so each query is scoped to one workspace by construction.
"""

from reactor import define_schema, define_table, v

roles = v.union(v.literal("owner"), v.literal("admin"), v.literal("member"))

schema = define_schema(
    {
        "users": define_table(
            {
                "tokenIdentifier": v.string(),
                "name": v.optional(v.string()),
                "email": v.optional(v.string()),
            }
        ).index("by_token", ["tokenIdentifier"]),
        "workspaces": define_table(
            {"name": v.string(), "createdBy": v.id("users"), "createdAt": v.number()}
        ),
        "workspaceMembers": define_table(
            {"workspaceId": v.id("workspaces"), "userId": v.id("users"), "role": roles}
        )
        .index("by_workspace_user", ["workspaceId", "userId"])
        .index("by_user", ["userId"]),
        "contacts": define_table(
            {
                "workspaceId": v.id("workspaces"),
                "name": v.string(),
                "email": v.optional(v.string()),
                "phone": v.optional(v.string()),
                "createdAt": v.number(),
                "createdBy": v.id("users"),
                "updatedAt": v.optional(v.number()),
                "deletedAt": v.optional(v.number()),
            }
        ).index("by_workspace_deleted", ["workspaceId", "deletedAt"]),
    }
)
