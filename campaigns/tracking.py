"""Open and click tracking in a rendered HTML body: every web link (`<a href="http…">`) becomes
a signed click URL carrying the link's number, and a 1×1 pixel carrying the member is added.

Pure text in, text out, applied to each member's rendered HTML before it is written as MIME.
The click URL never holds the target: the endpoint renders the member's HTML again and takes
the link with that number (`links`), so the server cannot be used as an open redirect.
"""

from __future__ import annotations

import html
import re

from campaigns.settings import SendSettings
from campaigns.tokens import tracked_signer
from semantic.errors import StrataError

# An <a> tag's href, quoted either way or bare. A regex, not a parser: it keeps every other
# byte of the HTML as it was, and `links` reads the same matches, so numbering always agrees.
_HREF = re.compile(
    r"""(<a\b[^>]*?\bhref\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""",
    re.IGNORECASE,
)
_WEB = re.compile(r"https?://", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def links(rendered_html: str) -> tuple[str, ...]:
    """The web links of a rendered HTML body, in order; link number n is `links(...)[n - 1]`.

    >>> links('<a href="https://x.ba/?a=1&amp;b=2">x</a> <a href="mailto:a@x.ba">m</a>')
    ('https://x.ba/?a=1&b=2',)
    """
    return tuple(url for url in (_url(m) for m in _HREF.finditer(rendered_html)) if _is_web(url))


def track_html(
    rendered_html: str, *, base_url: str, secret: str, campaign_id: int, member_key: str
) -> str:
    """`rendered_html` with its web links sent through `base_url`/c/TOKEN and an open pixel
    `base_url`/o/TOKEN before `</body>` (or at the end).

    >>> out = track_html('<a href="https://x.ba/">x</a>', base_url="https://t.ba", secret="s",
    ...                  campaign_id=7, member_key="1")
    >>> out.startswith('<a href="https://t.ba/c/') and 'src="https://t.ba/o/' in out
    True
    """
    base = base_url.rstrip("/")
    sign = tracked_signer(secret, campaign_id, member_key)
    number = 0

    def rewrite(match: re.Match[str]) -> str:
        nonlocal number
        url = _url(match)
        if not _is_web(url):
            return match.group(0)
        number += 1
        return f'{match.group(1)}"{base}/c/{sign(number)}"'

    tracked = _HREF.sub(rewrite, rendered_html)
    pixel = (
        f'<img src="{base}/o/{sign(0)}" width="1" height="1" alt="" '
        'style="border:0;width:1px;height:1px">'
    )
    ends = list(_BODY_END.finditer(tracked))
    if not ends:
        return tracked + pixel
    at = ends[-1].start()
    return tracked[:at] + pixel + tracked[at:]


def _url(match: re.Match[str]) -> str:
    _, double, single, bare = match.groups()
    raw = double if double is not None else single if single is not None else bare
    # Jinja's autoescape writes & as &amp; inside attributes; the browser would undo it.
    return html.unescape(raw).strip()


def _is_web(url: str) -> bool:
    return bool(_WEB.match(url))


def tracking_ready(settings: SendSettings) -> None:
    """Refuse to send a tracked campaign without the endpoint its links need.

    >>> tracking_ready(SendSettings(unsubscribe_url="https://u.ba/u", unsubscribe_secret="s"))
    >>> tracking_ready(SendSettings())
    Traceback (most recent call last):
    semantic.errors.StrataError: tracked links need the tracking endpoint's address and secret
      hint: set STRATA_UNSUBSCRIBE_SECRET and STRATA_TRACKING_URL (or STRATA_UNSUBSCRIBE_URL)
    """
    if not (settings.tracking_base and settings.unsubscribe_secret):
        raise StrataError(
            "tracked links need the tracking endpoint's address and secret\n"
            "  hint: set STRATA_UNSUBSCRIBE_SECRET and STRATA_TRACKING_URL (or "
            "STRATA_UNSUBSCRIBE_URL)"
        )
