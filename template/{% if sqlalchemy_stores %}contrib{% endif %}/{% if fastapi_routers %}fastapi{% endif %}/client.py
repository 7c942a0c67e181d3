"""What the request says about the client: address and user agent."""

from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import Request

from ... import client_ip as addresses

MAX_USER_AGENT_LENGTH = 512


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Who is asking, as far as the request tells."""

    ip: str | None
    user_agent: str | None


def client_ip(
    request: Request,
    trusted_proxies: Iterable[addresses.IPNetwork] = (),
) -> str | None:
    """The client's IP address, for throttling, sessions and audit.

    The connection's peer, unless that peer is one of ``trusted_proxies``
    (``AUTH_TRUSTED_PROXIES``): then the address the proxies recorded in
    ``X-Forwarded-For``. A header sent by anyone else is ignored.
    """
    peer = request.client.host if request.client else None
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    return addresses.client_ip(peer, forwarded or None, trusted_proxies)


def user_agent(request: Request) -> str | None:
    """The ``User-Agent`` header, printable and cut to a sane length."""
    value = request.headers.get("user-agent")
    if not value:
        return None
    printable = "".join(char for char in value if char.isprintable())
    return printable[:MAX_USER_AGENT_LENGTH] or None
