"""``admin heal status``: the ETA comes from the rate at which chunks were actually repaired
recently; "unknown" before a rate is measured or when nothing moved while work remains (never
"1 s" for a queue that is stuck), and "-" with nothing to do."""

from __future__ import annotations

import pytest
from rich.console import Console

from ninefold.cli.heal import format_eta, heal_view, repair_eta
from ninefold.workers.repair import RATE_WINDOW_S, RepairStats


@pytest.mark.parametrize(
    ("queued", "rate", "eta", "shown"),
    [
        (0, None, 0.0, "-"),
        (0, 3.0, 0.0, "-"),
        (12, None, None, "unknown"),
        (12, 0.0, None, "unknown"),
        (12, 4.0, 3.0, "3 s"),
        (1, 100.0, 0.01, "1 s"),
        (300, 2.0, 150.0, "2 min 30 s"),
        (7200, 0.5, 14400.0, "4 h 00 min"),
    ],
)
def test_eta(queued: int, rate: float | None, eta: float | None, shown: str) -> None:
    assert repair_eta(queued, rate) == eta
    assert format_eta(queued, rate) == shown


def test_the_rate_is_measured_over_the_recent_window() -> None:
    stats = RepairStats()
    assert stats.chunks_per_s() is None
    stats.sample(100.0)
    assert stats.chunks_per_s() is None  # one point is no rate
    stats.chunks_repaired = 20
    stats.sample(110.0)
    assert stats.chunks_per_s() == 2.0
    # then nothing more is repaired: once the window has passed, the rate is 0
    stats.sample(110.0 + RATE_WINDOW_S)
    stats.sample(110.0 + 2 * RATE_WINDOW_S)
    assert stats.chunks_per_s() == 0.0
    assert format_eta(5, stats.chunks_per_s()) == "unknown"


def render(status: dict[str, object], queued: int) -> str:
    console = Console(width=120, record=True)
    console.print(heal_view({"repair": (status, 1000.0)}, queued, 1001.0))
    return console.export_text()


def test_a_stuck_queue_shows_an_unknown_eta_not_a_small_one() -> None:
    # the old view: 12 queued, 1 MB per chunk at 10 MB/s measured long ago -> "ETA 1 s"
    stuck = {
        "chunks_repaired": 10,
        "bytes_rebuilt": 10_000_000,
        "bytes_per_s": 10_000_000.0,
        "chunks_per_s": 0.0,
        "rate_window_s": 60.0,
        "lost_stores": ["d3"],
    }
    text = render(stuck, 12)
    assert "unknown" in text.split("ETA", 1)[1].splitlines()[0]
    assert "d3" in text.split("failed drives", 1)[1].splitlines()[0]
    moving = {**stuck, "chunks_per_s": 0.5}
    assert "24 s" in render(moving, 12).split("ETA", 1)[1].splitlines()[0]
    assert "-" in render(moving, 0).split("ETA", 1)[1].splitlines()[0]
