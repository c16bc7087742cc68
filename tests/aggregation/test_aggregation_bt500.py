"""``bt500``: ITU-R BT.500-14 Annex 2 section 2.3.1 screening against planted observers and a loop."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from annotation.aggregation import aggregate

RANDOM_OBSERVER = 5000  # annotator id 0 + the offset used by planted_ratings


@pytest.fixture
def lab_test(make_ratings):
    """Full design (20 observers x 60 items); observer 5000 answers uniformly at random."""
    df, _, _ = make_ratings(n_items=60, n_annotators=20, per_item=20, noise=0.5, seed=2)
    rng = np.random.default_rng(102)
    bad = df["annotator"] == RANDOM_OBSERVER
    df.loc[bad, "score"] = rng.integers(1, 6, bad.sum()).astype(float)
    return df


def screen_by_loop(df: pd.DataFrame) -> dict:
    """Reference transcription of the standard, item by item and observer by observer."""
    p = {a: 0 for a in df["annotator"].unique()}
    q = dict(p)
    for _, group in df.groupby("item"):
        u = group["score"].to_numpy(dtype=float)
        n = len(u)
        if n < 2 or u.std(ddof=1) == 0:
            continue
        mean, s = u.mean(), u.std(ddof=1)
        m2 = ((u - mean) ** 2).sum() / n
        m4 = ((u - mean) ** 4).sum() / n
        factor = 2.0 if 2 <= m4 / m2**2 <= 4 else math.sqrt(20)
        for a, x in zip(group["annotator"], u):
            p[a] += x >= mean + factor * s
            q[a] += x <= mean - factor * s
    rated = df.groupby("annotator").size()
    rejected = {
        a: (p[a] + q[a]) > 0 and (p[a] + q[a]) / rated[a] > 0.05 and abs(p[a] - q[a]) / (p[a] + q[a]) < 0.3 for a in p
    }
    return {"p": p, "q": q, "rejected": rejected}


def test_random_observer_is_rejected(lab_test):
    result = aggregate(lab_test, method="bt500")
    assert RANDOM_OBSERVER in result.info["rejected_annotators"]
    assert result.annotators.loc[RANDOM_OBSERVER, "rejected"]


def test_good_observers_are_kept(lab_test):
    result = aggregate(lab_test, method="bt500")
    assert result.info["rejected_annotators"] == [RANDOM_OBSERVER]
    assert result.annotators["rejected"].sum() == 1


def test_p_q_and_rejection_match_a_loop_transcription(lab_test):
    ann = aggregate(lab_test, method="bt500").annotators
    ref = screen_by_loop(lab_test)
    for a in ann.index:
        assert (ann.loc[a, "p"], ann.loc[a, "q"]) == (ref["p"][a], ref["q"][a])
        assert ann.loc[a, "rejected"] == ref["rejected"][a]


def test_mos_is_mean_over_remaining_observers(lab_test):
    items = aggregate(lab_test, method="bt500").items
    kept = lab_test[lab_test["annotator"] != RANDOM_OBSERVER]
    np.testing.assert_allclose(items["mos"], kept.groupby("item")["score"].mean().to_numpy())
    assert (items["n"] == 19).all()


def test_one_sided_biased_observer_is_not_rejected(make_ratings):
    # The |P-Q|/(P+Q) < 0.3 rule keeps an observer who is only shifted (all deviations one way).
    df, _, _ = make_ratings(n_items=60, n_annotators=20, per_item=20, noise=0.4, seed=8, round_scores=False)
    harsh = df["annotator"] == 5001
    df.loc[harsh, "score"] -= 1.0
    ann = aggregate(df, method="bt500").annotators
    assert ann.loc[5001, "q"] > 0.05 * 60 and ann.loc[5001, "p"] == 0
    assert not ann.loc[5001, "rejected"]


def test_thresholds_are_overridable(lab_test):
    result = aggregate(lab_test, method="bt500", params={"ratio_threshold": 1.0})
    assert result.info["rejected_annotators"] == []
    assert result.info["params"]["ratio_threshold"] == 1.0


def test_items_with_five_raters_flag_nobody(make_ratings):
    # With N <= 5 ratings no value lies 2 sample stds from the mean: the standard cannot screen.
    df, _, _ = make_ratings(n_items=200, n_annotators=20, per_item=5, noise=1.5, seed=9)
    ann = aggregate(df, method="bt500", params={"kurtosis_range": (0.0, 100.0)}).annotators
    assert ann["p"].sum() == 0 and ann["q"].sum() == 0
