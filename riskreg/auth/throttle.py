"""Login throttling: temporary lockout per account and per IP address.

Two moving windows count *failed* logins:

* per account (``LOGIN_ACCOUNT_LIMIT``, default 5 per 15 minutes): the 6th attempt within the
  window is refused, even with the right password, until the oldest failure is 15 minutes old.
  The key is the name typed, whether or not such an account exists, so a locked name looks the
  same for real and made-up usernames and the message reveals nothing. A successful login
  clears the account's failures; an administrator setting a new password does too.
* per IP address (``LOGIN_IP_LIMIT``, default 50 per 15 minutes): slows down guessing across
  many usernames from one address. It is generous because a whole hospital can sit behind one
  address; successful logins never count. Behind a proxy, set ``PROXY_FIX_X_FOR`` so the
  address is the client's (docs/deploy.md).

Settings keep Flask-Limiter's names: ``RATELIMIT_ENABLED``, ``RATELIMIT_STORAGE_URI``
(``memory://`` by default, ``redis://…`` in production so that every gunicorn worker shares the
counts) and ``RATELIMIT_KEY_PREFIX``. The counting uses `limits`, the library Flask-Limiter is
built on, directly rather than through a route decorator, because (a) a successful login must
*clear* the account's counter, which the decorator cannot do without rebuilding its private key
layout, and (b) the Flask-Limiter object is one global shared by every app in the process (its
``enabled`` flag and storage follow the last ``init_app``), while this state lives on each app.

If the storage is unreachable (Redis down), counting falls back to this process's memory and
the error is logged: people can still log in, and guessing is still slowed down.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any, cast

from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

EXTENSION_KEY = "riskreg.login_throttle"


@dataclass(frozen=True)
class Refusal:
    """Why a login attempt is not even tried, and for how long (seconds)."""

    reason: str  # "account" or "ip"
    retry_after: int

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


class LoginThrottle:
    def __init__(self, app: Flask) -> None:
        config = app.config
        self.enabled = bool(config.get("RATELIMIT_ENABLED", True))
        self.account_limit: RateLimitItem = parse(config["LOGIN_ACCOUNT_LIMIT"])
        self.ip_limit: RateLimitItem = parse(config["LOGIN_IP_LIMIT"])
        self.storage_uri = config.get("RATELIMIT_STORAGE_URI") or "memory://"
        self.prefix = config.get("RATELIMIT_KEY_PREFIX") or "riskreg"
        self._logger = app.logger
        self._strategy: MovingWindowRateLimiter | None = None
        self._fallback: MovingWindowRateLimiter | None = None

    # -- storage --------------------------------------------------------------------------

    def _limiter(self) -> MovingWindowRateLimiter:
        if self._strategy is None:
            # memory:// and redis:// name synchronous storages (the async ones are async+...).
            storage = cast(Storage, storage_from_string(self.storage_uri))
            self._strategy = MovingWindowRateLimiter(storage)
        return self._strategy

    def _memory(self) -> MovingWindowRateLimiter:
        if self._fallback is None:
            self._fallback = MovingWindowRateLimiter(MemoryStorage())
        return self._fallback

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._limiter(), method)(*args)
        except Exception as exc:  # storage down: count in memory rather than lock everyone out
            self._logger.error("Login throttle storage failed (%s); counting in memory.", exc)
            return getattr(self._memory(), method)(*args)

    # -- keys -----------------------------------------------------------------------------

    def _account_key(self, username: str) -> tuple[str, str, str]:
        from riskreg.auth.services import username_key

        # The same normalisation as the login itself: a padded or re-cased name is the
        # same account, so it is the same lock.
        name = username_key(username)
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
        return (self.prefix, "login-account", digest)

    def _ip_key(self, ip: str | None) -> tuple[str, str, str]:
        return (self.prefix, "login-ip", ip or "unknown")

    # -- API ------------------------------------------------------------------------------

    def refusal(self, username: str, ip: str | None) -> Refusal | None:
        """A Refusal when this attempt must not be tried at all."""
        if not self.enabled:
            return None
        for reason, item, key in (
            ("account", self.account_limit, self._account_key(username)),
            ("ip", self.ip_limit, self._ip_key(ip)),
        ):
            if not self._call("test", item, *key):
                reset_at, _remaining = self._call("get_window_stats", item, *key)
                return Refusal(reason, max(1, math.ceil(reset_at - time.time())))
        return None

    def failed(self, username: str, ip: str | None) -> bool:
        """Count a failed attempt. True when it used up the account's last attempt."""
        if not self.enabled:
            return False
        self._call("hit", self.ip_limit, *self._ip_key(ip))
        key = self._account_key(username)
        self._call("hit", self.account_limit, *key)
        return not self._call("test", self.account_limit, *key)

    def succeeded(self, username: str) -> None:
        """A successful login clears the account's failures (not the address's)."""
        self.clear_account(username)

    def clear_account(self, username: str) -> None:
        if self.enabled:
            self._call("clear", self.account_limit, *self._account_key(username))

    def remaining(self, username: str) -> int:
        """Attempts left before the account is locked (for tests and the admin page)."""
        if not self.enabled:
            return self.account_limit.amount
        _reset, left = self._call(
            "get_window_stats", self.account_limit, *self._account_key(username)
        )
        return int(left)


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = LoginThrottle(app)


def throttle() -> LoginThrottle:
    return current_app.extensions[EXTENSION_KEY]
