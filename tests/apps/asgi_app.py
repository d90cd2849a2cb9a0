"""A tiny ASGI app, served by `uvicorn asgi_app:app --port $PORT` (no --fd)."""
import json
import os


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = json.dumps({"pid": os.getpid()}).encode()
    await send({
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})
