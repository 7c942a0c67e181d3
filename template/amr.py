"""Authentication Method Reference values (RFC 8176)."""

from collections.abc import Iterable
from enum import StrEnum

MFA_FACTOR_COUNT = 2


class AMR(StrEnum):
    """The RFC 8176 values this package emits."""

    PASSWORD = "pwd"
    ONE_TIME_PASSWORD = "otp"
    MULTI_FACTOR = "mfa"


def combine(methods: Iterable[str], factor_count: int) -> tuple[str, ...]:
    """Sorted, de-duplicated methods, with ``mfa`` for two or more factors.

    ``factor_count`` is the number of distinct factor types that passed in
    one sign-in; RFC 8176 ``mfa`` is only claimed when it is at least two.
    """
    values = set(methods)
    values.discard(AMR.MULTI_FACTOR)
    if factor_count >= MFA_FACTOR_COUNT:
        values.add(AMR.MULTI_FACTOR)
    return tuple(sorted(values))
