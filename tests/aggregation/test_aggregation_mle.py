"""``mle``: the P.910 Annex E / SUREAL MLE_CO subject model on planted data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from annotation.aggregation import aggregate


@pytest.fixture
def biased(make_ratings):
    """Sparse design, 4 raters per item, strong planted biases (sd 0.8) and noise 0.5."""
    return make_ratings(n_items=400, n_annotators=40, per_item=4, bias_sd=0.8, noise=0.5, seed=5)


def test_recovers_planted_biases(biased):
    df, _, bias = biased
    est = aggregate(df, method="mle").annotators["bias"].to_numpy()
    assert np.corrcoef(est, bias)[0, 1] > 0.9


def test_item_scores_closer_to_truth_than_plain_mean(biased):
    df, truth, _ = biased
    rmse = {
        m: np.sqrt(np.mean((aggregate(df, method=m).items["mos"].to_numpy() - truth) ** 2)) for m in ("mean", "mle")
    }
    assert rmse["mle"] < 0.85 * rmse["mean"]


def test_recovers_planted_inconsistency(make_ratings):
    noise = np.r_[np.full(20, 0.4), np.full(20, 1.2)]
    df, _, _ = make_ratings(
        n_items=600, n_annotators=40, per_item=5, bias_sd=0.3, noise=noise, seed=6, round_scores=False
    )
    v = aggregate(df, method="mle").annotators["inconsistency"].to_numpy()
    assert stats.spearmanr(v, noise).statistic > 0.8
    assert v[20:].mean() > 2 * v[:20].mean()


def test_three_raters_per_item_stays_finite_and_converges(make_ratings):
    df, _, _ = make_ratings(n_items=300, n_annotators=60, per_item=3, bias_sd=0.8, noise=0.7, seed=4)
    result = aggregate(df, method="mle")
    assert result.info["converged"]
    assert np.isfinite(result.items[["mos", "std", "ci95"]].to_numpy()).all()
    assert np.isfinite(result.annotators[["bias", "inconsistency"]].to_numpy()).all()


def _with_oracle(make_ratings):
    """3 noisy raters per item plus annotator 1 who rates every item exactly truth + 0.5."""
    df, truth, _ = make_ratings(n_items=120, n_annotators=20, per_item=3, noise=0.6, seed=12)
    oracle = pd.DataFrame({"item": np.arange(120) + 100, "annotator": 1, "score": truth + 0.5})
    return pd.concat([df, oracle]), truth


def test_perfectly_consistent_annotator_is_floored_at_v_min(make_ratings):
    df, truth = _with_oracle(make_ratings)
    result = aggregate(df, method="mle", params={"v_min": 0.1, "dof_correction": False})
    assert result.info["converged"]
    assert result.annotators.loc[1, "inconsistency"] == pytest.approx(0.1)
    assert np.isfinite(result.items["mos"]).all()
    assert np.corrcoef(result.items["mos"], truth)[0, 1] > 0.99


def test_perfectly_consistent_annotator_with_dof_correction_stays_finite_and_trusted(make_ratings):
    # The leverage correction stops the runaway: v stays above the floor but far below the others'.
    df, truth = _with_oracle(make_ratings)
    result = aggregate(df, method="mle", params={"v_min": 0.1})
    v = result.annotators["inconsistency"]
    assert result.info["converged"]
    assert np.isfinite(v).all() and v[1] < 0.5 * v.drop(1).median()
    assert np.corrcoef(result.items["mos"], truth)[0, 1] > 0.99


def test_ml_fixed_point_satisfies_the_update_equations(biased):
    """Independent check of the estimate (dof_correction off): SUREAL's stationarity conditions."""
    df, _, _ = biased
    params = {"dof_correction": False, "tol": 1e-10, "max_iter": 5000, "scale": None}
    result = aggregate(df, method="mle", params=params)
    assert result.info["converged"]
    psi = result.items["mos"]
    delta = result.annotators["bias"]
    v = result.annotators["inconsistency"]
    for item, g in df.groupby("item"):
        w = 1 / v[g["annotator"]].to_numpy() ** 2
        expected = np.sum(w * (g["score"].to_numpy() - delta[g["annotator"]].to_numpy())) / w.sum()
        assert psi[item] == pytest.approx(expected, abs=1e-6)
    for a, g in df.groupby("annotator"):
        resid = g["score"].to_numpy() - psi[g["item"]].to_numpy()
        assert delta[a] == pytest.approx(resid.mean() - delta.mean(), abs=1e-6)
        assert v[a] == pytest.approx(max(np.sqrt(np.mean((resid - delta[a]) ** 2)), 0.3), abs=1e-6)


def test_likelihood_never_decreases_without_dof_correction(biased):
    df, _, _ = biased
    ll = [
        aggregate(df, method="mle", params={"dof_correction": False, "max_iter": k}).info["log_likelihood"]
        for k in (1, 2, 3, 5, 10, 30)
    ]
    assert all(b >= a - 1e-9 for a, b in zip(ll, ll[1:]))


def test_biases_have_zero_mean(biased):
    df, _, _ = biased
    assert aggregate(df, method="mle").annotators["bias"].mean() == pytest.approx(0.0, abs=1e-9)


def test_ci95_is_the_model_standard_error(biased):
    df, _, _ = biased
    result = aggregate(df, method="mle")
    v = result.annotators["inconsistency"]
    for item, g in list(df.groupby("item"))[:20]:
        se = 1 / np.sqrt(np.sum(1 / v[g["annotator"]].to_numpy() ** 2))
        assert result.items.loc[item, "ci95"] == pytest.approx(stats.norm.ppf(0.975) * se)
        assert result.items.loc[item, "std"] == pytest.approx(se * np.sqrt(len(g)))


def test_bounded_iterations_report_not_converged(biased):
    df, _, _ = biased
    info = aggregate(df, method="mle", params={"max_iter": 2}).info
    assert info["iterations"] == 2 and info["converged"] is False


def test_annotator_with_one_rating_is_not_estimated(biased):
    df, _, _ = biased
    extra = pd.DataFrame({"item": [100], "annotator": [1], "score": [5.0]})
    result = aggregate(pd.concat([df, extra]), method="mle")
    assert result.info["unestimated_annotators"] == [1]
    assert np.isnan(result.annotators.loc[1, "bias"])
    assert result.annotators.loc[1, "n"] == 1


def test_mos_is_clipped_to_scale_and_counted():
    # Annotator 2 is 1 point harsher on shared items, so item 3 (rated 5 by annotator 2 only) > 5.
    df = pd.DataFrame(
        {
            "item": [1, 2, 1, 2, 3],
            "annotator": [1, 1, 2, 2, 2],
            "score": [4, 3, 3, 2, 5],
        }
    )
    result = aggregate(df, method="mle")
    assert result.items.loc[3, "mos"] == 5.0
    assert result.info["n_clipped"] == 1
    unclipped = aggregate(df, method="mle", params={"scale": None}).items
    assert unclipped.loc[3, "mos"] > 5.0
