"""Version policies: the grammar, what each form matches, and what is refused."""

from __future__ import annotations

import pytest

from estate.registry.policy import PolicyError, parse_policy

VERSIONS = [
    "0.4.1",
    "0.5.0",
    "1.3.9",
    "1.4.0",
    "1.4.2",
    "1.5.0-rc.1",
    "1.5.0",
    "2.0.0-rc.1",
    "2.0.0",
]


@pytest.mark.parametrize(
    ("policy", "matching"),
    [
        (None, ["0.4.1", "0.5.0", "1.3.9", "1.4.0", "1.4.2", "1.5.0", "2.0.0"]),
        ("1.4.2", ["1.4.2"]),
        ("2.0.0-rc.1", ["2.0.0-rc.1"]),
        ("~1.4", ["1.4.0", "1.4.2"]),
        ("~1.4.2", ["1.4.2"]),
        ("~1", ["1.3.9", "1.4.0", "1.4.2", "1.5.0"]),
        ("^1.4", ["1.4.0", "1.4.2", "1.5.0"]),
        ("^0.4", ["0.4.1"]),
        (">=1.2,<2", ["1.3.9", "1.4.0", "1.4.2", "1.5.0"]),
        (">=1.5.0-rc.1, <2", ["1.5.0-rc.1", "1.5.0"]),  # not 2.0.0-rc.1: another release
        (">=1.5.0-rc.1", ["1.5.0-rc.1", "1.5.0", "2.0.0"]),
        (">1.4.0,!=1.5.0", ["1.4.2", "2.0.0"]),
        ("=1.4.0", ["1.4.0"]),
    ],
)
def test_each_form_matches_what_the_table_says(policy: str | None, matching: list[str]) -> None:
    parsed = parse_policy(policy)
    assert [v for v in VERSIONS if parsed.matches(v)] == matching


@pytest.mark.parametrize(
    ("policy", "words"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("~", "~ takes a version"),
        ("^1.x", "^ takes a version"),
        ("latest", "part 1 ('latest') is not a version"),
        (">=1.2,,<2", "part 2 ('') is not"),
        (">=1.2.3.4", "'1.2.3.4' is not a version"),
        ("1" * 101, "longer than 100"),
    ],
)
def test_a_bad_policy_says_what_is_wrong(policy: str, words: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy(policy)
    assert words in str(raised.value)
