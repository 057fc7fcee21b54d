"""Ranges, conditionals and metadata headers."""

from __future__ import annotations

import pytest

from ninefold.api.s3 import errors
from ninefold.api.s3.headers import (
    ByteRange,
    check_conditions,
    http_date,
    parse_range,
    user_metadata,
)


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-9", 100, ByteRange(0, 10)),
        ("bytes=10-", 100, ByteRange(10, 90)),
        ("bytes=-10", 100, ByteRange(90, 10)),
        ("bytes=-1000", 100, ByteRange(0, 100)),
        ("bytes=90-1000", 100, ByteRange(90, 10)),
        ("bytes=5-4", 100, None),  # invalid: ignored, whole object
        ("bytes=0-1,5-6", 100, None),  # multi-range: ignored
        ("items=0-1", 100, None),
        ("bytes=x-1", 100, None),
        (None, 100, None),
    ],
)
def test_parse_range(header: str | None, size: int, expected: ByteRange | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=100-", 100), ("bytes=-0", 100), ("bytes=0-", 0)]
)
def test_unsatisfiable_range(header: str, size: int) -> None:
    with pytest.raises(errors.InvalidRange):
        parse_range(header, size)


LM = 1_700_000_000.0


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"if-match": '"abc"'}, None),
        ({"if-match": '"zzz"'}, errors.PreconditionFailed),
        ({"if-match": "*"}, None),
        ({"if-none-match": '"abc"'}, errors.NotModified),
        ({"if-none-match": '"zzz"'}, None),
        ({"if-modified-since": http_date(LM + 10)}, errors.NotModified),
        ({"if-modified-since": http_date(LM - 10)}, None),
        ({"if-unmodified-since": http_date(LM - 10)}, errors.PreconditionFailed),
        ({"if-unmodified-since": http_date(LM + 10)}, None),
        # S3: If-Match true wins over a false If-Unmodified-Since
        ({"if-match": '"abc"', "if-unmodified-since": http_date(LM - 10)}, None),
        # If-None-Match false wins over a true If-Modified-Since
        ({"if-none-match": '"abc"', "if-modified-since": http_date(LM - 10)}, errors.NotModified),
        ({"if-modified-since": "garbage"}, None),
    ],
)
def test_conditions(headers: dict[str, str], error: type | None) -> None:
    if error is None:
        check_conditions(headers, "abc", LM)
    else:
        with pytest.raises(error):
            check_conditions(headers, "abc", LM)


def test_copy_source_conditions_fail_with_412() -> None:
    with pytest.raises(errors.PreconditionFailed):
        check_conditions(
            {"x-amz-copy-source-if-none-match": '"abc"'}, "abc", LM, prefix="x-amz-copy-source-"
        )


def test_user_metadata() -> None:
    assert user_metadata({"X-Amz-Meta-Colour": "blue", "Content-Type": "x"}) == {"colour": "blue"}
    with pytest.raises(errors.MetadataTooLarge):
        user_metadata({"x-amz-meta-big": "v" * 3000})
