"""Throttling: fixed-window counters in the database, one per key.

A limit counts hits on a key (an account, an IP, an email address) in a
window that starts at the key's first hit and lasts ``window``. The
store counts a hit in one atomic statement, so limits hold across
workers and hosts that share the database. Keys are HMAC-hashed first:
the table never holds an email address or an IP.

Every attempt counts the moment it starts, before any password or code
is checked; a success then takes its hit back or clears the count,
depending on what the limit counts. Counting first means a burst of
parallel guesses cannot slip past a limit while the first ones are
still being checked.
"""

import ipaddress
import math
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .clock import Clock
from .crypto import TokenHasher
from .exceptions import RateLimited

IPV6_PREFIX = 64  # one IPv6 client usually holds a whole /64


class Counting(StrEnum):
    """What a limit counts, which is what a success does to it."""

    ATTEMPTS = "attempts"
    """Every attempt counts, successful or not (sending, registering)."""
    FAILURES = "failures"
    """A success takes back its own hit; earlier failures stay counted."""
    CONSECUTIVE_FAILURES = "consecutive_failures"
    """A success clears the count (NIST SP 800-63B §3.2.2)."""


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``max_hits`` on one key per ``window``."""

    name: str
    max_hits: int
    window: timedelta
    counting: Counting = Counting.ATTEMPTS


type Keyed = tuple[Limit, str]
"""A limit and the key it applies to, e.g. ``(policy.sends_per_ip, ip)``."""


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """Every limit, in one place; edit the numbers here.

    ``account`` keys are what the user typed (an email address) or an
    identity id; ``ip`` keys are client addresses (IPv6 by /64). Only
    the per-account limits can be run down by someone else from many
    addresses, so they count consecutive failures only, are cleared by a
    success or a password reset, and end with their window: the worst an
    attacker can do is keep one factor of one account shut for a day,
    while the account's other ways in (and its reset) stay open.
    """

    # Guessing one password from one address: 10 tries per 15 minutes,
    # the attacker's address is stopped long before the account is.
    sign_in_failures_per_account_ip: Limit = Limit(
        "sign_in:account+ip",
        10,
        timedelta(minutes=15),
        Counting.CONSECUTIVE_FAILURES,
    )
    # Credential stuffing from one address across many accounts; roomy
    # enough for an office or a carrier NAT signing in normally.
    sign_in_failures_per_ip: Limit = Limit(
        "sign_in:ip",
        100,
        timedelta(minutes=15),
        Counting.FAILURES,
    )
    # NIST SP 800-63B §3.2.2: at most 100 consecutive failures per
    # account, whatever the number of addresses guessing.
    sign_in_failures_per_account: Limit = Limit(
        "sign_in:account",
        100,
        timedelta(hours=24),
        Counting.CONSECUTIVE_FAILURES,
    )
    # The same three for one-time codes (email, TOTP, HOTP, backup):
    # a 6-digit code has a million values, a TOTP window three of them.
    code_failures_per_account_ip: Limit = Limit(
        "code:account+ip",
        10,
        timedelta(minutes=15),
        Counting.CONSECUTIVE_FAILURES,
    )
    code_failures_per_ip: Limit = Limit(
        "code:ip",
        50,
        timedelta(minutes=15),
        Counting.FAILURES,
    )
    code_failures_per_account: Limit = Limit(
        "code:account",
        100,
        timedelta(hours=24),
        Counting.CONSECUTIVE_FAILURES,
    )
    # Emails sent (codes, links): a resend or two for the user, no mail
    # bombing of an address, no spam relay from one address.
    sends_per_email_ip: Limit = Limit(
        "send:email+ip",
        5,
        timedelta(minutes=15),
    )
    sends_per_email: Limit = Limit(
        "send:email",
        10,
        timedelta(hours=1),
    )
    sends_per_ip: Limit = Limit(
        "send:ip",
        30,
        timedelta(hours=1),
    )
    # Account creation from one address: a household or a classroom.
    registrations_per_ip: Limit = Limit(
        "register:ip",
        10,
        timedelta(hours=1),
    )
    # Reset emails: a few per address; per IP against enumeration sweeps.
    resets_per_email: Limit = Limit(
        "reset:email",
        5,
        timedelta(hours=1),
    )
    resets_per_ip: Limit = Limit(
        "reset:ip",
        20,
        timedelta(hours=1),
    )

    def sign_in(self, account: str, ip: str | None) -> list[Keyed]:
        """A password (or other first-factor secret) is being checked."""
        return _keyed(
            account,
            ip,
            per_account=self.sign_in_failures_per_account,
            per_account_ip=self.sign_in_failures_per_account_ip,
            per_ip=self.sign_in_failures_per_ip,
        )

    def verify_code(self, account: str, ip: str | None) -> list[Keyed]:
        """A one-time code (email, TOTP, HOTP, backup) is being checked."""
        return _keyed(
            account,
            ip,
            per_account=self.code_failures_per_account,
            per_account_ip=self.code_failures_per_account_ip,
            per_ip=self.code_failures_per_ip,
        )

    def send_email(self, email: str, ip: str | None) -> list[Keyed]:
        """A code or link is about to be emailed to ``email``."""
        return _keyed(
            email,
            ip,
            per_account=self.sends_per_email,
            per_account_ip=self.sends_per_email_ip,
            per_ip=self.sends_per_ip,
        )

    def register(self, ip: str | None) -> list[Keyed]:
        """An account is about to be created."""
        return _keyed(None, ip, per_ip=self.registrations_per_ip)

    def request_password_reset(
        self,
        email: str,
        ip: str | None,
    ) -> list[Keyed]:
        """A password reset is about to be emailed to ``email``."""
        return _keyed(
            email,
            ip,
            per_account=self.resets_per_email,
            per_ip=self.resets_per_ip,
        )

    def account_recovered(self, *accounts: str) -> list[Keyed]:
        """What to clear after a password reset: per-account failures.

        Pass every account key the routes use for the account: its email
        address and, where codes are checked by identity, its id.
        """
        return [
            (limit, account_key(account))
            for account in accounts
            for limit in (
                self.sign_in_failures_per_account,
                self.code_failures_per_account,
            )
        ]


@dataclass(frozen=True, slots=True)
class Window:
    """A key's count in its current window."""

    count: int
    started_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Hit:
    """One counted attempt, kept to settle it after the outcome."""

    limit: Limit
    key_hash: str
    window: Window


