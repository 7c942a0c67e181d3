"""Email address validation and normalisation."""

import re
import unicodedata

from .exceptions import InvalidEmail

MAX_EMAIL_LENGTH = 254

# One mailbox, no display name, no list, no quoted or bracketed parts.
_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}"
    r"@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,63}",
)


def normalize_email(value: str) -> str:
    """The canonical form of one email address, or :class:`InvalidEmail`.

    Surrounding whitespace is dropped and the address is lower-cased, so
    ``Ann@Example.COM`` and ``ann@example.com`` are the same account.
    Lists (``a@x.com,b@y.com``), display names (``"a" <b@y.com>``) and
    internationalised domains in Unicode form are refused.
    """
    email = unicodedata.normalize("NFKC", value).strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not _ADDRESS.fullmatch(email):
        raise InvalidEmail
    local = email.partition("@")[0]
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidEmail
    return email
