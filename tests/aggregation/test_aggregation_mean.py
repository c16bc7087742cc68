"""``mean``: MOS, std and Student-t CI against scipy; annotator residual stats against a loop."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from annotation.aggregation import aggregate


def test_mos_is_the_plain_mean_per_item(small_ratings):
    items = aggregate(small_ratings).items
    expected = small_ratings.groupby("item")["score"].mean()
    np.testing.assert_allclose(items["mos"], expected.to_numpy())


def test_n_counts_ratings_per_item(small_ratings):
    assert aggregate(small_ratings).items["n"].tolist() == [4, 3, 2, 1]


def test_std_is_sample_std_ddof1(small_ratings):
    items = aggregate(small_ratings).items
    for item, group in small_ratings.groupby("item"):
        if len(group) > 1:
            assert items.loc[item, "std"] == pytest.approx(np.std(group["score"].to_numpy(), ddof=1))


def test_ci95_matches_scipy_t_interval(small_ratings):
    items = aggregate(small_ratings).items
    for item, group in small_ratings.groupby("item"):
        x = group["score"].to_numpy(dtype=float)
        if len(x) < 2:
            continue
        lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
        assert items.loc[item, "ci95"] == pytest.approx((hi - lo) / 2)
        assert items.loc[item, "mos"] - items.loc[item, "ci95"] == pytest.approx(lo)


def test_ci95_on_many_items_matches_scipy(make_ratings):
    df, _, _ = make_ratings(n_items=50, n_annotators=20, per_item=7, noise=1.0, seed=3)
    items = aggregate(df).items
    sem = df.groupby("item")["score"].sem().to_numpy()
    np.testing.assert_allclose(items["ci95"], stats.t.ppf(0.975, 6) * sem)


def test_annotator_bias_and_inconsistency_by_loop(small_ratings):
    ann = aggregate(small_ratings).annotators
    item_mean = small_ratings.groupby("item")["score"].mean()
    item_n = small_ratings.groupby("item")["score"].size()
    for a, group in small_ratings.groupby("annotator"):
        resid = [s - item_mean[i] for i, s in zip(group["item"], group["score"]) if item_n[i] > 1]
        assert ann.loc[a, "bias"] == pytest.approx(np.mean(resid))
        expected_inc = np.std(resid, ddof=1) if len(resid) > 1 else np.nan
        np.testing.assert_allclose(ann.loc[a, "inconsistency"], expected_inc)


def test_no_annotator_is_rejected_by_mean(small_ratings):
    assert not aggregate(small_ratings).annotators["rejected"].any()


def test_non_contiguous_and_string_ids_work():
    import pandas as pd

    df = pd.DataFrame({"item": ["b", "a", "b"], "annotator": [7, 7, 9], "score": [2, 5, 4]})
    items = aggregate(df).items
    assert items.index.tolist() == ["a", "b"]
    assert items["mos"].tolist() == [5.0, 3.0]
