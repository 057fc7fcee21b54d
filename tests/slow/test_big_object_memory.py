"""A 2 GiB object goes up and comes back with the server's RSS (all processes) below 300 MB."""

from __future__ import annotations

import pytest

from benchmarks.bigobject import measure

pytestmark = pytest.mark.slow

RSS_LIMIT_MB = 300


@pytest.mark.parametrize("multipart", [False, True], ids=["single-put", "multipart"])
def test_two_gib_object_streams_with_bounded_memory(multipart: bool) -> None:
    result = measure(2 * 1024**3, multipart, workers=2)
    assert result["md5_ok"] is True
    assert float(result["peak_rss_mb"]) < RSS_LIMIT_MB, result  # type: ignore[arg-type]
