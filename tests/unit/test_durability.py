"""The durability model (``placement/durability.py``) and ``ninefold admin durability``.

The model against textbook results (m = 1 closed form, no-repair harmonic sum), its direction
(parity, repair speed, failure rate, zones), and the command run as a real process against an
embedded server's data directory and a cluster map.
"""

from __future__ import annotations

import asyncio
import doctest
import itertools
import math
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ninefold.cli.durability
import ninefold.placement.durability
from ninefold.meta.models import NodeRecord
from ninefold.meta.sqlite import SqliteMetaStore
from ninefold.placement.durability import (
    HOURS_PER_YEAR,
    ClusterInputs,
    StripeChain,
    count_subsets,
    equivalent_groups,
    estimate,
    loss_probability,
    mean_time_to_loss_h,
    occupancy,
    outage_loss_probability,
    rate_per_hour,
)
from tests.support.server import ServerProc

#: 12 drives in 3 zones, 2 %/yr drives, 0.1 %/yr zones, 50 MB/s, 4 TB per drive, 5 min delay
BASE = ClusterInputs(6, 3, (4, 4, 4), 0.02, 0.001, 50e6, 4e12, 300.0)


def nines(inputs: ClusterInputs = BASE, **changes: object) -> float:
    return estimate(replace(inputs, **changes)).nines  # type: ignore[arg-type]


@pytest.mark.parametrize("module", [ninefold.placement.durability, ninefold.cli.durability])
def test_docstring_examples(module: object) -> None:
    assert doctest.testmod(module).failed == 0  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- the chain


@pytest.mark.parametrize("n", [2, 3, 4, 9, 17])
@pytest.mark.parametrize(("afr", "mttr_h"), [(0.02, 24.0), (0.08, 1.0), (0.5, 500.0)])
def test_one_parity_matches_the_closed_form(n: int, afr: float, mttr_h: float) -> None:
    lam, mu = rate_per_hour(afr), 1.0 / mttr_h
    closed = ((2 * n - 1) * lam + mu) / (n * (n - 1) * lam**2)
    assert mean_time_to_loss_h(StripeChain(n, 1, lam, mu)) == pytest.approx(closed, rel=1e-6)


@pytest.mark.parametrize(("n", "m"), [(9, 3), (4, 3), (14, 4), (3, 0)])
def test_without_repair_the_drives_fail_in_turn(n: int, m: int) -> None:
    lam = rate_per_hour(0.02)
    expected = sum(1.0 / ((n - i) * lam) for i in range(m + 1))
    assert mean_time_to_loss_h(StripeChain(n, m, lam, 0.0)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("n", "m"), [(9, 3), (4, 3), (14, 4), (9, 2)])
@pytest.mark.parametrize("mttr_h", [0.5, 22.3, 2000.0])
def test_repair_cycles_match_the_renewal_formula(n: int, m: int, mttr_h: float) -> None:
    # repair makes the stripe whole (i -> 0), so its life is a sequence of independent cycles
    # 0 -> 1 -> ... -> back to 0 or on to m + 1: MTTDL = E[cycle length] / P(cycle ends in loss)
    # (Wald). The exact solve must hold up although MTTDL * mu reaches ~1e13.
    lam, mu = rate_per_hour(0.02), 1.0 / mttr_h
    length, reach = 1.0 / (n * lam), 1.0
    for i in range(1, m + 1):
        out = (n - i) * lam + mu
        length += reach / out
        reach *= (n - i) * lam / out
    got = mean_time_to_loss_h(StripeChain(n, m, lam, mu))
    assert got == pytest.approx(length / reach, rel=1e-9)
    if mttr_h < 100:  # the rare-event approximation mu**m / (n (n-1) ... (n-m) lambda**(m+1))
        approx = mu**m / (math.prod(range(n - m, n + 1)) * lam ** (m + 1))
        assert got == pytest.approx(approx, rel=1e-2)


