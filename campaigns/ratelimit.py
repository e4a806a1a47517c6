"""Rate limits per second (a token bucket) and per hour (a sliding window), on an injected
clock so tests never sleep."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    """How long to wait before the next message; call `take(now)` for each one sent.

    >>> r = RateLimiter(per_second=2)
    >>> [r.take(0.0), r.take(0.0), r.take(0.0)]
    [0.0, 0.0, 0.5]
    >>> h = RateLimiter(per_hour=2)
    >>> [h.take(0.0), h.take(10.0), h.take(20.0), h.take(20.0)]
    [0.0, 0.0, 3580.0, 3590.0]
    """

    per_second: float | None = None
    per_hour: int | None = None
    _tokens: float = field(default=0.0, init=False)
    _last: float | None = field(default=None, init=False)
    _window: collections.deque = field(default_factory=collections.deque, init=False)

    def wait(self, now: float) -> float:
        """How long until a message could start, without reserving one.

        >>> r = RateLimiter(per_hour=1)
        >>> r.wait(0.0), r.take(0.0), r.wait(10.0)
        (0.0, 0.0, 3590.0)
        """
        start = now
        if self.per_second and self._last is not None:
            tokens = min(
                max(1.0, self.per_second), self._tokens + (now - self._last) * self.per_second
            )
            if tokens < 1:
                start = now + (1 - tokens) / self.per_second
        if self.per_hour and self._window:
            start = max(start, self._window[-1])
            if len(self._window) >= self.per_hour:
                start = max(start, self._window[-self.per_hour] + 3600)
        return start - now

    def room(self, now: float) -> int | None:
        """How many more messages the hourly window takes at `now` (None: no hourly limit).

        >>> r = RateLimiter(per_hour=3)
        >>> _ = r.take(0.0); r.room(1.0), r.room(3601.0)
        (2, 3)
        """
        if not self.per_hour:
            return None
        return max(0, self.per_hour - sum(1 for t in self._window if t > now - 3600))

    def take(self, now: float) -> float:
        """Reserve one message at `now` (seconds); returns how long the caller must wait."""
        start = now
        if self.per_second:
            capacity = max(1.0, self.per_second)
            if self._last is None:
                self._tokens = capacity
            else:
                self._tokens = min(capacity, self._tokens + (now - self._last) * self.per_second)
            self._last = now
            self._tokens -= 1
            if self._tokens < 0:
                start = now + (-self._tokens) / self.per_second
        if self.per_hour:
            # Reservations are handed out in time order (never before the last one), so the
            # per_hour-th latest decides the next start and old ones can be dropped safely.
            if self._window:
                start = max(start, self._window[-1])
            if len(self._window) >= self.per_hour:
                start = max(start, self._window[-self.per_hour] + 3600)
            while self._window and self._window[0] <= start - 3600:
                self._window.popleft()
            self._window.append(start)
        return start - now
