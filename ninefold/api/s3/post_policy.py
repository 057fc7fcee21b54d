"""The policy document of a browser upload (POST Object) and the form it constrains.

Pure: decoding the base64 JSON policy, and checking a form's fields against it. Reading the
multipart body and storing the file are the handler's (``handlers/post_object.py``); the
signature over the policy is ``ninefold.api.auth.form``'s. As on S3:

* field names are case-insensitive (kept lower-cased here); values are compared exactly;
* a condition is an object ``{"field": "value"}`` (exact match), ``["eq", "$field", "value"]``,
  ``["starts-with", "$field", "prefix"]`` (``""`` matches anything, an absent field included;
  for ``Content-Type`` every value of a comma-separated list must match) or
  ``["content-length-range", min, max]`` (bytes of the file, checked while it streams);
* ``bucket`` is matched against the request's bucket and ``key`` against the key after
  ``${filename}`` substitution; a condition on an absent field sees ``""``;
* every field sent must be covered by a condition, except ``file``, ``policy``, the signature
  fields and ``x-ignore-*``: otherwise ``Extra input fields``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ninefold.api.s3 import errors

__all__ = [
    "FILENAME_VARIABLE",
    "MAX_FORM_FIELDS_BYTES",
    "Condition",
    "PostPolicy",
    "check_policy",
    "decode_policy",
    "substitute_filename",
]

#: S3 rejects a form whose fields before the file are larger than this
MAX_FORM_FIELDS_BYTES = 20 * 1024
#: in the ``key`` field, replaced by the file name the browser sent
FILENAME_VARIABLE = "${filename}"
#: fields that need no condition: the file, the policy itself and its signature
_UNCHECKED = frozenset({"file", "policy", "x-amz-signature", "signature", "awsaccesskeyid"})


def _denied(reason: str) -> errors.S3Error:
    return errors.AccessDenied(f"Invalid according to Policy: {reason}")


def _invalid(reason: str) -> errors.S3Error:
    return errors.InvalidPolicyDocument(f"Invalid Policy: {reason}")


@dataclass(frozen=True, slots=True)
class Condition:
    """One ``eq`` or ``starts-with`` condition on a field (``name`` lower-case, no ``$``)."""

    op: str
    name: str
    value: str
    #: the condition as S3 quotes it in a refusal: ``["eq", "$key", "a.txt"]``
    text: str

    def holds(self, actual: str) -> bool:
        if self.op == "eq":
            return actual == self.value
        if self.name == "content-type":
            return all(v.strip().startswith(self.value) for v in actual.split(","))
        return actual.startswith(self.value)


@dataclass(frozen=True, slots=True)
class PostPolicy:
    expiration: dt.datetime
    conditions: tuple[Condition, ...]
    #: (min, max) bytes of the file, both inclusive; None: no content-length-range
    length_range: tuple[int, int] | None = None

    def covers(self, name: str) -> bool:
        return any(c.name == name for c in self.conditions)


def _condition(op: str, field: str, value: str) -> Condition:
    return Condition(op, field.removeprefix("$").lower(), value, json.dumps([op, field, value]))


def _length(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    else:
        raise ValueError(value)
    if number < 0:
        raise ValueError(value)
    return number


def _parse_condition(raw: Any) -> list[Condition] | tuple[int, int]:
    """The conditions of one policy entry, or the (min, max) of a content-length-range."""
    if isinstance(raw, dict):
        if not raw or not all(isinstance(v, str) for v in raw.values()):
            raise _invalid(f"Invalid Simple-Condition: {json.dumps(raw)}")
        return [_condition("eq", "$" + name, value) for name, value in raw.items()]
    if not isinstance(raw, list) or len(raw) != 3 or not isinstance(raw[0], str):
        raise _invalid(f"Invalid Condition: {json.dumps(raw)}")
    op = raw[0].lower()
    if op == "content-length-range":
        try:
            low, high = _length(raw[1]), _length(raw[2])
        except ValueError:
            raise _invalid(f"Invalid content-length-range: {json.dumps(raw)}") from None
        if low > high:
            raise _invalid(f"Invalid content-length-range: {json.dumps(raw)}")
        return low, high
    field, value = raw[1], raw[2]
    if op not in ("eq", "starts-with"):
        raise _invalid(f"Invalid Condition: unknown operation {raw[0]!r}")
    if not isinstance(field, str) or not field.startswith("$") or not isinstance(value, str):
        raise _invalid(f"Invalid Condition: {json.dumps(raw)}")
    return [_condition(op, field, value)]


#: ISO 8601 in its RFC 3339 profile: a full date and time with a zone (``Z`` or an offset)
_EXPIRATION = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})", re.ASCII
)


def _expiration(raw: Any) -> dt.datetime:
    """S3 wants "2007-12-01T12:00:00.000Z": a date alone, a time without its zone, a space for
    the T or the basic format (``20071201T120000Z``), all of which ``fromisoformat`` would take,
    are refused."""
    if not isinstance(raw, str):
        raise _invalid("Policy missing expiration." if raw is None else "Invalid expiration.")
    if not _EXPIRATION.fullmatch(raw):
        raise _invalid(f"Invalid 'expiration' value: '{raw}'")
    try:
        # fromisoformat takes at most 6 fraction digits and "Z" only from 3.11 on
        head, dot, rest = raw.partition(".")
        if dot:
            digits = len(rest) - len(rest.lstrip("0123456789"))
            raw = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
        return dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:  # month 13, hour 25 ...
        raise _invalid(f"Invalid 'expiration' value: '{raw}'") from None


def decode_policy(encoded: str) -> PostPolicy:
    """Parse the base64 JSON policy (its signature was checked on the encoded text)."""
    try:
        document = json.loads(base64.b64decode(encoded, validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _invalid("Invalid JSON.") from None
    if not isinstance(document, dict):
        raise _invalid("Invalid JSON.")
    expiration = _expiration(document.get("expiration"))
    raw_conditions = document.get("conditions")
    if not isinstance(raw_conditions, list):
        raise _invalid("Policy missing conditions.")
    conditions: list[Condition] = []
    length_range: tuple[int, int] | None = None
    for raw in raw_conditions:
        parsed = _parse_condition(raw)
        if isinstance(parsed, tuple):
            low, high = parsed
            if length_range is not None:  # several ranges: the file must satisfy them all
                low, high = max(low, length_range[0]), min(high, length_range[1])
            length_range = (low, high)
        else:
            conditions.extend(parsed)
    return PostPolicy(expiration, tuple(conditions), length_range)


def substitute_filename(key: str, filename: str | None) -> str:
    """The ``key`` field with ``${filename}`` replaced by the name of the uploaded file."""
    return key.replace(FILENAME_VARIABLE, filename or "")


def check_policy(
    policy: PostPolicy, fields: Mapping[str, str], bucket: str, key: str, now: dt.datetime
) -> None:
    """AccessDenied unless the form satisfies ``policy`` at ``now``: not expired, every
    condition holds, every field sent is covered. ``fields`` are lower-cased names; ``key`` is
    the key after substitution. The file's length is checked as it streams, not here."""
    if now >= policy.expiration:
        raise _denied("Policy expired.")
    actual = {**fields, "bucket": bucket, "key": key}
    for condition in policy.conditions:
        if not condition.holds(actual.get(condition.name, "")):
            raise _denied(f"Policy Condition failed: {condition.text}")
    extra = [
        name
        for name in fields
        if name not in _UNCHECKED and not name.startswith("x-ignore-") and not policy.covers(name)
    ]
    if extra:
        raise _denied(f"Extra input fields: {', '.join(extra)}")
