"""What the request says about the client: address and user agent."""

from fastapi import Request

MAX_USER_AGENT_LENGTH = 512


def client_ip(request: Request) -> str | None:
    """The client's IP address, as recorded on its sessions.

    This is the peer of the connection. Behind a reverse proxy, let the
    server rewrite it from the proxy's headers (uvicorn
    ``--proxy-headers --forwarded-allow-ips=...``), or read the header your
    proxy sets here; never trust ``X-Forwarded-For`` from anyone else.
    """
    return request.client.host if request.client else None


def user_agent(request: Request) -> str | None:
    """The ``User-Agent`` header, printable and cut to a sane length."""
    value = request.headers.get("user-agent")
    if not value:
        return None
    printable = "".join(char for char in value if char.isprintable())
    return printable[:MAX_USER_AGENT_LENGTH] or None
