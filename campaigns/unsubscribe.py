"""RFC 8058 one-click unsubscribe over HTTP (Starlette). A mail client POSTs
`List-Unsubscribe=One-Click` to the link and the address is suppressed for every later
campaign, with no second click. A GET (a person following the link, or a link scanner)
only shows a button: scanners must not unsubscribe anyone."""

from __future__ import annotations

from html import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route

from campaigns.settings import SendSettings
from campaigns.suppression import suppress
from campaigns.tokens import BadToken, verify
from store.connect import Store


def unsubscribe_app(store: Store | None = None, secret: str | None = None) -> Starlette:
    """The endpoint: POST /u/{token} unsubscribes, GET /u/{token} shows a confirm button.

    >>> unsubscribe_app(secret="s").routes[0].path
    '/u/{token}'
    """
    secret = secret or SendSettings.from_env().unsubscribe_secret
    if not secret:
        from semantic.errors import StrataError

        raise StrataError("no unsubscribe secret\n  hint: set STRATA_UNSUBSCRIBE_SECRET")
    state: dict[str, Store] = {}

    def the_store() -> Store:
        if "store" not in state:
            from store import open_store

            state["store"] = store or open_store()
        return state["store"]

    async def page(request: Request):
        token = request.path_params["token"]
        try:
            what = verify(secret, token)
        except BadToken as e:
            return PlainTextResponse(str(e), status_code=400)
        if request.method == "GET":
            return HTMLResponse(
                f"<form method='post'><p>Unsubscribe {escape(what.address)}?</p>"
                "<input type='hidden' name='List-Unsubscribe' value='One-Click'>"
                "<button>Unsubscribe</button></form>"
            )
        suppress(the_store(), what.channel, what.address, "unsubscribed", what.campaign_id)
        return PlainTextResponse(f"{what.address} is unsubscribed")

    return Starlette(routes=[Route("/u/{token}", page, methods=["GET", "POST"])])
