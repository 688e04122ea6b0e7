"""Masking secrets: every common encoding of a secret, never a short one inside a word."""

import base64
import json
import time
from urllib.parse import quote, quote_plus

import pytest

from estate.calls.runlog import RunLog
from estate.redaction import MASK, mask, maskable

SECRET = "s3cret/pass+word=1"


@pytest.mark.parametrize(
    "form",
    [
        SECRET,
        base64.b64encode(SECRET.encode()).decode(),
        base64.b64encode(SECRET.encode()).decode().rstrip("="),
        base64.urlsafe_b64encode(SECRET.encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("="),
        quote(SECRET),
        quote(SECRET, safe=""),
        quote_plus(SECRET),
    ],
    ids=["plain", "b64", "b64-nopad", "urlsafe", "urlsafe-nopad", "quote", "quote-all", "plus"],
)
def test_each_encoding_of_a_secret_is_masked(form: str) -> None:
    line = f"GET /login?x={form}&y=1"

    masked = mask(line, maskable([SECRET]))

    assert form not in masked
    assert masked == f"GET /login?x={MASK}&y=1"


def test_a_json_escaped_secret_is_masked() -> None:
    secret = 'quo"te\\back\tslash'
    line = json.dumps({"password": secret})

    masked = mask(line, maskable([secret]))

    assert json.dumps(secret)[1:-1] not in masked
    assert masked == f'{{"password": "{MASK}"}}'


def test_a_non_ascii_secret_is_masked_json_escaped_or_not() -> None:
    secret = "pässwörd-ünïcode"
    secrets = maskable([secret])

    assert mask(json.dumps(secret), secrets) == f'"{MASK}"'
    assert mask(json.dumps(secret, ensure_ascii=False), secrets) == f'"{MASK}"'


def test_a_short_secret_is_masked_only_as_a_whole_word() -> None:
    secrets = maskable(["simul"])

    assert mask("provider simulated:datacenter started", secrets) == (
        "provider simulated:datacenter started"
    )
    assert mask("password is simul, user admin", secrets) == f"password is {MASK}, user admin"
    assert mask("simul", secrets) == MASK


def test_a_long_secret_is_masked_inside_other_words() -> None:
    secrets = maskable(["hunter2hunter2"])

    assert mask("xxhunter2hunter2yy", secrets) == f"xx{MASK}yy"


def test_values_too_short_or_not_text_are_not_masked() -> None:
    assert maskable(["ab", None, True, 3.5]) == ()
    assert mask("ab ab", maskable(["ab"])) == "ab ab"


def test_an_integer_secret_is_masked_as_a_word() -> None:
    assert mask("pin 4711 but not 947110", maskable([4711])) == f"pin {MASK} but not 947110"


def test_the_longest_form_wins_when_forms_overlap() -> None:
    secrets = maskable(["password1", "password12"])

    assert mask("x password12 y", secrets) == f"x {MASK} y"


def test_masking_many_lines_stays_fast() -> None:
    log = RunLog()
    log.redact([f"secret-number-{i}" for i in range(20)])
    started = time.perf_counter()

    for i in range(20000):
        log.add("info", f"collected vm-{i} on host-{i % 7} in cluster simulated:datacenter")

    assert time.perf_counter() - started < 5
    assert "secret" not in log.text()
