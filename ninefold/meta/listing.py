"""Listing with delimiters over an ordered key index, shared by the SQL backends.

:class:`ListCursor` is a small state machine: it says which index range to scan next
(``next_query``) and takes the rows back (``feed``), so a synchronous backend (SQLite on its
thread) and an asynchronous one (asyncpg) drive the very same logic. When a key rolls up into a
common prefix, the scan *seeks past the whole prefix* (to the smallest string greater than every
key that starts with it) instead of walking its keys, so a page costs O(page size) index probes
however many keys hide under each prefix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from ninefold.core import errors
from ninefold.core.checksums import ALGORITHMS
from ninefold.meta.models import (
    ListEntry,
    ListPage,
    VersionEntry,
    VersionPage,
    is_valid_version_id,
    version_id_time,
)

__all__ = [
    "ListCursor",
    "RangeQuery",
    "VersionCursor",
    "VersionQuery",
    "list_page",
    "prefix_successor",
    "resume_below",
]


def prefix_successor(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: no bound).

    UTF-8 byte order equals code point order, so incrementing the last code point works.

    >>> prefix_successor("photos/")
    'photos0'
    >>> prefix_successor("") is None
    True
    """
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF and not 0xD7FF <= last < 0xE000:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


def common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    """The common prefix ``key`` rolls up into (up to and including the first ``delimiter``
    after ``prefix``), or None when it is listed as itself.

    >>> common_prefix("photos/2024/a.jpg", "photos/", "/"), common_prefix("a.jpg", "", "/")
    ('photos/2024/', None)
    """
    if not delimiter:
        return None
    cut = key.find(delimiter, len(prefix))
    return key[: cut + len(delimiter)] if cut >= 0 else None


class RangeQuery(NamedTuple):
    """Rows with ``lower < key`` (``<=`` when inclusive) and ``key < upper``, in key order."""

    lower: str
    inclusive: bool
    upper: str | None
    limit: int


class ListCursor:
    """One page of at most ``max_keys`` keys and common prefixes after ``after``.

    Rows fed back are ``(key, size, etag, last_modified, storage_class, owner, checksums_json)``.
    """

    def __init__(self, *, prefix: str, delimiter: str, after: str, max_keys: int) -> None:
        self.prefix = prefix
        self.delimiter = delimiter
        self.max_keys = max_keys
        self.entries: list[ListEntry] = []
        self.prefixes: list[str] = []
        self.truncated = False
        self.last: str | None = None
        self._done = False
        self._upper = prefix_successor(prefix)
        self._max_batch = min(max(max_keys + 1, 2), 1001)
        #: rows asked for by the next query: one after a seek (the rows behind it would mostly
        #: fall into the next common prefix and be thrown away), doubling while plain keys come
        self._batch = self._max_batch
        self._lower, self._inclusive = after, False
        if prefix > after:
            self._lower, self._inclusive = prefix, True
        # a marker that is itself a common prefix (or inside one) continues after it
        if after.startswith(prefix) and (common := common_prefix(after, prefix, delimiter)):
            self._seek_past(common)

    def _seek_past(self, common: str) -> None:
        successor = prefix_successor(common)
        if successor is None:
            self._done = True
        else:
            self._lower, self._inclusive = successor, True
            self._batch = 1

    def next_query(self) -> RangeQuery | None:
        if self._done:
            return None
        return RangeQuery(self._lower, self._inclusive, self._upper, self._batch)

    def feed(self, rows: Sequence[Sequence[Any]]) -> None:
        asked, self._batch = self._batch, min(self._batch * 2, self._max_batch)
        if not rows:
            self._done = True
            return
        if not self.delimiter and rows[0][0].startswith(self.prefix):
            self._feed_flat(rows, asked)
            return
        for key, size, etag, last_modified, storage_class, owner, checksums in rows:
            if not key.startswith(self.prefix):
                self._done = True
                return
            if len(self.entries) + len(self.prefixes) >= self.max_keys:
                self.truncated, self._done = True, True
                return
            common = common_prefix(key, self.prefix, self.delimiter)
            if common is not None:
                self.prefixes.append(common)
                self.last = common
                self._seek_past(common)
                return
            algorithms = _algorithms(checksums)
            self.entries.append(
                ListEntry(key, size, etag, last_modified, storage_class, owner, algorithms)
            )
            self.last = key
            self._lower, self._inclusive = key, False
        if len(rows) < asked:
            self._done = True

    def _feed_flat(self, rows: Sequence[Sequence[Any]], asked: int) -> None:
        """``feed`` without a delimiter (no common prefixes): the rows are sorted, so those
        between two that start with the prefix start with it too; converted in one pass."""
        room = self.max_keys - len(self.entries)
        if room <= 0:
            self.truncated, self._done = True, True
            return
        take = rows[:room]
        inside = len(take)
        if not take[-1][0].startswith(self.prefix):  # the range ran past the prefix
            inside = next(i for i, row in enumerate(take) if not row[0].startswith(self.prefix))
            take = take[:inside]
            self._done = True
        self.entries.extend(
            [ListEntry(r[0], r[1], r[2], r[3], r[4], r[5], _algorithms(r[6])) for r in take]
        )
        if take:
            self.last = self._lower = take[-1][0]
            self._inclusive = False
        if self._done:
            return
        if len(rows) > room:
            self._done = True
            self.truncated = rows[room][0].startswith(self.prefix)
        elif len(rows) < asked:
            self._done = True

    def page(self) -> ListPage:
        return ListPage(self.entries, self.prefixes, self.truncated, self.last)