def test_loss_probability_from_the_last_parity_is_a_race() -> None:
    lam, mu = 0.01, 0.3
    chain = StripeChain(9, 3, lam, mu)
    assert loss_probability(chain, 3) == pytest.approx(6 * lam / (6 * lam + mu), rel=1e-12)
    assert loss_probability(chain, 1) < loss_probability(chain, 2) < loss_probability(chain, 3)
    assert loss_probability(chain, 4) == 1.0


def test_a_zone_jump_past_the_parity_is_loss() -> None:
    lam, zone = rate_per_hour(0.02), rate_per_hour(0.001)
    # one zone: an outage takes all 9 fragments, so MTTDL is at most 1 / zone rate
    one = StripeChain(9, 3, lam, 1 / 22.3, zone_outage_per_h=zone, zone_loss=9)
    assert mean_time_to_loss_h(one) == pytest.approx(1 / (zone + 1 / 1.21e15), rel=0.01)
    # three zones: an outage takes 3 of 9, and the stripe lives on unless it was degraded
    # already (~4.6e-4 of the time) or a drive fails during the rebuild (~3e-4)
    three = StripeChain(9, 3, lam, 1 / 22.3, zone_outage_per_h=3 * zone, zone_loss=3)
    assert mean_time_to_loss_h(three) > 300 * mean_time_to_loss_h(one)


def test_zone_term_of_the_estimate_agrees_with_the_full_chain() -> None:
    # one stripe, same repair rate after an outage: hazard = 1/MTTDL(drives) + outage rate *
    # P(loss | outage) must match the chain that has the zone jump built in
    lam, mu, zone = rate_per_hour(0.02), 1 / 22.3, rate_per_hour(0.001)
    drives_only = StripeChain(9, 3, lam, mu)
    for jump in (1, 2, 3):
        full = StripeChain(9, 3, lam, mu, zone_outage_per_h=3 * zone, zone_loss=jump)
        given = outage_loss_probability(drives_only, full, jump)
        split = 1 / mean_time_to_loss_h(drives_only) + 3 * zone * given
        assert 1 / mean_time_to_loss_h(full) == pytest.approx(split, rel=0.01)
    # leaving out the stripes that were degraded already would be 2.5x too optimistic
    assert loss_probability(full, 3) < 0.5 * given


def test_occupancy_is_mostly_whole() -> None:
    shares = occupancy(StripeChain(9, 3, rate_per_hour(0.02), 1 / 22.3))
    assert sum(shares) == pytest.approx(1.0)
    assert shares[0] > 0.999 and shares[1] > shares[2] > shares[3] > 0


def test_chain_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        StripeChain(3, 3, 0.1, 1.0)
    with pytest.raises(ValueError):
        StripeChain(9, 3, 0.0, 1.0)
    with pytest.raises(ValueError):
        rate_per_hour(1.0)


# ------------------------------------------------------------------------------- groups


@pytest.mark.parametrize(
    ("zones", "size", "cap"), [((9,), 4, 9), ((3, 3, 3), 4, 3), ((4, 2, 3), 3, 2), ((2, 2), 4, 1)]
)
def test_count_subsets_by_brute_force(zones: tuple[int, ...], size: int, cap: int) -> None:
    drives = [z for z, count in enumerate(zones) for _ in range(count)]
    brute = sum(
        1
        for pick in itertools.combinations(range(len(drives)), size)
        if all(sum(drives[i] == z for i in pick) <= cap for z in range(len(zones)))
    )
    assert count_subsets(zones, size, cap) == brute


def test_placement_groups() -> None:
    assert equivalent_groups((9,), 9, 4, 9) == 1.0  # every stripe on the same 9 drives
    assert equivalent_groups((30,), 9, 1, 30) == pytest.approx(30 / 9)  # m = 0: N / n
    full = equivalent_groups((10, 10, 10), 9, 4, 3)
    assert equivalent_groups((10, 10, 10), 9, 4, 3, chunks=1) == 1.0
    assert equivalent_groups((10, 10, 10), 9, 4, 3, chunks=10) <= 10
    assert equivalent_groups((10, 10, 10), 9, 4, 3, chunks=10**7) == pytest.approx(full)
    assert equivalent_groups((10, 10, 10), 9, 4, 3, chunks=0) == 0.0
    assert full < math.comb(30, 9)  # far fewer than the n-subsets: stripes share drives


