"""Simulated raters for the QC accuracy benchmark (benchmarks/qc_accuracy.py): items with a true
quality and alignment, golden scores as the mean of three experts, genuine raters whose agreement with
the golden scores spans what real lab raters show, and planted bad raters of every kind.

Genuine raters (as a real lab-rated set: SRCC against the golden scores about 0.30-0.81 on quality and
0.47-0.90 on alignment): each has a target SRCC per dimension, spread uniformly over those ranges by one
"care" level per person (with some scatter per scale: careful people are careful on both), met
by the noise level of their perception (a lookup built by simulation at start), plus their own offset
(N(0, 0.4)) and use of the scale (a slope in 0.6-1.2: some compress, some stretch), rounded to 1-5;
their time per item is log-normal around their own median (2.5-9 s).

Planted raters:
- random: uniform 1-5 on both scales;
- inverted: a typical rater's scores turned round (6 - score);
- constant: 3 on everything;
- mostly_one: 90% of the scores are 4, the rest a typical rater's;
- half_random: each score random with probability 0.5, else a typical rater's (a typical rater sits in
  the middle of the genuine ranges);
- too_fast: 0.3-0.6 s per item, a glance's worth of signal (SRCC about 0.2);
- straight_liner: one value per batch for everything, a different value each batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

GENUINE_RANGE = {"quality": (0.30, 0.81), "alignment": (0.47, 0.90)}
PLANTED_KINDS = ("random", "inverted", "constant", "mostly_one", "half_random", "too_fast", "straight_liner")
DIMENSIONS = ("quality", "alignment")


@dataclass
class World:
    true: dict[str, np.ndarray]  # per dimension, per item: latent 1-5 score
    golden: dict[str, np.ndarray]  # per dimension, per item: mean of three experts (used for golden items)
    experts: dict[str, np.ndarray]  # per dimension: (3, n_items) expert ratings, 1-5
    rng: np.random.Generator
    sigma_for: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # srcc -> noise lookup


def make_world(n_items: int, seed: int) -> World:
    rng = np.random.default_rng(seed)
    quality = np.clip(rng.normal(3.1, 0.9, n_items), 1, 5)
    alignment = np.clip(3.2 + 0.3 * (quality - 3.1) + rng.normal(0, 0.9, n_items), 1, 5)
    true = {"quality": quality, "alignment": alignment}
    experts = {
        d: np.stack([np.clip(np.rint(true[d] + rng.normal(0, 0.6, n_items)), 1, 5) for _ in range(3)]).astype(int)
        for d in DIMENSIONS
    }
    golden = {d: experts[d].mean(axis=0) for d in DIMENSIONS}
    world = World(true=true, golden=golden, experts=experts, rng=rng)
    for d in DIMENSIONS:
        world.sigma_for[d] = _noise_lookup(true[d], golden[d], rng)
    return world


def _noise_lookup(true: np.ndarray, golden: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """SRCC against the golden scores for a range of perception noise levels (monotone decreasing)."""
    from scipy.stats import spearmanr

    sigmas = np.linspace(0.05, 4.0, 60)
    idx = rng.choice(true.size, size=min(true.size, 4000), replace=False)
    srcc = np.array(
        [
            spearmanr(np.clip(np.rint(true[idx] + rng.normal(0, s, idx.size)), 1, 5), golden[idx]).statistic
            for s in sigmas
        ]
    )
    srcc = np.minimum.accumulate(srcc)  # enforce monotone for interpolation
    return srcc[::-1], sigmas[::-1]


@dataclass
class Rater:
    name: str
    kind: str  # "genuine" or a planted kind
    target: dict[str, float]  # target SRCC per dimension (genuine part)
    sigma: dict[str, float]
    offset: dict[str, float]
    slope: dict[str, float]
    median_ms: float
    batch_value: int = 3  # straight_liner's value for the current batch

    @property
    def planted(self) -> bool:
        return self.kind != "genuine"


def make_raters(world: World, n_genuine: int, planted_each: int) -> list[Rater]:
    rng = world.rng
    raters = []

    def build(name, kind, target):
        sigma = {d: float(np.interp(target[d], *world.sigma_for[d])) for d in DIMENSIONS}
        return Rater(
            name=name,
            kind=kind,
            target=target,
            sigma=sigma,
            offset={d: float(rng.normal(0, 0.4)) for d in DIMENSIONS},
            slope={d: float(rng.uniform(0.6, 1.2)) for d in DIMENSIONS},
            median_ms=float(rng.uniform(2500, 9000)),
        )

    for i in range(n_genuine):
        # One "care" level per person drives both scales (careful people are careful on both), with some
        # independent scatter per scale.
        care = rng.uniform(0.05, 0.95)
        target = {
            d: lo + (hi - lo) * float(np.clip(care + rng.normal(0, 0.1), 0, 1)) for d, (lo, hi) in GENUINE_RANGE.items()
        }
        raters.append(build(f"genuine-{i:02d}", "genuine", target))
    typical = {d: (lo + hi) / 2 for d, (lo, hi) in GENUINE_RANGE.items()}
    for kind in PLANTED_KINDS:
        for i in range(planted_each):
            good = typical if kind != "too_fast" else {"quality": 0.2, "alignment": 0.2}
            raters.append(build(f"{kind}-{i}", kind, good))
    return raters


def new_batch(rater: Rater, rng) -> None:
    rater.batch_value = int(rng.integers(1, 6))


def rate(rater: Rater, items: np.ndarray, world: World) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The rater's scores for `items` (indices into the world), per dimension, and times in ms."""
    rng = world.rng
    n = items.size
    out = {}
    for d in DIMENSIONS:
        seen = world.true[d][items] + rng.normal(0, rater.sigma[d], n)
        genuine = np.clip(np.rint(3 + rater.offset[d] + rater.slope[d] * (seen - 3)), 1, 5)
        if rater.kind == "random":
            scores = rng.integers(1, 6, n)
        elif rater.kind == "inverted":
            scores = 6 - genuine
        elif rater.kind == "constant":
            scores = np.full(n, 3)
        elif rater.kind == "mostly_one":
            scores = np.where(rng.random(n) < 0.9, 4, genuine)
        elif rater.kind == "half_random":
            scores = np.where(rng.random(n) < 0.5, rng.integers(1, 6, n), genuine)
        elif rater.kind == "straight_liner":
            scores = np.full(n, rater.batch_value)
        else:  # genuine, too_fast
            scores = genuine
        out[d] = scores.astype(int)
    if rater.kind == "too_fast":
        ms = rng.uniform(300, 600, n)
    else:
        ms = rater.median_ms * np.exp(rng.normal(0, 0.5, n))
    return out, np.rint(ms).astype(int)
