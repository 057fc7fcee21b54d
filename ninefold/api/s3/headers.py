"""HTTP header semantics of S3 objects: dates, ranges, conditionals, metadata headers."""

from __future__ import annotations

import base64
import binascii
import email.utils
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ninefold.api.s3 import errors
from ninefold.domain.models import WriteCondition

__all__ = [
    "STORED_HEADERS",
    "ByteRange",
    "check_conditions",
    "decode_meta_value",
    "delete_condition",
    "encode_meta_value",
    "http_date",
    "parse_http_date",
    "parse_range",
    "user_metadata",
]

#: standard headers stored with an object and returned on GET/HEAD
STORED_HEADERS = (
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
)
MAX_USER_METADATA_BYTES = 2048


def http_date(ts: float) -> str:
    seconds = int(ts // 1)
    text = _HTTP_DATES.get(seconds)
    if text is None:
        if len(_HTTP_DATES) > 4096:
            _HTTP_DATES.clear()
        text = _HTTP_DATES[seconds] = email.utils.formatdate(seconds, usegmt=True)
    return text


#: formatted whole seconds: HTTP dates have no fraction
_HTTP_DATES: dict[int, str] = {}


def parse_http_date(value: str | None) -> float | None:
    """An HTTP date as epoch seconds; None when absent or unparsable (then it is ignored)."""
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    length: int

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.start + self.length - 1}/{size}"


def parse_range(value: str | None, size: int) -> ByteRange | None:
    """A single ``bytes=`` range resolved against ``size``; None means the whole object.

    Like S3, a syntactically invalid or multi-range header is ignored; a valid but
    unsatisfiable one raises InvalidRange (416).
    """
    if not value or not value.startswith("bytes=") or "," in value:
        return None
    first, dash, last = value[6:].strip().partition("-")
    if not dash:
        return None
    try:
        if not first:  # suffix: the last N bytes
            n = int(last)
            if n < 0:
                return None
            if n == 0 or size == 0:
                raise errors.InvalidRange(ActualObjectSize=str(size), RangeRequested=value)
            n = min(n, size)
            return ByteRange(size - n, n)
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start < 0 or (last and end < start):
        return None
    if start >= size:
        raise errors.InvalidRange(ActualObjectSize=str(size), RangeRequested=value)
    end = min(end, size - 1)
    return ByteRange(start, end - start + 1)