# ------------------------------------------------------------------------------- direction


def test_more_parity_more_nines() -> None:
    for zones in [(4, 4, 4), (10,), (2,) * 6, (1,) * 12]:
        by_m = [nines(m=m, zone_drives=zones, zone_afr=0.0) for m in (1, 2, 3, 4)]
        assert by_m[0] < by_m[1] < by_m[2] < by_m[3], zones
    for zones in [(2,) * 6, (1,) * 12]:  # enough zones that the per-zone share stays small
        by_m = [nines(m=m, zone_drives=zones) for m in (1, 2, 3, 4)]
        assert by_m[0] < by_m[1] < by_m[2] < by_m[3], zones


def test_parity_that_lands_in_the_same_zones_does_not_help_against_zone_loss() -> None:
    # 3 zones: 6+3 puts 3 fragments in each, 6+4 puts 4: either way a zone outage leaves no
    # spare fragment, so the fourth parity fragment buys (almost) nothing
    six_three, six_four = estimate(BASE), estimate(replace(BASE, m=4))
    assert (six_three.zone_share, six_four.zone_share) == (3, 4)
    assert six_four.nines == pytest.approx(six_three.nines, abs=0.1)


def test_faster_repair_more_nines() -> None:
    by_rate = [nines(repair_bytes_per_s=r) for r in (5e6, 50e6, 500e6)]
    assert by_rate[0] < by_rate[1] < by_rate[2]
    assert nines(detect_s=60.0) > nines(detect_s=3600.0)
    assert nines(bytes_per_drive=1e12) > nines(bytes_per_drive=16e12)


def test_higher_failure_rate_fewer_nines() -> None:
    assert nines(drive_afr=0.01) > nines(drive_afr=0.02) > nines(drive_afr=0.08)
    assert nines(zone_afr=0.0001) > nines(zone_afr=0.001) > nines(zone_afr=0.01)


def test_more_drives_more_placement_groups_fewer_nines_from_drives() -> None:
    small = estimate(replace(BASE, zone_drives=(3, 3, 3), zone_afr=0.0))
    large = estimate(replace(BASE, zone_drives=(20, 20, 20), zone_afr=0.0))
    assert small.groups == 1.0 < large.groups
    assert small.nines > large.nines


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(1, 5),
    zones=st.lists(st.integers(1, 8), min_size=1, max_size=5),
    afr=st.floats(0.005, 0.2),
    rate=st.floats(1e6, 1e9),
)
def test_nines_monotone_in_repair_rate(m: int, zones: list[int], afr: float, rate: float) -> None:
    inputs = ClusterInputs(6, m, tuple(zones), afr, 0.001, rate, 4e12, 300.0)
    if sum(zones) < inputs.width:
        return
    assert nines(inputs) <= nines(inputs, repair_bytes_per_s=rate * 2)


# ------------------------------------------------------------------------------- zones


def test_three_zones_survive_a_zone_one_zone_does_not() -> None:
    three = estimate(replace(BASE, zone_drives=(3, 3, 3)))
    assert three.zone_share == 3 and three.zone_survivable  # 3 <= m
    assert three.zone_loss_given_outage < 1e-2
    assert three.nines > 5

    one = estimate(replace(BASE, zone_drives=(9,)))
    assert one.zone_share == 9 and not one.zone_survivable
    assert one.zone_loss_given_outage == 1.0
    assert one.annual_loss_zones == pytest.approx(BASE.zone_afr, rel=1e-9)
    assert one.nines == pytest.approx(3.0, abs=0.01)
    assert three.nines > one.nines + 2


def test_two_zones_cannot_hold_a_zone_loss_of_six_plus_three() -> None:
    two = estimate(replace(BASE, zone_drives=(6, 6)))
    assert two.zone_share == 5 and not two.zone_survivable  # ceil(9 / 2) > 3