class ThrottleStore(ABC):
    """Persistence of counters, keyed by a hash of limit and key."""

    @abstractmethod
    async def hit(
        self,
        key_hash: str,
        now: datetime,
        window: timedelta,
    ) -> Window:
        """Count one hit, atomically; an ended window restarts at ``now``."""

    @abstractmethod
    async def take_back(self, key_hash: str, started_at: datetime) -> None:
        """Undo one hit, if the window started at ``started_at`` is current."""

    @abstractmethod
    async def reset(self, key_hash: str) -> None:
        """Forget the key's count."""

    @abstractmethod
    async def purge(self, now: datetime) -> int:
        """Delete the counters whose window ended; how many."""


class Throttle:
    """Checks attempts against limits and settles them afterwards.

    A route guards its work with one call::

        async with throttle.attempt(throttle.policy.sign_in(email, ip)):
            ...  # check the password

    Leaving the block normally is a success; an exception leaves the
    attempt counted as a failure.
    """

    def __init__(
        self,
        store: ThrottleStore,
        hasher: TokenHasher,
        clock: Clock,
        policy: ThrottlePolicy | None = None,
        *,
        enabled: bool = True,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self.policy = policy or ThrottlePolicy()
        self.enabled = enabled

    def key_hash(self, limit: Limit, key: str) -> str:
        """What the store sees instead of ``key``: a keyed hash."""
        return self._hasher.hash(f"throttle:{limit.name}:{key}")

    async def check(self, limits: Iterable[Keyed]) -> list[Hit]:
        """Count an attempt on every limit; :class:`RateLimited` if over.

        ``retry_after`` is the wait until every exceeded limit has a
        fresh window.
        """
        if not self.enabled:
            return []
        now = self._clock.now()
        hits: list[Hit] = []
        for limit, key in limits:
            key_hash = self.key_hash(limit, key)
            window = await self._store.hit(key_hash, now, limit.window)
            hits.append(Hit(limit, key_hash, window))
        waits = [
            hit.window.ends_at - now
            for hit in hits
            if hit.window.count > hit.limit.max_hits
        ]
        if waits:
            raise RateLimited(math.ceil(max(waits).total_seconds()))
        return hits

    async def succeeded(self, hits: Iterable[Hit]) -> None:
        """Settle successful attempts: take back or clear failure counts."""
        for hit in hits:
            if hit.limit.counting is Counting.FAILURES:
                await self._store.take_back(
                    hit.key_hash,
                    hit.window.started_at,
                )
            elif hit.limit.counting is Counting.CONSECUTIVE_FAILURES:
                await self._store.reset(hit.key_hash)

    async def clear(self, limits: Iterable[Keyed]) -> None:
        """Forget the counts, e.g. ``policy.account_recovered(email)``."""
        if not self.enabled:
            return
        for limit, key in limits:
            await self._store.reset(self.key_hash(limit, key))

    @asynccontextmanager
    async def attempt(self, limits: Iterable[Keyed]) -> AsyncIterator[None]:
        """Check ``limits`` on entry; settle them as a success on exit."""
        hits = await self.check(limits)
        yield
        await self.succeeded(hits)

    async def purge(self) -> int:
        """Delete ended windows; run it now and then to keep the table lean."""
        return await self._store.purge(self._clock.now())


def ip_key(ip: str) -> str:
    """The key of an address: itself, or its /64 network for IPv6."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network(
            (int(address), IPV6_PREFIX),
            strict=False,
        )
        return str(network)
    return str(address)


def account_key(account: str) -> str:
    """The key of an account name: email addresses in any case are one."""
    return unicodedata.normalize("NFKC", account).strip().lower()


def _keyed(
    account: str | None,
    ip: str | None,
    *,
    per_account: Limit | None = None,
    per_account_ip: Limit | None = None,
    per_ip: Limit | None = None,
) -> list[Keyed]:
    """The limits that apply; limits on an unknown IP are skipped."""
    keyed: list[Keyed] = []
    account = None if account is None else account_key(account)
    ip = None if ip is None else ip_key(ip)
    if account is not None and per_account is not None:
        keyed.append((per_account, account))
    if account is not None and ip is not None and per_account_ip is not None:
        keyed.append((per_account_ip, f"{account}\n{ip}"))
    if ip is not None and per_ip is not None:
        keyed.append((per_ip, ip))
    return keyed
