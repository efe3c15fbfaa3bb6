"""The limited-content message a voicemail drop plays (Reg F 12 CFR 1006.2(j)): every
required element, every forbidden subject, and the profiles without such rules."""

from __future__ import annotations

import pytest

from dialer.compliance.profiles import ProfileError, load_profile, parse_profile
from dialer.compliance.voicemail import limited_content_refusals

US = load_profile("us_tsr_regf")
GOOD = (
    "Hello, this message is for {consumer_name}. This is {collector_name}. Please call "
    "me back at 1-800-555-0100. Thank you."
)


def test_a_limited_content_message_passes() -> None:
    assert limited_content_refusals(US, GOOD) == []
    placeholder_number = GOOD.replace("1-800-555-0100", "{callback_number}")
    assert limited_content_refusals(US, placeholder_number) == []


@pytest.mark.parametrize(
    ("missing", "text"),
    [
        ("consumer's name", GOOD.replace("{consumer_name}", "you")),
        ("request that the consumer reply", GOOD.replace("Please call me back at", "Mine is")),
        ("name of a person", GOOD.replace("This is {collector_name}.", "")),
        ("telephone number", GOOD.replace("1-800-555-0100", "our office")),
    ],
)
def test_each_missing_element_is_named(missing: str, text: str) -> None:
    refusals = limited_content_refusals(US, text)
    assert len(refusals) == 1
    assert missing in refusals[0] and "requires" in refusals[0]
    assert "us_tsr_regf v2 (Reg F 12 CFR 1006.2(j))" in refusals[0]


@pytest.mark.parametrize(
    ("said", "subject"),
    [
        ("about your debt", "the debt"),
        ("about the money you owe", "the debt"),
        ("about your past due account", "the debt"),
        ("about your balance", "a balance or an amount"),
        ("about $120.50", "a balance or an amount"),
        ("about 300 dollars", "a balance or an amount"),
        ("about a payment", "payment"),
        ("to arrange to pay", "payment"),
        ("from the Collections department", "collection"),
    ],
)
def test_anything_about_the_debt_is_forbidden(said: str, subject: str) -> None:
    text = GOOD.replace("Thank you.", f"I am calling {said}.")
    refusals = limited_content_refusals(US, text)
    assert len(refusals) == 1, refusals
    assert f"a mention of {subject}" in refusals[0] and "forbids" in refusals[0]


def test_placeholders_are_not_read_as_words() -> None:
    # "{collector_name}" holds the word "collect"; the message does not say it.
    assert limited_content_refusals(US, GOOD) == []
    assert limited_content_refusals(US, GOOD + " Ask for a collector.") != []


def test_every_failure_is_reported_at_once() -> None:
    refusals = limited_content_refusals(US, "Pay your debt.")
    assert len(refusals) == 6  # all 4 elements missing ("pay" is no request to reply), 2 subjects
    assert sum("requires" in r for r in refusals) == 4
    assert sum("forbids" in r for r in refusals) == 2


def test_no_text_is_refused_where_rules_exist() -> None:
    (refusal,) = limited_content_refusals(US, "  ")
    assert "requires the message's text" in refusal


@pytest.mark.parametrize("name", ["uk_ofcom", "cn_ifac"])
def test_profiles_without_limited_content_rules_accept_any_text(name: str) -> None:
    assert limited_content_refusals(load_profile(name), "Pay your debt of $100.") == []


def test_a_bad_pattern_in_a_profile_is_refused_with_its_key() -> None:
    data = US.model_dump(mode="json")
    data["voicemail"]["limited_content"]["forbidden"][0]["patterns"] = ["(unclosed"]
    with pytest.raises(ProfileError, match="not a regular expression") as err:
        parse_profile(data, "house.yaml")
    assert "voicemail.limited_content.forbidden[0].patterns" in str(err.value)
