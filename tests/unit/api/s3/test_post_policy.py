"""The POST policy document: decoding, condition matching, expiry and field coverage."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest

from ninefold.api.s3 import errors
from ninefold.api.s3.post_policy import check_policy, decode_policy, substitute_filename

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def encode(document: Any) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def policy(*conditions: Any, expiration: str = "2026-06-01T13:00:00.000Z") -> str:
    return encode({"expiration": expiration, "conditions": list(conditions)})


def test_decode_keeps_conditions_and_length_range() -> None:
    parsed = decode_policy(
        policy(
            {"bucket": "b"},
            ["starts-with", "$Key", "u/"],
            ["content-length-range", 1, 10],
            ["content-length-range", "5", "20"],
        )
    )
    assert parsed.expiration == dt.datetime(2026, 6, 1, 13, 0, tzinfo=dt.UTC)
    assert [(c.op, c.name, c.value) for c in parsed.conditions] == [
        ("eq", "bucket", "b"),
        ("starts-with", "key", "u/"),
    ]
    assert parsed.length_range == (5, 10)  # both ranges hold
    assert parsed.conditions[1].text == '["starts-with", "$Key", "u/"]'


@pytest.mark.parametrize(
    "encoded",
    [
        "%%%",
        encode([]),
        encode({"conditions": []}),
        encode({"expiration": "tomorrow", "conditions": []}),
        policy(["content-length-range", 10, 1]),
        policy(["content-length-range", -1, 1]),
        policy(["matches", "$key", "x"]),
        policy(["eq", "key", "x"]),
        policy({"key": 1}),
        policy("key"),
    ],
)
def test_malformed_documents(encoded: str) -> None:
    with pytest.raises(errors.InvalidPolicyDocument):
        decode_policy(encoded)


@pytest.mark.parametrize(
    ("condition", "fields", "holds"),
    [
        (["starts-with", "$key", ""], {}, True),
        (["starts-with", "$key", "u/"], {}, True),  # the key is the substituted one: "u/x"
        (["starts-with", "$key", "v/"], {}, False),
        (["eq", "$key", "u/x"], {}, True),
        ({"bucket": "b"}, {}, True),
        ({"bucket": "c"}, {}, False),
        (["starts-with", "$content-type", "image/"], {"content-type": "image/a, image/b"}, True),
        (["starts-with", "$Content-Type", "image/"], {"content-type": "image/a,text/b"}, False),
        (["eq", "$x-amz-meta-a", ""], {}, True),  # absent is ""
        (["eq", "$x-amz-meta-a", "1"], {}, False),
    ],
)
def test_conditions(condition: Any, fields: dict[str, str], holds: bool) -> None:
    parsed = decode_policy(policy(condition, ["starts-with", "$content-type", ""]))
    if holds:
        check_policy(parsed, fields, "b", "u/x", NOW)
    else:
        with pytest.raises(errors.AccessDenied, match="Policy Condition failed"):
            check_policy(parsed, fields, "b", "u/x", NOW)


def test_expired() -> None:
    parsed = decode_policy(policy(expiration="2026-06-01T12:00:00Z"))
    with pytest.raises(errors.AccessDenied, match="Policy expired"):
        check_policy(parsed, {}, "b", "k", NOW)


def test_every_field_but_the_exempt_ones_needs_a_condition() -> None:
    parsed = decode_policy(policy({"key": "k"}))
    exempt = {
        "key": "k",
        "policy": "...",
        "x-amz-signature": "...",
        "signature": "...",
        "awsaccesskeyid": "...",
        "x-ignore-anything": "1",
    }
    check_policy(parsed, exempt, "b", "k", NOW)
    with pytest.raises(errors.AccessDenied, match=r"Extra input fields: acl, x-amz-date$"):
        check_policy(parsed, {**exempt, "acl": "private", "x-amz-date": "x"}, "b", "k", NOW)


def test_filename_substitution() -> None:
    assert substitute_filename("u/${filename}", "a.txt") == "u/a.txt"
    assert substitute_filename("u/${filename}", None) == "u/"
    assert substitute_filename("plain", "a.txt") == "plain"
