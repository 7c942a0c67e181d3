from ..amr import AMR, combine


def test_single_factor_has_no_mfa() -> None:
    assert combine(["pwd"], 1) == ("pwd",)


def test_two_distinct_factors_add_mfa() -> None:
    assert combine(["pwd", "otp"], 2) == ("mfa", "otp", "pwd")


def test_values_are_deduplicated_and_mfa_is_not_trusted_from_input() -> None:
    assert combine(["pwd", "pwd", AMR.MULTI_FACTOR], 1) == ("pwd",)


def test_values_are_rfc_8176_strings() -> None:
    assert [m.value for m in AMR] == ["pwd", "otp", "mfa"]
