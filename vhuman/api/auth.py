"""Tokens for the routes that steer.

Strength rules, the per-connection check, and one throttle on failed attempts shared by
every connection and route:

- A token shorter than :data:`MIN_TOKEN_CHARS` is refused where it is configured.
- :class:`Authenticator` checks the token a connection offers (constant-time compare);
  three wrong tokens close that connection.
- :class:`AuthThrottle` is shared by ``/control`` and ``/chat``: it allows a burst of
  failures, then about one failure a second across all connections. While it is empty,
  every token offered is refused with ``auth_throttled`` *without being compared*, so
  guessing costs wall-clock time however many connections an attacker opens.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from typing import Any

from vhuman.core.errors import ConfigError

MIN_TOKEN_CHARS = 16
MAX_AUTH_FAILURES = 3


def check_token(token: str | None, what: str = "control token") -> str:
    """Return ``token`` when it is strong enough.

    Raises:
        ConfigError: empty, or shorter than :data:`MIN_TOKEN_CHARS` characters.
    """
    if not token:
        raise ConfigError(f"a {what} is required; generate one with "
                          "python -c 'import secrets; print(secrets.token_urlsafe(24))'")
    if not isinstance(token, str) or len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(f"the {what} is too short ({len(token)} characters); use at least "
                          f"{MIN_TOKEN_CHARS} random characters, e.g. secrets.token_urlsafe(24)")
    return token


class AuthThrottle:
    """A token bucket of failed authentications, shared by every connection.

    Args:
        burst: failures allowed at once.
        per_s: failures allowed per second after the burst.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(self, burst: int = 10, per_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = float(burst)
        self.per_s = float(per_s)
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()
        self.refused = 0
        self.failures = 0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.per_s)
        self._last = now

    def allow(self) -> bool:
        """Whether a token may be compared now (False: refuse without comparing)."""
        with self._lock:
            self._refill()
            ok = self._tokens >= 1.0
            if not ok:
                self.refused += 1
            return ok

    def failed(self) -> None:
        """Record one wrong token."""
        with self._lock:
            self._refill()
            self._tokens = max(0.0, self._tokens - 1.0)
            self.failures += 1

    def wait_s(self) -> float:
        """Seconds until the next attempt will be compared."""
        with self._lock:
            self._refill()
            return max(0.0, (1.0 - self._tokens) / self.per_s)


def _error(mid: Any, code: str, message: str, detail: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    return {"id": mid, "ok": False,
            "error": {"code": code, "message": message, "detail": detail or {}}}


class Authenticator:
    """Token check for one connection; counts failures, consults the shared throttle.

    Args:
        token: the expected token (checked with :func:`check_token`).
        throttle: the process's :class:`AuthThrottle` (None: no global throttle).
        what: the token's name in messages.
    """

    def __init__(self, token: str, throttle: AuthThrottle | None = None, *,
                 what: str = "control token") -> None:
        self.token = check_token(token, what)
        self.throttle = throttle
        self.ok = False
        self.failures = 0
        self.throttled = False

    def offer(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """Check ``data`` (a decoded request); return an error reply, or None when ok."""
        mid = data.get("id")
        tok = data.get("token")
        if tok is None:
            return _error(mid, "auth_required", "send {\"op\": \"auth\", \"token\": ...} first")
        if self.throttle is not None and not self.throttle.allow():
            self.throttled = True
            return _error(mid, "auth_throttled", "too many wrong tokens on this server; "
                          "try again in a few seconds",
                          {"retry_after_s": round(self.throttle.wait_s(), 1)})
        if not isinstance(tok, str) or not hmac.compare_digest(
                tok.encode("utf-8", "surrogatepass"), self.token.encode("utf-8")):
            self.failures += 1
            if self.throttle is not None:
                self.throttle.failed()
            return _error(mid, "auth_failed", "wrong token",
                          {"attempts_left": max(0, MAX_AUTH_FAILURES - self.failures)})
        self.ok = True
        return None

    @property
    def locked_out(self) -> bool:
        """Close the connection: three wrong tokens, or refused by the throttle."""
        return self.failures >= MAX_AUTH_FAILURES or self.throttled
