"""Client addresses: X-Forwarded-For counts only from trusted proxies."""

import pytest

from ..client_ip import client_ip, parse_trusted_proxies
from ..config import Settings
from ..exceptions import ConfigError
from .conftest import TEST_SECRET

PROXIES = parse_trusted_proxies(["10.0.0.0/8", "2001:db8::/32"])
CLIENT = "203.0.113.7"
# Development, so the defaults of every feature (console email) are valid.
ENV = {"AUTH_SECRET_KEY": TEST_SECRET, "AUTH_ENVIRONMENT": "development"}


def test_without_proxies_the_peer_is_the_client() -> None:
    assert client_ip(CLIENT, None, ()) == CLIENT
    assert client_ip(CLIENT, "198.51.100.1", ()) == CLIENT


def test_an_untrusted_peer_cannot_pick_its_address() -> None:
    assert client_ip(CLIENT, "198.51.100.1", PROXIES) == CLIENT
    assert client_ip(CLIENT, "10.0.0.1", PROXIES) == CLIENT


def test_a_trusted_proxy_names_the_client() -> None:
    assert client_ip("10.0.0.2", CLIENT, PROXIES) == CLIENT


def test_a_trusted_proxy_without_the_header_is_the_client() -> None:
    assert client_ip("10.0.0.2", None, PROXIES) == "10.0.0.2"
    assert client_ip("10.0.0.2", "", PROXIES) == "10.0.0.2"


def test_entries_the_client_wrote_are_never_reached() -> None:
    # The client sent "X-Forwarded-For: 1.1.1.1"; the proxy appended
    # the address it saw.
    forwarded = f"1.1.1.1, {CLIENT}"
    assert client_ip("10.0.0.2", forwarded, PROXIES) == CLIENT


def test_spoofed_trusted_addresses_on_the_left_do_not_help() -> None:
    forwarded = f"10.9.9.9, 1.1.1.1, {CLIENT}"
    assert client_ip("10.0.0.2", forwarded, PROXIES) == CLIENT


def test_the_walk_skips_a_chain_of_trusted_proxies() -> None:
    forwarded = f"1.1.1.1, {CLIENT}, 10.0.0.5, 10.0.0.4"
    assert client_ip("10.0.0.2", forwarded, PROXIES) == CLIENT


def test_several_headers_joined_in_order_work_the_same() -> None:
    forwarded = ",".join(["1.1.1.1", f"{CLIENT},10.0.0.5"])
    assert client_ip("10.0.0.2", forwarded, PROXIES) == CLIENT


def test_all_trusted_gives_the_leftmost_hop() -> None:
    assert client_ip("10.0.0.2", "10.0.0.9, 10.0.0.5", PROXIES) == "10.0.0.9"


@pytest.mark.parametrize(
    "garbage",
    ["unknown", "1.2.3", "", " ", "999.1.1.1", "1.2.3.4:http", "[::1", "_"],
)
def test_a_malformed_hop_stops_at_the_last_good_one(garbage: str) -> None:
    forwarded = f"{CLIENT}, {garbage}"
    assert client_ip("10.0.0.2", forwarded, PROXIES) == "10.0.0.2"
    forwarded = f"{garbage}, 10.0.0.7"
    assert client_ip("10.0.0.2", forwarded, PROXIES) == "10.0.0.7"


def test_ports_and_brackets_are_accepted() -> None:
    assert client_ip("10.0.0.2", f"{CLIENT}:4711", PROXIES) == CLIENT
    assert client_ip("10.0.0.2", "[2001:db9::1]:443", PROXIES) == (
        "2001:db9::1"
    )
    assert client_ip("10.0.0.2", "2001:db9::1", PROXIES) == "2001:db9::1"


def test_ipv6_proxies_are_trusted_by_network() -> None:
    assert client_ip("2001:db8::5", CLIENT, PROXIES) == CLIENT
    assert client_ip("2001:db9::5", CLIENT, PROXIES) == "2001:db9::5"


def test_addresses_come_back_canonical() -> None:
    assert client_ip("::ffff:203.0.113.7", None, ()) == CLIENT
    assert client_ip("2001:DB9:0::1", None, ()) == "2001:db9::1"
    assert client_ip("10.0.0.2", "::ffff:203.0.113.7", PROXIES) == CLIENT


def test_an_ipv4_mapped_proxy_is_still_trusted() -> None:
    assert client_ip("::ffff:10.0.0.2", CLIENT, PROXIES) == CLIENT


def test_a_peer_that_is_not_an_address_is_kept() -> None:
    assert client_ip(None, CLIENT, PROXIES) is None
    assert client_ip("testclient", CLIENT, PROXIES) == "testclient"


@pytest.mark.parametrize(
    "proxies",
    [["10.0.0.1/8"], ["not-an-ip"], ["0.0.0.0/0"], ["::/0"], ["10.0.0.1/33"]],
)
def test_bad_proxy_lists_are_refused(proxies: list[str]) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        parse_trusted_proxies(proxies)


def test_settings_read_trusted_proxies_from_the_environment() -> None:
    settings = Settings.from_env(
        ENV | {"AUTH_TRUSTED_PROXIES": " 10.0.0.0/8, ,192.0.2.1 "},
    )
    assert settings.trusted_proxies == ("10.0.0.0/8", "192.0.2.1")
    assert [str(n) for n in settings.trusted_proxy_networks] == [
        "10.0.0.0/8",
        "192.0.2.1/32",
    ]


def test_settings_trust_no_proxy_by_default() -> None:
    settings = Settings.from_env(ENV)
    assert settings.trusted_proxies == ()
    assert settings.throttling_enabled is True


def test_settings_refuse_a_bad_proxy_at_startup() -> None:
    with pytest.raises(ConfigError, match="AUTH_TRUSTED_PROXIES"):
        Settings.from_env(
            ENV | {"AUTH_TRUSTED_PROXIES": "10.0.0.0/8,0.0.0.0/0"},
        )
