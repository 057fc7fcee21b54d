"""Durability model: the probability that a cluster loses data within a year. Pure, no I/O.

One erasure-coded chunk (a *stripe*: n = k + m fragments on n distinct drives) is a
continuous-time Markov chain on the number of its fragments that are lost: state i = 0..m, and
the absorbing state m + 1 = data loss. Drive failures move i -> i + 1 at rate (n - i) * lambda;
a whole-zone outage takes ``zone_loss`` fragments at once (i -> min(i + zone_loss, m + 1));
repair moves i -> 0 at rate mu, because Ninefold's repair worker rebuilds *every* missing
fragment of a queued chunk in one go. The expected time to absorption from state 0 is the
stripe's mean time to data loss (MTTDL), solved exactly in rational arithmetic: the chain is
nearly singular (MTTDL * rate is ~1e15), which a float elimination would not survive.

A cluster holds many overlapping stripes. Drive failures are counted through the number of
*equivalent independent placement groups*: data is lost when m + 1 drives that together hold
fragments of one chunk fail before repair, so the cluster's loss rate is the stripe's loss rate
times (distinct (m + 1)-drive sets that hold a chunk) / (such sets inside one stripe). Zone
outages hit every stripe at once, so they are a separate, cluster-wide term. The derivation,
the assumptions and a worked example are in ``docs/durability.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "HOURS_PER_YEAR",
    "ClusterInputs",
    "DurabilityEstimate",
    "StripeChain",
    "count_subsets",
    "equivalent_groups",
    "estimate",
    "loss_probability",
    "mean_time_to_loss_h",
    "occupancy",
    "outage_loss_probability",
    "rate_per_hour",
    "zone_share",
]

#: a Julian year (365.25 days), the unit of "annual"
HOURS_PER_YEAR = 8766.0


def rate_per_hour(annual_probability: float) -> float:
    """The constant hazard (per hour) of an exponential lifetime that ends within one year with
    probability ``annual_probability`` (an annual failure rate such as 0.02).

    >>> round(rate_per_hour(0.02) * HOURS_PER_YEAR, 6)
    0.020203
    >>> rate_per_hour(0.0)
    0.0
    """
    if not 0.0 <= annual_probability < 1.0:
        raise ValueError(f"an annual probability is in [0, 1), got {annual_probability}")
    return -math.log1p(-annual_probability) / HOURS_PER_YEAR


@dataclass(frozen=True, slots=True)
class StripeChain:
    """The Markov chain of one stripe: ``width`` = n fragments, any ``parity`` = m of which may
    be lost. Rates per hour: ``failure_per_h`` (one drive), ``repair_per_h`` (1 / MTTR, to the
    whole stripe), ``zone_outage_per_h`` (an outage of any zone the stripe uses, taking
    ``zone_loss`` fragments at once; 0 for none)."""

    width: int
    parity: int
    failure_per_h: float
    repair_per_h: float
    zone_outage_per_h: float = 0.0
    zone_loss: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.parity < self.width:
            raise ValueError(f"need 0 <= m < n, got n={self.width} m={self.parity}")
        if self.failure_per_h <= 0:
            raise ValueError("the drive failure rate must be positive")
        if self.repair_per_h < 0 or self.zone_outage_per_h < 0 or self.zone_loss < 0:
            raise ValueError("rates and the zone loss are not negative")

    def transitions(self, state: int) -> dict[int, Fraction]:
        """Exact outgoing rates of transient ``state`` (0..m): {next state: rate per hour}."""
        loss = self.parity + 1
        out: dict[int, Fraction] = {}

        def add(to: int, rate: float | Fraction) -> None:
            if rate > 0 and to != state:
                out[to] = out.get(to, Fraction(0)) + Fraction(rate)

        add(state + 1, (self.width - state) * Fraction(self.failure_per_h))
        if self.zone_loss:
            add(min(state + self.zone_loss, loss), self.zone_outage_per_h)
        if state:
            add(0, self.repair_per_h)
        return out


def _solve(matrix: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction]:
    """``matrix @ x = rhs`` by Gauss-Jordan elimination in exact arithmetic (tiny systems)."""
    size = len(rhs)
    rows = [[*row, b] for row, b in zip(matrix, rhs, strict=True)]
    for col in range(size):
        pivot = next(r for r in range(col, size) if rows[r][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        lead = rows[col][col]
        rows[col] = [v / lead for v in rows[col]]
        for r in range(size):
            if r != col and rows[r][col] != 0:
                factor = rows[r][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    return [row[size] for row in rows]


def _rate_matrix(chain: StripeChain) -> list[list[Fraction]]:
    """``-Q`` restricted to the transient states 0..m: ``q_i`` (total outgoing rate) on the
    diagonal, ``-q_ij`` elsewhere; the rates into m + 1 only count in ``q_i``."""
    states = range(chain.parity + 1)
    matrix = [[Fraction(0)] * len(states) for _ in states]
    for i in states:
        for j, rate in chain.transitions(i).items():
            matrix[i][i] += rate
            if j <= chain.parity:
                matrix[i][j] -= rate
    return matrix


def mean_time_to_loss_h(chain: StripeChain, start: int = 0) -> float:
    """Expected hours until data loss from ``start`` lost fragments (MTTDL for ``start=0``):
    the solution of ``q_i T_i - sum_j q_ij T_j = 1`` over the transient states.

    One parity fragment, no repair: n drives, then n - 1, must fail in turn.

    >>> chain = StripeChain(width=2, parity=1, failure_per_h=0.5, repair_per_h=0.0)
    >>> mean_time_to_loss_h(chain)  # 1 / (2 * 0.5) + 1 / 0.5
    3.0
    """
    return float(_solve(_rate_matrix(chain), [Fraction(1)] * (chain.parity + 1))[start])


def occupancy(chain: StripeChain) -> list[float]:
    """Share of a stripe's life (from whole to lost) spent with 0..m fragments lost: the
    expected time in each state, ``e_0 (-Q)^-1``, over the MTTDL. It is what a random moment
    finds, e.g. the moment a zone goes down.

    >>> [round(p, 3) for p in occupancy(StripeChain(9, 3, failure_per_h=1.0, repair_per_h=81.0))]
    [0.9, 0.091, 0.008, 0.001]
    """
    size = chain.parity + 1
    matrix = _rate_matrix(chain)
    transposed = [[matrix[j][i] for j in range(size)] for i in range(size)]
    times = _solve(transposed, [Fraction(int(i == 0)) for i in range(size)])
    total = sum(times)
    return [float(t / total) for t in times]


def loss_probability(chain: StripeChain, start: int) -> float:
    """Probability that a stripe with ``start`` lost fragments loses data before repair makes
    it whole again (absorption in m + 1 before a visit to state 0).

    >>> chain = StripeChain(width=9, parity=3, failure_per_h=1.0, repair_per_h=5.0)
    >>> loss_probability(chain, 3)  # 6 drives race one repair: 6 / (6 + 5)
    0.5454545454545454
    >>> loss_probability(chain, 4)
    1.0
    """
    if start <= 0:
        raise ValueError("the stripe must have lost a fragment")
    if start > chain.parity:
        return 1.0
    states = range(1, chain.parity + 1)
    matrix = [[Fraction(0)] * len(states) for _ in states]
    rhs = [Fraction(0)] * len(states)
    for i in states:
        for j, rate in chain.transitions(i).items():
            matrix[i - 1][i - 1] += rate
            if j > chain.parity:
                rhs[i - 1] += rate
            elif j > 0:
                matrix[i - 1][j - 1] -= rate
    return float(_solve(matrix, rhs)[start - 1])


def outage_loss_probability(before: StripeChain, after: StripeChain, zone_loss: int) -> float:
    """Probability that a zone outage taking ``zone_loss`` fragments ends in the loss of a
    stripe: the outage finds it with i fragments already lost (``occupancy(before)``, counted
    as outside the zone: conservative), which makes i + zone_loss, and the stripe then races
    the rebuild modelled by ``after`` (its repair rate: the whole zone's rebuild).

    >>> chain = StripeChain(9, 3, failure_per_h=1.0, repair_per_h=81.0)
    >>> outage_loss_probability(chain, chain, 4)
    1.0
    >>> round(outage_loss_probability(chain, chain, 3), 3)  # 0.9 * 6/87 + 0.1 * 1
    0.162
    """
    if zone_loss > after.parity:
        return 1.0
    return sum(
        share * loss_probability(after, lost + zone_loss)
        for lost, share in enumerate(occupancy(before))
    )


def count_subsets(zone_sizes: Sequence[int], size: int, per_zone_cap: int) -> int:
    """Sets of ``size`` drives with at most ``per_zone_cap`` in any zone, zones holding
    ``zone_sizes`` drives (the coefficient of x**size in prod_z sum_j C(N_z, j) x**j).

    >>> count_subsets([9], 4, 9), count_subsets([3, 3, 3], 4, 3), count_subsets([3, 3, 3], 4, 1)
    (126, 126, 0)
    >>> count_subsets([4, 4], 4, 2)  # two from each zone: 6 * 6
    36
    """
    poly = [1]
    for drives in zone_sizes:
        term = [math.comb(drives, j) for j in range(min(drives, per_zone_cap) + 1)]
        product = [0] * min(len(poly) + len(term) - 1, size + 1)
        for a, ca in enumerate(poly):
            for b, cb in enumerate(term):
                if a + b <= size:
                    product[a + b] += ca * cb
        poly = product
    return poly[size] if size < len(poly) else 0


def zone_share(zone_sizes: Sequence[int], width: int) -> int:
    """The most fragments of one stripe that placement puts in a single zone: ``ceil(width /
    zones)``, more when small zones run out of drives (``placement.rendezvous.place`` raises its
    per-zone cap one at a time until the stripe fits).

    >>> zone_share([3, 3, 3], 9), zone_share([9], 9), zone_share([5, 2, 2], 9)
    (3, 9, 5)
    >>> zone_share([1] * 12, 9)
    1
    """
    zones = [z for z in zone_sizes if z > 0]
    if sum(zones) < width:
        raise ValueError(f"a stripe of {width} fragments needs {width} drives, have {sum(zones)}")
    cap = math.ceil(width / len(zones))
    while sum(min(z, cap) for z in zones) < width:
        cap += 1
    return min(cap, max(zones))


def equivalent_groups(
    zone_sizes: Sequence[int], width: int, fatal: int, cap: int, chunks: int | None = None
) -> float:
    """How many independent stripes the cluster is worth for losses of ``fatal`` fragments.

    A loss needs ``fatal`` failed drives that all hold fragments of one chunk. There are
    ``S = count_subsets(zone_sizes, fatal, cap)`` such drive sets that placement can use, one
    stripe covers ``s = C(width, fatal)`` of them, and ``chunks`` chunks placed at random cover
    ``S * (1 - (1 - s/S)**chunks)`` on average (all ``S`` when ``chunks`` is None: a cluster
    with plenty of data). The cluster's loss rate is that many sets' worth of one stripe's, so
    it counts as ``covered / s`` stripes (never fewer than one while it holds any chunk).

    >>> equivalent_groups([9], 9, 4, 9)  # every drive in every stripe: one group
    1.0
    >>> round(equivalent_groups([10] * 3, 9, 4, 3), 1)  # C(30, 4) - 3 C(10, 4), over C(9, 4)
    212.5
    >>> equivalent_groups([10] * 3, 9, 4, 3, chunks=1)
    1.0
    """
    per_stripe = math.comb(width, fatal)
    sets = count_subsets(zone_sizes, fatal, cap)
    if chunks == 0 or sets == 0:
        return 0.0
    if chunks is None:
        covered = float(sets)
    else:
        covered = -sets * math.expm1(chunks * math.log1p(-min(1.0, per_stripe / sets)))
    return max(1.0, covered / per_stripe)


@dataclass(frozen=True, slots=True)
class ClusterInputs:
    """What the estimate starts from. ``zone_drives``: drives per zone. Rates are annual
    probabilities (0.02 = 2 %); ``repair_bytes_per_s`` is the rebuild rate, and the time to
    repair a drive is ``detect_s + bytes_per_drive / repair_bytes_per_s``; ``chunks`` caps the
    placement groups (None: enough data to use them all)."""

    k: int
    m: int
    zone_drives: tuple[int, ...]
    drive_afr: float
    zone_afr: float
    repair_bytes_per_s: float
    bytes_per_drive: float
    detect_s: float
    chunks: int | None = None

    @property
    def width(self) -> int:
        return self.k + self.m

    @property
    def drives(self) -> int:
        return sum(self.zone_drives)

    @property
    def zones(self) -> int:
        return sum(1 for z in self.zone_drives if z > 0)


@dataclass(frozen=True, slots=True)
class DurabilityEstimate:
    """The model's results (hours, per-hour rates, annual probabilities).

    ``mttdl_h``: one stripe, drive failures only. ``groups``: equivalent independent stripes.
    ``zone_share``: fragments of a stripe one zone outage takes; ``zone_loss_given_outage``:
    probability that a zone outage ends in data loss somewhere (1 when zone_share > m).
    ``annual_loss`` = 1 - (1 - annual_loss_drives) * (1 - annual_loss_zones); ``nines`` =
    -log10(annual_loss), infinite when it is 0."""

    inputs: ClusterInputs
    failure_per_h: float
    zone_outage_per_h: float
    mttr_h: float
    zone_mttr_h: float
    mttdl_h: float
    groups: float
    zone_share: int
    zone_loss_given_outage: float
    annual_loss_drives: float
    annual_loss_zones: float
    annual_loss: float
    nines: float

    @property
    def zone_survivable(self) -> bool:
        return self.zone_share <= self.inputs.m


def _per_year(rate_per_h: float) -> float:
    return -math.expm1(-rate_per_h * HOURS_PER_YEAR)


def estimate(inputs: ClusterInputs) -> DurabilityEstimate:
    """Annual loss probability and nines of a cluster (``docs/durability.md``).

    The embedded server: 9 drives of 4 TB on one machine (one zone), rebuilt at 50 MB/s. Losing
    4 of its drives within one repair window takes ~1e11 years on average, but an outage of the
    machine itself (0.1 %/yr) takes all 9 fragments and dominates. Three zones of three drives
    survive a zone outage unless another drive fails while the zone is rebuilt:

    >>> one_box = ClusterInputs(6, 3, (9,), 0.02, 0.001, 50e6, 4e12, 300.0)
    >>> result = estimate(one_box)
    >>> result.groups, result.zone_share, result.zone_survivable
    (1.0, 9, False)
    >>> round(result.nines, 2)
    3.0
    >>> round(estimate(ClusterInputs(6, 3, (3, 3, 3), 0.02, 0.001, 50e6, 4e12, 300.0)).nines, 1)
    5.4
    """
    if inputs.k < 1 or inputs.m < 0:
        raise ValueError(f"need k >= 1 and m >= 0, got k={inputs.k} m={inputs.m}")
    if inputs.repair_bytes_per_s <= 0 or inputs.bytes_per_drive < 0 or inputs.detect_s < 0:
        raise ValueError("the repair rate is positive; data per drive and delay not negative")
    n, m = inputs.width, inputs.m
    share = zone_share(inputs.zone_drives, n)
    failure = rate_per_hour(inputs.drive_afr)
    zone_outage = rate_per_hour(inputs.zone_afr)
    rebuild_s = inputs.bytes_per_drive / inputs.repair_bytes_per_s
    mttr_h = (inputs.detect_s + rebuild_s) / 3600.0
    if mttr_h <= 0:
        raise ValueError("nothing to rebuild and no detection delay: the repair time is zero")
    chain = StripeChain(n, m, failure, 1.0 / mttr_h)
    mttdl_h = mean_time_to_loss_h(chain)
    groups = equivalent_groups(inputs.zone_drives, n, m + 1, share, inputs.chunks)

    # A zone outage takes `share` fragments of every stripe at once; with share <= m a stripe
    # survives unless m + 1 - share of its other drives are down already or fail while the whole
    # zone's data is rebuilt (as many drive-rebuilds as the largest zone has drives).
    zone_mttr_h = (inputs.detect_s + max(inputs.zone_drives) * rebuild_s) / 3600.0
    if groups == 0 or zone_outage == 0:
        given_outage = 0.0
    elif share > m:
        given_outage = 1.0
    else:
        # another zone of the stripe's going down meanwhile counts too
        others = (min(inputs.zones, n) - 1) * zone_outage
        after = StripeChain(n, m, failure, 1.0 / zone_mttr_h, others, share)
        stripe = outage_loss_probability(chain, after, share)
        survivors = sorted(inputs.zone_drives)[:-1]
        left = equivalent_groups(survivors, n - share, m + 1 - share, share, inputs.chunks)
        given_outage = -math.expm1(left * math.log1p(-stripe)) if stripe < 1 else 1.0
    drives_per_h = groups / mttdl_h
    zones_per_h = inputs.zones * zone_outage * given_outage
    annual_loss = _per_year(drives_per_h + zones_per_h)
    return DurabilityEstimate(
        inputs=inputs,
        failure_per_h=failure,
        zone_outage_per_h=zone_outage,
        mttr_h=mttr_h,
        zone_mttr_h=zone_mttr_h,
        mttdl_h=mttdl_h,
        groups=groups,
        zone_share=share,
        zone_loss_given_outage=given_outage,
        annual_loss_drives=_per_year(drives_per_h),
        annual_loss_zones=_per_year(zones_per_h),
        annual_loss=annual_loss,
        nines=-math.log10(annual_loss) if annual_loss > 0 else math.inf,
    )
