"""``split_half_agreement``: split-half SRCC of item means."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from annotation.aggregation import split_half_agreement


def test_low_noise_gives_agreement_near_one(make_ratings):
    df, _, _ = make_ratings(n_items=300, n_annotators=30, per_item=6, noise=0.15, seed=1, round_scores=False)
    assert split_half_agreement(df, seed=0, n_splits=5) > 0.95


def test_pure_noise_gives_agreement_near_zero():
    rng = np.random.default_rng(2)
    df = pd.DataFrame(
        {
            "item": np.repeat(np.arange(3000), 6),
            "annotator": rng.integers(0, 100, 18000),
            "score": rng.integers(1, 6, 18000),
        }
    )
    assert abs(split_half_agreement(df, seed=0, n_splits=5)) < 0.05


def test_raters_agreeing_exactly_give_one():
    rng = np.random.default_rng(3)
    per_item = rng.integers(1, 6, 50)
    df = pd.DataFrame(
        {
            "item": np.repeat(np.arange(50), 3),
            "annotator": np.tile([1, 2, 3], 50),
            "score": np.repeat(per_item, 3),
        }
    )
    assert split_half_agreement(df, seed=7, n_splits=3) == pytest.approx(1.0)


def test_same_seed_same_value_and_other_seed_differs(make_ratings):
    df, _, _ = make_ratings(n_items=100, n_annotators=20, per_item=5, noise=1.0, seed=4)
    a = split_half_agreement(df, seed=1, n_splits=3)
    assert split_half_agreement(df, seed=1, n_splits=3) == a
    assert split_half_agreement(df, seed=2, n_splits=3) != a


def test_items_with_one_rating_are_skipped(make_ratings):
    df, _, _ = make_ratings(n_items=100, n_annotators=20, per_item=4, noise=1.0, seed=5)
    singles = pd.DataFrame({"item": [10_000, 10_001, 10_002], "annotator": [1, 2, 3], "score": [1, 5, 3]})
    assert split_half_agreement(pd.concat([df, singles]), seed=0) == split_half_agreement(df, seed=0)


def test_spearman_brown_correction(make_ratings):
    df, _, _ = make_ratings(n_items=100, n_annotators=20, per_item=4, noise=1.0, seed=6)
    r = split_half_agreement(df, seed=0)
    assert split_half_agreement(df, seed=0, spearman_brown=True) == pytest.approx(2 * r / (1 + r))


def test_empty_or_too_few_items_gives_nan():
    assert math.isnan(split_half_agreement(pd.DataFrame(columns=["item", "annotator", "score"])))
    two_items = pd.DataFrame({"item": [1, 1, 2, 2], "annotator": [1, 2, 1, 2], "score": [1, 2, 3, 4]})
    assert math.isnan(split_half_agreement(two_items))


def test_bad_n_splits_raises_value_error(make_ratings):
    df, _, _ = make_ratings(n_items=10, n_annotators=5, per_item=2, seed=0)
    with pytest.raises(ValueError, match="n_splits"):
        split_half_agreement(df, n_splits=0)
