"""The app's HTTP actions: a signed payment webhook, file upload/download, CORS."""

import hashlib
import hmac
import json

from starlette.responses import JSONResponse, Response

from reactor import ConvexError, HttpRouter, http_action, internal

http = HttpRouter()
http.cors(
    allowed_origins=["https://app.example.com"],
    allowed_headers=["Content-Type", "Authorization"],
)


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """The provider signs the raw body: ``X-Signature: sha256=<hex HMAC-SHA256>``."""
    if header is None:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


@http.route("/webhooks/payments", method="POST")
@http_action
async def payment_webhook(ctx, request):
    secret = await ctx.env.get("WEBHOOK_SECRET")
    body = await request.body()  # the exact bytes that were signed
    if secret is None or not signature_ok(secret, body, request.headers.get("x-signature")):
        return JSONResponse({"error": "invalid signature"}, status_code=401)
    event = json.loads(body)
    new = await ctx.run_mutation(
        internal.payments.record,
        {"eventId": event["id"], "kind": event["type"], "amount": event["amount"]},
    )
    # 200 for a repeat too: the provider stops re-delivering once it gets a 2xx.
    return JSONResponse({"received": True, "duplicate": not new})


@http.route("/whoami", method="GET")
@http_action
async def whoami(ctx, request):
    return JSONResponse({"identity": await ctx.auth.get_user_identity()})


@http_action
async def upload(ctx, request):
    data = await request.body()
    storage_id = await ctx.storage.store(data, content_type=request.headers.get("content-type"))
    return JSONResponse({"storageId": storage_id, "url": await ctx.storage.get_url(storage_id)})


http.route("/files", method="POST", handler=upload)  # Convex's http.route({...}) form


@http.route(path_prefix="/files/", method="GET")
@http_action
async def download(ctx, request):
    storage_id = request.url.path.removeprefix("/files/")
    data = await ctx.storage.get(storage_id)
    if data is None:
        return Response(status_code=404)
    meta = await ctx.storage.get_metadata(storage_id)
    return Response(data, media_type=meta["contentType"])


@http.route("/boom", method="GET")
@http_action
async def boom(ctx, request):
    raise RuntimeError("secret internals")


@http.route("/refuse", method="POST")
@http_action
async def refuse(ctx, request):
    raise ConvexError({"code": "REFUSED", "retry": False})
