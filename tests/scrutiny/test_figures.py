"""Figures of a batch: SRCC and PLCC equal scipy's on the same numbers; bias is the mean offset."""

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from annotation.services.scrutiny import batch_figures, correlation_figures
from tests.scrutiny.conftest import GOLDEN_A, GOLDEN_Q, closed_batch, make_golden


def test_correlations_equal_scipy_on_the_same_numbers():
    rng = np.random.default_rng(7)
    golden = rng.uniform(1, 5, 40)
    ratings = np.clip(np.round(golden + rng.normal(0, 0.8, 40)), 1, 5)
    f = correlation_figures(ratings, golden)
    assert f["n_golden"] == 40
    assert f["srcc"] == pytest.approx(spearmanr(ratings, golden).statistic, abs=1e-4)
    assert f["plcc"] == pytest.approx(pearsonr(ratings, golden).statistic, abs=1e-4)
    assert f["bias"] == pytest.approx(float(np.mean(ratings - golden)), abs=1e-4)
    assert f["constant"] is None


def test_constant_ratings_leave_the_correlation_undefined():
    f = correlation_figures([3, 3, 3, 3], [1.0, 2.0, 4.0, 5.0])
    assert (f["srcc"], f["plcc"], f["constant"], f["bias"]) == (None, None, "ratings", 0.0)
    g = correlation_figures([1, 2, 3, 4], [3.0, 3.0, 3.0, 3.0])
    assert (g["srcc"], g["plcc"], g["constant"]) == (None, None, "golden")


def test_batch_figures_pair_each_rating_with_its_golden_score(scrutiny_campaign, make_user):
    golden = make_golden(scrutiny_campaign)
    annotator = make_user("annotator")
    ratings_q = [1, 2, 2, 3, 3, 4, 4, 4, 5, 5]
    ratings_a = [4, 2, 5, 1, 4, 3, 5, 2, 3, 5]
    batch = closed_batch(scrutiny_campaign, annotator, list(zip(golden, ratings_q, ratings_a)))
    figs = batch_figures(batch=batch)
    assert figs["quality"]["n_golden"] == 10
    assert figs["quality"]["srcc"] == pytest.approx(spearmanr(ratings_q, GOLDEN_Q).statistic, abs=1e-4)
    assert figs["alignment"]["plcc"] == pytest.approx(pearsonr(ratings_a, GOLDEN_A).statistic, abs=1e-4)
    assert figs["alignment"]["bias"] == pytest.approx(np.mean(np.array(ratings_a) - GOLDEN_A), abs=1e-4)


def test_items_without_a_golden_score_on_a_dimension_are_left_out(scrutiny_campaign, make_user):
    golden = make_golden(scrutiny_campaign, quality=GOLDEN_Q[:3], alignment=[None, 2.0, 3.0])
    batch = closed_batch(scrutiny_campaign, make_user("annotator"), [(i, 3, 3) for i in golden])
    figs = batch_figures(batch=batch)
    assert (figs["quality"]["n_golden"], figs["alignment"]["n_golden"]) == (3, 2)
