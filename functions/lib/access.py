"""Auth guards every public function starts with.

``get_auth_user`` maps the caller's identity to a ``users`` row;
``require_workspace_access`` checks membership of a workspace and
``require_admin_access`` an owner or admin role. Each raises a ConvexError
with a ``code`` the client can act on, and never reveals whether a foreign
workspace exists.
"""

from __future__ import annotations

from typing import Any

from reactor import ConvexError


async def get_auth_user(ctx: Any) -> dict[str, Any]:
    identity = await ctx.auth.get_user_identity()
    if identity is None:
        raise ConvexError({"code": "UNAUTHENTICATED", "message": "sign in first"})
    user = await (
        ctx.db.query("users")
        .with_index("by_token", lambda r: r.eq("tokenIdentifier", identity["tokenIdentifier"]))
        .unique()
    )
    if user is None:
        raise ConvexError({"code": "USER_NOT_FOUND", "message": "call users:store first"})
    return dict(user)


async def require_workspace_access(ctx: Any, workspace_id: str) -> dict[str, Any]:
    """The caller's membership of ``workspace_id``; FORBIDDEN if there is none."""
    user = await get_auth_user(ctx)
    workspace = ctx.db.normalize_id("workspaces", workspace_id)
    membership = None
    if workspace is not None:
        membership = await (
            ctx.db.query("workspaceMembers")
            .with_index(
                "by_workspace_user",
                lambda r: r.eq("workspaceId", workspace).eq("userId", user["_id"]),
            )
            .unique()
        )
    if membership is None:
        raise ConvexError({"code": "FORBIDDEN", "message": "no access to this workspace"})
    return {**membership, "user": user}


async def require_admin_access(ctx: Any, workspace_id: str) -> dict[str, Any]:
    membership = await require_workspace_access(ctx, workspace_id)
    if membership["role"] not in ("owner", "admin"):
        raise ConvexError({"code": "FORBIDDEN", "message": "admin role required"})
    return membership