def test_without_zone_failures_only_the_drives_count() -> None:
    result = estimate(replace(BASE, zone_drives=(9,), zone_afr=0.0))
    assert result.annual_loss_zones == 0.0
    expected = -math.expm1(-HOURS_PER_YEAR / result.mttdl_h)  # one group
    assert result.annual_loss == pytest.approx(expected, rel=1e-9)


# ------------------------------------------------------------------------------- the command


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "ninefold", "admin", "durability", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def nines_printed(stdout: str) -> str:
    match = re.search(r"Annual durability: (> 15|\d+\.\d) nines", stdout)
    assert match, stdout
    return match[1]


async def make_meta(
    path: Path, nodes: list[NodeRecord], repair_bytes_per_s: float | None = None
) -> None:
    meta = await SqliteMetaStore.open(path)
    try:
        for node in nodes:
            await meta.put_node(node)
        if repair_bytes_per_s is not None:
            status = {"chunks_repaired": 3, "bytes_rebuilt": 10**9, "busy_s": 5.0}
            await meta.put_job_status("repair", {**status, "bytes_per_s": repair_bytes_per_s})
    finally:
        await meta.close()


def test_command_on_a_real_embedded_server(fresh_server: ServerProc) -> None:
    result = run_cli("--data-dir", str(fresh_server.data_dir))
    assert result.returncode == 0, result.stderr
    assert nines_printed(result.stdout) == "3.0"  # one machine: its own loss is data loss
    assert "ASSUMED" in result.stdout and "No repair rate was ever measured" in result.stdout
    assert "9 of 9 fragments" in result.stdout and "data loss" in result.stdout


def test_command_uses_the_measured_repair_rate(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    for i in range(1, 10):
        (data_dir / "drives" / f"d{i}").mkdir(parents=True)
    asyncio.run(make_meta(data_dir / "meta.db", [], repair_bytes_per_s=200e6))
    result = run_cli("--data-dir", str(data_dir), "--zone-afr", "0")
    assert result.returncode == 0, result.stderr
    assert "200.0 MB/s" in result.stdout and "measured by the repair worker" in result.stdout
    assert "ASSUMED" not in result.stdout
    assert float(nines_printed(result.stdout)) > 10


def test_command_on_a_cluster_map_with_three_zones(tmp_path: Path) -> None:
    nodes = [
        NodeRecord(f"n{i}", f"http://10.0.0.{i}:7000", f"z{i % 3}", ("d1", "d2")) for i in range(6)
    ]
    asyncio.run(make_meta(tmp_path / "meta.db", nodes))
    result = run_cli("--meta", str(tmp_path / "meta.db"), "--used-bytes", str(12 * 10**12))
    assert result.returncode == 0, result.stderr
    assert "3 of 9 fragments" in result.stdout and "survivable" in result.stdout
    assert "drives per zone: z0: 4, z1: 4, z2: 4" in result.stdout
    assert float(nines_printed(result.stdout)) > 5


def test_an_empty_cluster_map_is_an_error(tmp_path: Path) -> None:
    asyncio.run(make_meta(tmp_path / "meta.db", []))
    result = run_cli("--meta", str(tmp_path / "meta.db"))
    assert result.returncode != 0
    assert "no nodes" in result.stderr


@pytest.mark.parametrize("both", [False, True])
def test_exactly_one_of_meta_and_data_dir(tmp_path: Path, both: bool) -> None:
    args = ["--meta", str(tmp_path / "meta.db"), "--data-dir", str(tmp_path)] if both else []
    result = run_cli(*args)
    assert result.returncode == 2
    assert "exactly one of --meta" in result.stderr
    assert not (tmp_path / "meta.db").exists()  # nothing was opened, let alone created


def test_missing_data_dir_is_an_error(tmp_path: Path) -> None:
    result = run_cli("--data-dir", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "not a Ninefold data directory" in result.stderr
