"""Login limits per account and per client address, shared by every login path.

The authentication backend calls these, so the API login (and its seed aliases), the web
form and the admin login all count against the same budgets. A key (an account, or an
address) gets `*_FREE_FAILURES` failed passwords; after that each further failure locks it
for LOGIN_LOCKOUT_BASE_SECONDS, doubling per failure up to LOGIN_LOCKOUT_MAX_SECONDS. While
a key is locked its password is not even checked (a 429 with Retry-After), so a guesser gets
at most one try per lockout. Locks expire by themselves and the failure count is forgotten
LOGIN_FAILURE_WINDOW_SECONDS after the last failure, so nobody can lock a user out for
longer than the cap per failed attempt they make; a correct password clears the account's
count (not the address's: otherwise logging into one's own account would reset a guesser's
budget). An address the account has logged in from before (in the last KNOWN_ADDRESS_SECONDS)
is not held back by the account's lock, only by its own: someone guessing from elsewhere can
then keep the account locked for strangers but not for its owner's usual network.

Identifiers that match no account are counted too, under their normalised spelling, so a
lockout answers the same whether or not the account exists. Counters live in the default
cache (locmem or Redis); if the cache is down the limiter fails open with a warning."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions

from tutorhub.core.clientip import client_ip
from tutorhub.core.throttling import CACHE_ERRORS, warn_cache_down

PREFIX = "loginlimit"
KNOWN_ADDRESS_SECONDS = 30 * 24 * 3600


class LoginLocked(exceptions.Throttled):
    """Too many failed logins for this account or address; `wait` says for how long."""

    default_detail = "Too many failed login attempts."

    def __init__(self, wait: float):
        seconds = max(1, math.ceil(wait))
        super().__init__(wait=seconds, detail=f"Too many failed login attempts. Try again in {seconds} seconds.")


def _enabled() -> bool:
    return getattr(settings, "THROTTLING_ENABLED", True)


def lockout_seconds(failures: int, free: int) -> int:
    """How long the `failures`-th consecutive failure locks its key (0 while still free)."""
    over = failures - free
    if over <= 0:
        return 0
    cap = settings.LOGIN_LOCKOUT_MAX_SECONDS
    # min() before the power: 2**over must not grow without bound on a long attack.
    return min(cap, settings.LOGIN_LOCKOUT_BASE_SECONDS * 2 ** min(over - 1, 32))


@dataclass(frozen=True)
class _Key:
    name: str
    free: int

    @property
    def count(self) -> str:
        return f"{PREFIX}:n:{self.name}"

    @property
    def until(self) -> str:
        return f"{PREFIX}:until:{self.name}"


def account_key_name(*, identifier: str, user_pk: int | None) -> str:
    """One key per account, whichever of its names (username, email) is typed; an identifier
    with no account gets its own key (hashed: cache keys need no personal data)."""
    if user_pk is not None:
        return f"acct:{user_pk}"
    digest = hashlib.sha256(identifier.strip().casefold().encode()).hexdigest()[:32]
    return f"ident:{digest}"


class LoginAttempt:
    """One login attempt: `check()` before the password is verified, then `failed()` or
    `succeeded()`. `request` may be None (no address is counted then)."""

    def __init__(self, *, identifier: str, user_pk: int | None, request=None):
        self.account = _Key(account_key_name(identifier=identifier, user_pk=user_pk), settings.LOGIN_ACCOUNT_FREE_FAILURES)
        self.address = (
            _Key(f"addr:{client_ip(request)}", settings.LOGIN_ADDRESS_FREE_FAILURES) if request is not None else None
        )
        self.known = f"{PREFIX}:known:{self.account.name}:{self.address.name}" if self.address is not None else None

    @property
    def _keys(self) -> list[_Key]:
        return [self.account] if self.address is None else [self.account, self.address]

    def check(self) -> None:
        """Raise LoginLocked while the address is locked, or the account is and this address
        has not logged into it before."""
        if not _enabled():
            return
        try:
            found = cache.get_many([key.until for key in self._keys] + ([self.known] if self.known else []))
        except CACHE_ERRORS as exc:
            warn_cache_down("Login limiting", exc)
            return
        locks = [found.get(self.address.until, 0)] if self.address is not None else []
        if not (self.known and found.get(self.known)):
            locks.append(found.get(self.account.until, 0))
        wait = max(locks) - time.time()
        if wait > 0:
            raise LoginLocked(wait)

    def failed(self) -> None:
        if not _enabled():
            return
        window = settings.LOGIN_FAILURE_WINDOW_SECONDS
        try:
            for key in self._keys:
                failures = self._increment(key.count, window)
                lock = lockout_seconds(failures, key.free)
                if lock:
                    cache.set(key.until, time.time() + lock, timeout=lock)
        except CACHE_ERRORS as exc:
            warn_cache_down("Login limiting", exc)

    def succeeded(self) -> None:
        if not _enabled():
            return
        try:
            cache.delete_many([self.account.count, self.account.until])
            if self.known:
                cache.set(self.known, 1, timeout=KNOWN_ADDRESS_SECONDS)
        except CACHE_ERRORS as exc:
            warn_cache_down("Login limiting", exc)

    @staticmethod
    def _increment(key: str, window: int) -> int:
        # add + incr is atomic on both locmem and Redis, so concurrent failures all count.
        cache.add(key, 0, timeout=window)
        try:
            failures = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            return 1
        cache.touch(key, window)  # the window runs from the latest failure
        return failures
