"""Security events: sign-ins, credential changes, revoked sessions.

:class:`AuditTrail` stores each event in an :class:`AuditLog`, logs it,
then hands it to every subscriber (forwarding to a SIEM, sending a
security notification). A failing subscriber is logged and skipped: the
event is stored and the user's request carries on.

Details are a few short values, never a secret: keys naming a password,
token, code, key or secret are refused outright.
"""

import logging
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from .clock import Clock
from .crypto import TokenHasher
from .identity import IdentityId

logger = logging.getLogger(__name__)

MAX_DETAILS = 16
MAX_DETAIL_KEY_LENGTH = 40
MAX_DETAIL_VALUE_LENGTH = 200
SECRET_WORDS = frozenset(
    {
        "code",
        "cookie",
        "credential",
        "hash",
        "key",
        "otp",
        "passcode",
        "password",
        "secret",
        "token",
    },
)

type DetailValue = str | int | bool | None


class AuditEventType(StrEnum):
    """What happened.

    Every type exists whatever the features, so events stored before a
    feature was turned off still read back.
    """

    ACCOUNT_CREATED = "account_created"
    SIGN_IN_SUCCEEDED = "sign_in_succeeded"
    SIGN_IN_FAILED = "sign_in_failed"
    NEW_DEVICE = "new_device"
    SIGNED_OUT = "signed_out"
    REAUTHENTICATED = "reauthenticated"
    RATE_LIMITED = "rate_limited"
    MFA_ENROLLED = "mfa_enrolled"
    MFA_REMOVED = "mfa_removed"
    BACKUP_CODES_REGENERATED = "backup_codes_regenerated"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET_REQUESTED = "password_reset_requested"
    PASSWORD_RESET_COMPLETED = "password_reset_completed"
    EMAIL_VERIFIED = "email_verified"
    EMAIL_CHANGED = "email_changed"
    PROVIDER_LINKED = "provider_linked"
    PROVIDER_UNLINKED = "provider_unlinked"
    SESSION_REVOKED = "session_revoked"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One security event. ``device`` is a keyed hash, not a user agent."""

    id: str
    type: AuditEventType
    identity_id: IdentityId | None
    occurred_at: datetime
    ip: str | None = None
    user_agent: str | None = None
    device: str | None = None
    details: dict[str, DetailValue] = field(default_factory=dict)


type AuditHook = Callable[[AuditEvent], Awaitable[None]]


class AuditLog(ABC):
    """Persistence of audit events."""

    @abstractmethod
    async def record(self, event: AuditEvent) -> None:
        """Store an event."""

    @abstractmethod
    async def list_for_identity(
        self,
        identity_id: IdentityId,
        limit: int,
    ) -> list[AuditEvent]:
        """The identity's latest events, newest first."""

    @abstractmethod
    async def known_devices(self, identity_id: IdentityId) -> frozenset[str]:
        """The devices the identity has signed in from before."""

    @abstractmethod
    async def purge(self, before: datetime) -> int:
        """Delete events older than ``before``; how many."""


class AuditTrail:
    """Records security events and tells subscribers about them."""

    def __init__(
        self,
        log: AuditLog,
        hasher: TokenHasher,
        clock: Clock,
        hooks: Iterable[AuditHook] = (),
    ) -> None:
        self._log = log
        self._hasher = hasher
        self._clock = clock
        self._hooks = list(hooks)

    def subscribe(self, hook: AuditHook) -> None:
        """Call ``hook`` with every event after it is stored."""
        self._hooks.append(hook)

    def device(self, user_agent: str | None) -> str | None:
        """A keyed hash of the browser and system, without versions.

        Browser updates change version numbers, not the device; a new
        browser or operating system counts as a new device.
        """
        if not user_agent:
            return None
        family = re.sub(r"[\d._]+", "", user_agent).strip()
        return self._hasher.hash(f"device:{family}")

    async def record(
        self,
        event_type: AuditEventType,
        *,
        identity_id: IdentityId | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
        details: Mapping[str, DetailValue] | None = None,
    ) -> AuditEvent:
        """Store, log and publish one event."""
        event = AuditEvent(
            id=secrets.token_hex(16),
            type=event_type,
            identity_id=identity_id,
            occurred_at=self._clock.now(),
            ip=ip,
            user_agent=user_agent,
            device=self.device(user_agent),
            details=checked_details(details or {}),
        )
        await self._log.record(event)
        logger.info(
            "auth event %s identity=%s ip=%s details=%s",
            event.type,
            event.identity_id,
            event.ip,
            event.details,
        )
        for hook in self._hooks:
            try:
                await hook(event)
            except Exception:
                logger.exception(
                    "audit hook %r failed on event %s (%s)",
                    hook,
                    event.id,
                    event.type,
                )
        return event

    async def signed_in(
        self,
        identity_id: IdentityId,
        *,
        ip: str | None = None,
        user_agent: str | None = None,
        details: Mapping[str, DetailValue] | None = None,
    ) -> AuditEvent:
        """Record a successful sign-in, and a new device if it is one.

        A device is new when the identity signed in before, never from
        it. The first sign-in of an account is not a new device.
        """
        device = self.device(user_agent)
        known = await self._log.known_devices(identity_id)
        event = await self.record(
            AuditEventType.SIGN_IN_SUCCEEDED,
            identity_id=identity_id,
            ip=ip,
            user_agent=user_agent,
            details=details,
        )
        if device is not None and known and device not in known:
            await self.record(
                AuditEventType.NEW_DEVICE,
                identity_id=identity_id,
                ip=ip,
                user_agent=user_agent,
            )
        return event

    async def list(
        self,
        identity_id: IdentityId,
        limit: int = 50,
    ) -> list[AuditEvent]:
        """The identity's latest events, newest first."""
        return await self._log.list_for_identity(identity_id, limit)

    async def purge(self, before: datetime) -> int:
        """Delete events older than ``before`` (a retention period)."""
        return await self._log.purge(before)


def checked_details(
    details: Mapping[str, DetailValue],
) -> dict[str, DetailValue]:
    """A copy of ``details``, or ``ValueError`` if it could hold secrets.

    Keys are short identifiers; none may name a secret (``code``,
    ``password_hash``, ``reset_token``...): say ``reason`` or ``factor``
    instead. Values are short scalars.
    """
    if len(details) > MAX_DETAILS:
        raise ValueError(f"at most {MAX_DETAILS} details")
    for key, value in details.items():
        words = set(re.split(r"[^a-z0-9]+", key.lower()))
        if not key.isidentifier() or len(key) > MAX_DETAIL_KEY_LENGTH:
            raise ValueError(f"detail keys are short identifiers: {key!r}")
        if words & SECRET_WORDS:
            raise ValueError(f"detail {key!r} names a secret")
        if not isinstance(value, str | int | bool | None):
            raise ValueError(f"detail {key!r} is not a scalar")  # noqa: TRY004
        if isinstance(value, str) and len(value) > MAX_DETAIL_VALUE_LENGTH:
            raise ValueError(f"detail {key!r} is too long")
    return dict(details)