def list_page(
    fetch: Callable[[RangeQuery], Sequence[Sequence[Any]]],
    *,
    prefix: str,
    delimiter: str,
    after: str,
    max_keys: int,
) -> ListPage:
    """Drive a :class:`ListCursor` with a synchronous ``fetch``."""
    cursor = ListCursor(prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys)
    while (query := cursor.next_query()) is not None:
        cursor.feed(fetch(query))
    return cursor.page()


#: an id above every row id: "every version of this key"
ALL_VERSIONS = 2**62


def resume_below(version_id_marker: str, rows: Iterable[Sequence[Any]]) -> int:
    """Where a version listing goes on when its ``version-id-marker`` names a version that is
    no longer there (deleted between two pages): the row id the versions of the marker's key
    must be below. ``rows`` are ``(row id, version id, last_modified)`` of the key's remaining
    versions. A version's time is the one its id encodes (``version_id_time``; the ``null``
    version's is its ``last_modified``): those newer than the marker were listed already, the
    others follow. A ``null`` marker has no time: every remaining version follows (listed
    twice rather than lost). A marker that is no version id at all is InvalidArgument.

    >>> rows = [(1, "null", 10.0), (2, "000000009896800" + "0" * 17, 0.0), (5, "null", 30.0)]
    >>> resume_below("00000001312d00" + "0" * 18, rows)  # made at t=20: row 5 is newer
    5
    >>> resume_below("null", rows) == resume_below("0" * 14 + "f" * 18, []) == ALL_VERSIONS
    True
    """
    if not is_valid_version_id(version_id_marker):
        raise errors.InvalidArgument(
            "Invalid version id specified", ArgumentName="version-id-marker"
        )
    marker_time = version_id_time(version_id_marker)
    if marker_time is None:
        return ALL_VERSIONS
    newer = []
    for row_id, version_id, last_modified in rows:
        made = version_id_time(version_id)
        if (float(last_modified) if made is None else made) > marker_time:
            newer.append(int(row_id))
    return min(newer, default=ALL_VERSIONS)


class VersionQuery(NamedTuple):
    """Version rows with ``key > lower`` or ``key == lower and id < below_id``, ordered by key
    and then newest first (id descending), at most ``limit``, keys below ``upper``."""

    lower: str
    below_id: int
    upper: str | None
    limit: int


class VersionCursor:
    """One ListObjectVersions page: at most ``max_keys`` versions, delete markers and common
    prefixes, after (``key_marker``, the version with row id ``marker_id``).

    Rows fed back are ``(key, id, version_id, is_latest, is_delete_marker, size, etag,
    last_modified, storage_class, owner)``.
    """

    def __init__(
        self, *, prefix: str, delimiter: str, key_marker: str, marker_id: int | None, max_keys: int
    ) -> None:
        self.prefix = prefix
        self.delimiter = delimiter
        self.max_keys = max_keys
        self.versions: list[VersionEntry] = []
        self.prefixes: list[str] = []
        self.truncated = False
        self.next_key: str | None = None
        self.next_version: str | None = None
        self._done = False
        self._upper = prefix_successor(prefix)
        self._batch = min(max(max_keys + 1, 2), 1001)
        # key-marker alone: after every version of that key; with a version marker: the
        # versions of that key older than the marker, then the keys after it
        self._lower, self._below = key_marker, (marker_id if marker_id is not None else -1)
        if prefix > key_marker:
            self._lower, self._below = prefix, ALL_VERSIONS
        if key_marker.startswith(prefix) and (
            common := common_prefix(key_marker, prefix, delimiter)
        ):
            self._seek_past(common)

    def _seek_past(self, common: str) -> None:
        successor = prefix_successor(common)
        if successor is None:
            self._done = True
        else:
            self._lower, self._below = successor, ALL_VERSIONS

    def next_query(self) -> VersionQuery | None:
        if self._done:
            return None
        return VersionQuery(self._lower, self._below, self._upper, self._batch)

    def feed(self, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            self._done = True
            return
        for key, row_id, version_id, latest, marker, size, etag, lm, sclass, owner in rows:
            if not key.startswith(self.prefix):
                self._done = True
                return
            if len(self.versions) + len(self.prefixes) >= self.max_keys:
                self.truncated, self._done = True, True
                return
            common = common_prefix(key, self.prefix, self.delimiter)
            if common is not None:
                self.prefixes.append(common)
                self.next_key, self.next_version = common, None
                self._seek_past(common)
                return
            self.versions.append(
                VersionEntry(
                    key, version_id, bool(latest), bool(marker), size, etag, lm, sclass, owner
                )
            )
            self.next_key, self.next_version = key, version_id
            self._lower, self._below = key, row_id
        if len(rows) < self._batch:
            self._done = True

    def page(self) -> VersionPage:
        if not self.truncated:
            return VersionPage(self.versions, self.prefixes, False, None, None)
        return VersionPage(self.versions, self.prefixes, True, self.next_key, self.next_version)


def _algorithms(checksums: str) -> tuple[str, ...]:
    """The checksum algorithms of an object's stored checksums (a JSON object such as
    ``{"crc64nvme": "<base64>", "type": "FULL_OBJECT"}``), without parsing it: names are a fixed
    set and base64 values never contain a quote."""
    if checksums == "{}":
        return ()
    return tuple(_ALGORITHM_KEY.findall(checksums))


_ALGORITHM_KEY = re.compile('"(' + "|".join(re.escape(a) for a in ALGORITHMS) + ')":')
