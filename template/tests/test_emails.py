import pytest

from ..emails import normalize_email
from ..exceptions import InvalidEmail


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ann@example.com", "ann@example.com"),
        ("  Ann@Example.COM ", "ann@example.com"),
        ("first.last+tag@mail.example.co", "first.last+tag@mail.example.co"),
        ("\uff41\uff4e\uff4e@example.com", "ann@example.com"),  # full-width
    ],
)
def test_valid_addresses_are_normalised(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "ann",
        "ann@",
        "@example.com",
        "ann@example",
        "a@x.com,b@y.com",
        "a@x.com b@y.com",
        '"a@x.com" <b@y.com>',
        "Ann <ann@example.com>",
        "ann@exa_mple.com",
        ".ann@example.com",
        "ann.@example.com",
        "an..n@example.com",
        "ann@-example.com",
        "ann\r\n@example.com",
        "x" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
    ],
)
def test_malformed_or_multiple_addresses_are_refused(raw: str) -> None:
    with pytest.raises(InvalidEmail):
        normalize_email(raw)
