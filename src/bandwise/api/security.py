"""The bearer token (API_TOKEN): every route but the health checks needs it when it is set."""

from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Receive, Scope, Send

from bandwise.config import Settings

# Open without API_TOKEN: the probes, the admin page (it has ADMIN_TOKEN) and Telegram's webhook
# (it has WEBHOOK_SECRET).
OPEN_PREFIX = "/health/"
OPEN_PATHS = ("/admin",)


def bearer_matches(authorization: str | None, expected: str) -> bool:
    """Tell whether an ``Authorization`` header carries ``Bearer <expected>``."""
    scheme, _, token = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), expected.encode())


class ApiTokenGate:
    """ASGI middleware: answer 401 unless the request carries ``Bearer <API_TOKEN>``."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.open_paths = frozenset((*OPEN_PATHS, settings.bot_webhook_path))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the token, then hand the request on."""
        token = self.settings.api_token
        if scope["type"] != "http" or token is None or self._is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if bearer_matches(authorization, token.get_secret_value()):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": "Unauthorized", "detail": "missing or wrong bearer token"})
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b"Bearer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})

    def _is_open(self, path: str) -> bool:
        return path.startswith(OPEN_PREFIX) or path in self.open_paths
