"""Signed unsubscribe tokens: the channel, address and campaign, with an HMAC, so that the
unsubscribe endpoint needs no lookup and a forged or edited token is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from semantic.errors import StrataError


@dataclass(frozen=True)
class Unsubscribe:
    channel: str
    address: str
    campaign_id: int


class BadToken(StrataError):
    """The token was not signed with this secret, or was cut or edited."""


def sign(secret: str, what: Unsubscribe) -> str:
    """A URL-safe token for `what`.

    >>> token = sign("s3cret", Unsubscribe("email", "ana@x.ba", 7))
    >>> verify("s3cret", token)
    Unsubscribe(channel='email', address='ana@x.ba', campaign_id=7)
    >>> verify("other", token)
    Traceback (most recent call last):
    campaigns.tokens.BadToken: this unsubscribe link is not valid
    """
    payload = _b64(json.dumps([what.channel, what.address, what.campaign_id]).encode())
    return f"{payload}.{_mac(secret, payload)}"


def verify(secret: str, token: str) -> Unsubscribe:
    """The request a token carries, if its signature holds."""
    payload, _, mac = token.partition(".")
    if not payload or not hmac.compare_digest(mac, _mac(secret, payload)):
        raise BadToken("this unsubscribe link is not valid")
    channel, address, campaign_id = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return Unsubscribe(channel, address, int(campaign_id))


def _mac(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return _b64(digest[:20])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
