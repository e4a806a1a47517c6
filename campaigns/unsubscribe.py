"""RFC 8058 one-click unsubscribe over HTTP (Starlette). A mail client POSTs
`List-Unsubscribe=One-Click` to the link and the address is suppressed for every later
campaign, with no second click. A GET (a person following the link, or a link scanner)
only shows a button: scanners must not unsubscribe anyone.

The same server answers open and click tracking (`campaigns.tracking`): GET /o/{token} records
an open and returns a 1×1 GIF, GET /c/{token} records a click and redirects (303) to the link
the campaign's own template has under that number. A token that is forged gets 400, one that
names no tracked message 404, and neither records anything."""

from __future__ import annotations

from html import escape

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from campaigns.events import NotTracked, record_event
from campaigns.settings import SendSettings
from campaigns.suppression import suppress
from campaigns.tokens import BadToken, verify, verify_tracked
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

    async def tracked(request: Request):
        try:
            what = verify_tracked(secret, request.path_params["token"])
        except BadToken as e:
            return PlainTextResponse(str(e), status_code=400)
        opening = request.url.path.startswith("/o/")
        if opening != (what.kind == "open"):
            return PlainTextResponse("this link is not valid", status_code=400)
        try:
            # A plain function: Starlette runs it in a thread, off the event loop.
            url = await run_in_threadpool(record_event, the_store(), what)
        except NotTracked as e:
            return PlainTextResponse(str(e).partition("\n")[0], status_code=404)
        if opening:
            return Response(_PIXEL, media_type="image/gif", headers=_NO_STORE)
        return RedirectResponse(url, status_code=303, headers=_NO_STORE)

    return Starlette(
        routes=[
            Route("/u/{token}", page, methods=["GET", "POST"]),
            Route("/o/{token}", tracked, methods=["GET"]),
            Route("/c/{token}", tracked, methods=["GET"]),
        ]
    )


# The smallest transparent GIF (1×1), and headers that make a client fetch it (and the
# redirect) each time rather than from a cache, so a repeated open still reaches us.
_PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
_NO_STORE = {"Cache-Control": "no-store, max-age=0"}
