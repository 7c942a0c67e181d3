"""Client IP addresses: ``X-Forwarded-For`` only from trusted proxies.

Anyone can send ``X-Forwarded-For``; only a proxy the app trusts appends
to it truthfully. So the header is read only when the connection comes
from a trusted proxy, from the right (the hop that proxy saw) to the
left, past further trusted proxies; the first untrusted address is the
client. Entries the client wrote further left are never reached.
"""

import ipaddress
from collections.abc import Iterable

type IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
type IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Networks from IP addresses or CIDR blocks; ``ValueError`` if bad.

    A bare address is a one-address network. Host bits in a block are
    refused (``10.0.0.1/8`` is probably a typo), and so is a block that
    covers every address, which would let any client pick its IP.
    """
    networks: list[IPNetwork] = []
    for value in values:
        network = ipaddress.ip_network(value.strip())
        if network.prefixlen == 0:
            raise ValueError(f"{value!r} would trust every address")
        networks.append(network)
    return tuple(networks)


def client_ip(
    peer: str | None,
    forwarded_for: str | None,
    trusted_proxies: Iterable[IPNetwork],
) -> str | None:
    """The address to attribute a request to.

    ``peer`` is the address of the TCP connection; ``forwarded_for`` is
    every ``X-Forwarded-For`` header joined with commas, in order. The
    header is ignored unless ``peer`` is a trusted proxy. Walking from
    the right, the first address that is not a trusted proxy is the
    client; a malformed entry stops the walk at the last good hop. A
    peer that is not an IP address (a Unix socket, a test client) is
    returned as it is.
    """
    if peer is None:
        return None
    address = _parse(peer)
    if address is None:
        return peer
    networks = tuple(trusted_proxies)
    if not forwarded_for or not _trusted(address, networks):
        return str(address)
    for entry in reversed(forwarded_for.split(",")):
        hop = _parse(entry)
        if hop is None:
            break
        address = hop
        if not _trusted(address, networks):
            break
    return str(address)


def _trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in networks)


def _parse(value: str) -> IPAddress | None:
    """An address from ``1.2.3.4``, ``1.2.3.4:80``, ``::1`` or ``[::1]:80``.

    IPv4-mapped IPv6 addresses become IPv4, so one client has one key.
    """
    text = value.strip()
    if text.startswith("["):
        text, bracket, port = text[1:].partition("]")
        if not bracket or (port and not _is_port(port)):
            return None
    elif text.count(":") == 1:
        text, _, port = text.partition(":")
        if not _is_port(":" + port):
            return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_port(text: str) -> bool:
    digits = text.removeprefix(":")
    return text.startswith(":") and digits.isascii() and digits.isdigit()