def _etag_matches(header: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/").strip('"') for t in header.split(",")]
    return "*" in tags or etag in tags


def check_conditions(
    headers: Mapping[str, str], etag: str, last_modified: float, *, prefix: str = ""
) -> None:
    """RFC 7232 preconditions as S3 applies them (``prefix`` selects x-amz-copy-source-).

    Raises PreconditionFailed (412) or NotModified (304; never for copy sources, which use 412).
    """
    lm = int(last_modified)
    if_match = headers.get(prefix + "if-match")
    if_none_match = headers.get(prefix + "if-none-match")
    unmodified = parse_http_date(headers.get(prefix + "if-unmodified-since"))
    modified = parse_http_date(headers.get(prefix + "if-modified-since"))
    not_modified: type[errors.S3Error] = errors.PreconditionFailed if prefix else errors.NotModified
    if if_match is not None:
        if not _etag_matches(if_match, etag):
            raise errors.PreconditionFailed(Condition="If-Match")
    elif unmodified is not None and lm > unmodified:
        raise errors.PreconditionFailed(Condition="If-Unmodified-Since")
    if if_none_match is not None:
        if _etag_matches(if_none_match, etag):
            raise not_modified(Condition="If-None-Match")
    elif modified is not None and lm <= modified:
        raise not_modified(Condition="If-Modified-Since")


def write_condition(headers: Mapping[str, str]) -> WriteCondition | None:
    """``If-None-Match: *`` / ``If-Match: "etag"`` of a PutObject, CopyObject or
    CompleteMultipartUpload (a conditional write); None when neither is sent."""
    if_none_match = headers.get("if-none-match")
    if_match = headers.get("if-match")
    if if_none_match is None and if_match is None:
        return None
    tags = None if if_match is None else _if_match_tags(if_match, "If-Match")
    if if_none_match is None:
        return WriteCondition(if_match=tags)
    none_tags = _if_match_tags(if_none_match, "If-None-Match")
    if "*" in none_tags:
        return WriteCondition(if_match=tags, if_none_match=True)
    # an ETag (AWS answers 501 to it; Ninefold writes unless the current object has it, as
    # RFC 9110 reads If-None-Match and MinIO does)
    return WriteCondition(if_match=tags, if_none_match_etags=none_tags)


def delete_condition(headers: Mapping[str, str]) -> WriteCondition | None:
    """``If-Match: "etag"`` (or ``*``) of a DeleteObject, a conditional delete; None when not
    sent. S3 has no If-None-Match on deletes: it is ignored, as there."""
    if_match = headers.get("if-match")
    if if_match is None:
        return None
    return WriteCondition(if_match=_if_match_tags(if_match, "If-Match"))


def _if_match_tags(value: str, header: str) -> tuple[str, ...]:
    tags = tuple(t.strip().removeprefix("W/").strip('"') for t in value.split(",") if t.strip())
    if not tags:
        raise errors.InvalidArgument(f"{header} needs an ETag or '*'.", Header=header)
    return tags


def user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    """``x-amz-meta-*`` headers, names lower-cased without the prefix; MetadataTooLarge > 2 KiB."""
    meta = {
        name.lower()[len("x-amz-meta-") :]: decode_meta_value(value)
        for name, value in headers.items()
        if name.lower().startswith("x-amz-meta-")
    }
    size = sum(len(k.encode()) + len(v.encode()) for k, v in meta.items())
    if size > MAX_USER_METADATA_BYTES:
        raise errors.MetadataTooLarge(Size=str(size), MaxSizeAllowed=str(MAX_USER_METADATA_BYTES))
    return meta


def decode_meta_value(value: str) -> str:
    """A user metadata value as S3 stores it: raw UTF-8 header bytes as text, and RFC 2047
    encoded words (``=?UTF-8?B?Y2Fmw6k=?=``) decoded. aiohttp hands header bytes over as UTF-8
    with surrogate escapes; bytes that are not UTF-8 are read as ISO-8859-1 (HTTP's header
    charset). A value that only looks like an encoded word is kept as sent.

    >>> decode_meta_value("caf\\udcc3\\udca9"), decode_meta_value("=?UTF-8?B?Y2Fmw6k=?=")
    ('café', 'café')
    >>> decode_meta_value("caf\\udce9"), decode_meta_value("=?x?B?***?="), decode_meta_value("a")
    ('café', '=?x?B?***?=', 'a')
    """
    if not value.isascii():
        raw = value.encode("utf-8", "surrogateescape")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    if "=?" not in value:
        return value
    try:
        return _ENCODED_WORDS.sub(_decode_words, value)
    except (LookupError, UnicodeDecodeError, binascii.Error, ValueError):
        return value


#: one or more RFC 2047 encoded words (``=?charset?B|Q?text?=``); whitespace between two words
#: is not part of the text
_WORD = r"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?="
_ENCODED_WORD = re.compile(_WORD)
_ENCODED_WORDS = re.compile(f"{_WORD}(?:\\s+{_WORD})*")


def _decode_words(match: re.Match[str]) -> str:
    out = []
    for charset, encoding, text in _ENCODED_WORD.findall(match.group(0)):
        if encoding in "Bb":
            raw = base64.b64decode(text, validate=True)
        else:
            raw = binascii.a2b_qp(text.replace("_", " ").encode("ascii"))
        out.append(raw.decode(charset.split("*", 1)[0]))
    return "".join(out)


def encode_meta_value(value: str) -> str:
    """A stored user metadata value as S3 returns it: as is when it is ASCII, else one RFC 2047
    encoded word (header bytes are ISO-8859-1 to HTTP clients, so raw UTF-8 would be garbled).

    >>> encode_meta_value("café"), encode_meta_value("plain")
    ('=?UTF-8?B?Y2Fmw6k=?=', 'plain')
    """
    if value.isascii():
        return value
    return "=?UTF-8?B?" + base64.b64encode(value.encode("utf-8", "surrogatepass")).decode() + "?="
