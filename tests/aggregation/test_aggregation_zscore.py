"""``zscore``: against a plain per-annotator loop; fallbacks; rescaling and clipping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from annotation.aggregation import aggregate


def zscore_by_loop(df: pd.DataFrame, lo=1.0, hi=5.0, min_ratings=2) -> dict:
    """Reference: z per annotator (ddof=1), fallback to the pooled mean/std, rescale, mean, clip."""
    scores = df["score"].to_numpy(dtype=float)
    mu, sigma = scores.mean(), scores.std(ddof=1)
    per_item: dict = {}
    for _, row in df.iterrows():
        own = df.loc[df["annotator"] == row["annotator"], "score"].to_numpy(dtype=float)
        if len(own) >= min_ratings and own.std(ddof=1) > 0:
            m, s = own.mean(), own.std(ddof=1)
        else:
            m, s = mu, sigma
        per_item.setdefault(row["item"], []).append(mu + sigma * (row["score"] - m) / s)
    return {item: min(max(np.mean(v), lo), hi) for item, v in per_item.items()}


def test_zscore_mos_matches_plain_loop(make_ratings):
    df, _, _ = make_ratings(n_items=40, n_annotators=12, per_item=4, bias_sd=0.7, noise=0.6, seed=1)
    items = aggregate(df, method="zscore").items
    expected = zscore_by_loop(df)
    np.testing.assert_allclose(items["mos"].to_numpy(), [expected[i] for i in items.index])


def test_zscore_removes_a_constant_offset_between_annotators():
    # Annotator 2 rates every item exactly one point higher than annotator 1: z-scores are equal.
    df = pd.DataFrame(
        {
            "item": [1, 2, 3, 1, 2, 3],
            "annotator": [1, 1, 1, 2, 2, 2],
            "score": [1, 2, 3, 2, 3, 4],
        }
    )
    items = aggregate(df, method="zscore").items
    assert items["std"].tolist() == pytest.approx([0.0, 0.0, 0.0])


def test_rescaling_preserves_pooled_mean_and_std_without_fallbacks(make_ratings):
    df, _, _ = make_ratings(
        n_items=60, n_annotators=10, per_item=10, bias_sd=0.5, noise=0.7, seed=2, round_scores=False
    )
    result = aggregate(df, method="zscore", params={"scale": (-100, 100)})
    assert result.info["fallback_annotators"] == []
    # Full design (every annotator rates every item): the mean of item means equals the pooled mean.
    assert result.items["mos"].mean() == pytest.approx(df["score"].mean())
    assert result.info["pooled_std"] == pytest.approx(df["score"].std(ddof=1))


def test_single_rating_and_constant_annotators_fall_back_to_pooled_scale():
    df = pd.DataFrame(
        {
            "item": [1, 2, 3, 1, 2, 3, 1, 2],
            "annotator": [1, 1, 1, 2, 2, 2, 3, 4],  # 3 has one rating; 4 ... one rating too
            "score": [1, 3, 5, 4, 4, 4, 5, 2],  # 2 is constant
        }
    )
    result = aggregate(df, method="zscore")
    assert result.info["fallback_annotators"] == [2, 3, 4]
    expected = zscore_by_loop(df)
    np.testing.assert_allclose(result.items["mos"].to_numpy(), [expected[i] for i in (1, 2, 3)])


def test_a_near_constant_annotator_falls_back_like_a_constant_one():
    # Annotator 3 rates 39 of 40 items 4 and item 0 a 3 (std 0.16): z-scoring that one 3 by their own
    # spread puts it six of their stds low, and item 0, which every annotator rated 3, came out at the
    # bottom of the scale (1.0). Their scale cannot be learned, as for a constant annotator: they fall back.
    rng = np.random.default_rng(0)
    truth = rng.integers(1, 6, 40)
    rows = []
    for i in range(40):
        rows += [(i, 1, truth[i]), (i, 2, int(np.clip(truth[i] + rng.integers(-1, 2), 1, 5))), (i, 3, 4)]
    df = pd.DataFrame(rows, columns=["item", "annotator", "score"])
    df.loc[df["item"] == 0, "score"] = 3
    result = aggregate(df, method="zscore")
    assert 3 in result.info["fallback_annotators"]
    assert result.items.loc[0, "mos"] == pytest.approx(3.0, abs=0.6)
    # The old behaviour stays available: no floor on the annotators' spread.
    loose = aggregate(df, method="zscore", params={"min_annotator_std": 0.0})
    assert 3 not in loose.info["fallback_annotators"] and loose.items.loc[0, "mos"] == 1.0


def test_mos_is_clipped_to_scale():
    df = pd.DataFrame(
        {
            "item": [1, 2, 3, 4] * 2,
            "annotator": [1] * 4 + [2] * 4,
            "score": [1, 1, 1, 5, 1, 1, 1, 5],
        }
    )
    items = aggregate(df, method="zscore", params={"scale": (1.0, 4.5)}).items
    assert items["mos"].max() == 4.5
    assert items["mos"].min() >= 1.0
