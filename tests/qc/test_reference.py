"""The campaign's reference: robust to careless raters, capped by the experts' agreement, a prior
until raters arrive."""

import math

import numpy as np
import pytest

from annotation.qc.evidence import Agreement, agreement
from annotation.qc.reference import FLOOR_R, PRIOR_R, campaign_reference, expert_agreement


def rater(srcc, n=100):
    return Agreement(n_golden=n, srcc=srcc)


def test_no_raters_gives_the_prior():
    ref = campaign_reference("quality", [])
    assert ref.n_raters == 0 and ref.centre == pytest.approx(PRIOR_R)


def test_the_centre_follows_the_campaign_and_careless_raters_do_not_move_it_much():
    genuine = [rater(r) for r in np.linspace(0.3, 0.8, 30)]
    clean = campaign_reference("quality", genuine)
    spoiled = campaign_reference("quality", genuine + [rater(0.0) for _ in range(10)])
    assert clean.n_raters == 30
    assert abs(clean.centre - 0.55) < 0.05
    assert abs(spoiled.centre - clean.centre) < 0.05  # ten random raters in forty
    assert abs(spoiled.spread_z - clean.spread_z) < 0.05  # the spread is taken from the upper half
    lo, hi = clean.typical_range()
    assert lo < 0.4 and hi > 0.7


def test_raters_with_little_evidence_stay_out():
    ref = campaign_reference("quality", [rater(0.9, n=12) for _ in range(20)])
    assert ref.n_raters == 0


def test_the_centre_never_drops_to_chance_nor_exceeds_the_experts():
    careless = campaign_reference("quality", [rater(0.05) for _ in range(40)])
    assert careless.centre == pytest.approx(FLOOR_R)
    ceiling = Agreement(n_golden=200, srcc=0.5)
    capped = campaign_reference("quality", [rater(0.8) for _ in range(40)], ceiling=ceiling)
    assert capped.centre <= 0.5 + 1e-9 and capped.ceiling == 0.5


def test_expert_agreement_is_one_expert_against_the_mean_of_the_others():
    rng = np.random.default_rng(1)
    truth = rng.uniform(1, 5, 60)
    triples = [
        (i, e, float(np.clip(round(t + rng.normal(0, 0.5)), 1, 5))) for i, t in enumerate(truth) for e in range(3)
    ]
    a = expert_agreement(triples)
    by_item = {}
    for i, _e, s in triples:
        by_item.setdefault(i, []).append(s)
    own = [s for i in by_item for s in by_item[i]]
    others = [(sum(by_item[i]) - s) / 2 for i in by_item for s in by_item[i]]
    assert a.srcc == pytest.approx(agreement(own, others).srcc)
    assert a.n_golden == 180
    assert expert_agreement([(1, 1, 3.0), (2, 1, 4.0)]) is None  # one expert per item says nothing
    assert not math.isnan(a.srcc) and a.srcc > 0.7
