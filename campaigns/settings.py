"""Where campaigns send from: SMTP server, SMS gateway and unsubscribe endpoint settings, read
from environment variables (the configuration a deployment sets; secrets never live in YAML)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from semantic.errors import StrataError


@dataclass(frozen=True)
class SendSettings:
    """Everything a sender needs besides the campaign.

    >>> s = SendSettings.from_env({"STRATA_SMTP_HOST": "mx", "STRATA_SENDER": "ep@u.example"})
    >>> s.smtp_host, s.smtp_port, s.sender_domain, s.connections
    ('mx', 25, 'u.example', 4)
    """

    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: str = "none"  # none | starttls | tls
    sender: str = "campaigns@localhost"
    connections: int = 4  # SMTP connections (or concurrent SMS requests) per sender
    batch_size: int = 100  # rows claimed per transaction: the most a crash can resend
    max_attempts: int = 5  # 4xx retries before a row is failed
    retry_base_s: float = 30.0  # first backoff; doubles per attempt
    timeout_s: float = 30.0
    lease_s: float = 60.0  # campaign lock lease; renewed every batch
    unsubscribe_url: str | None = None  # e.g. https://utility.example/u
    unsubscribe_secret: str | None = None  # also signs open and click tracking links
    tracking_url: str | None = None  # e.g. https://utility.example (default: unsubscribe's)
    sms_url: str | None = None
    sms_auth: str | None = None  # the Authorization header's value
    sms_sender: str = "Strata"

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2].strip(">") or "localhost"

    @property
    def tracking_base(self) -> str | None:
        """Where tracked links and the open pixel point: `tracking_url`, or the server that
        answers `unsubscribe_url` (…/u), since one `strata unsubscribe-server` serves both.

        >>> SendSettings(unsubscribe_url="https://u.example/u").tracking_base
        'https://u.example'
        """
        if self.tracking_url:
            return self.tracking_url.rstrip("/")
        if self.unsubscribe_url and self.unsubscribe_url.rstrip("/").endswith("/u"):
            return self.unsubscribe_url.rstrip("/")[: -len("/u")]
        return None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SendSettings:
        env = os.environ if env is None else env
        values: dict = {}
        for name, kind in _FIELDS.items():
            raw = env.get(f"STRATA_{name.upper()}")
            if raw is None or raw == "":
                continue
            try:
                values[name] = kind(raw)
            except ValueError:
                raise StrataError(
                    f"STRATA_{name.upper()}={raw!r} is not a valid {kind.__name__}"
                ) from None
        settings = cls(**values)
        if settings.smtp_tls not in ("none", "starttls", "tls"):
            raise StrataError(
                f"STRATA_SMTP_TLS={settings.smtp_tls!r}\n  hint: one of none, starttls, tls"
            )
        return settings


_FIELDS = {
    "smtp_host": str,
    "smtp_port": int,
    "smtp_user": str,
    "smtp_password": str,
    "smtp_tls": str,
    "sender": str,
    "connections": int,
    "batch_size": int,
    "max_attempts": int,
    "retry_base_s": float,
    "timeout_s": float,
    "lease_s": float,
    "unsubscribe_url": str,
    "unsubscribe_secret": str,
    "tracking_url": str,
    "sms_url": str,
    "sms_auth": str,
    "sms_sender": str,
}
