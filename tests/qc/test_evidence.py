"""Agreement with its interval: the figures equal scipy's, and the 95% intervals cover the true
correlation about 95% of the time (Bonett-Wright for Spearman, Fisher for Pearson)."""

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from annotation.qc.evidence import agreement, agreement_from_dict


def test_figures_equal_scipy_and_the_interval_contains_the_estimate():
    rng = np.random.default_rng(3)
    golden = rng.uniform(1, 5, 50)
    ratings = np.clip(np.rint(golden + rng.normal(0, 1, 50)), 1, 5)
    a = agreement(ratings, golden)
    assert a.n_golden == 50
    assert a.srcc == pytest.approx(spearmanr(ratings, golden).statistic, abs=1e-4)
    assert a.plcc == pytest.approx(pearsonr(ratings, golden).statistic, abs=1e-4)
    assert a.srcc_ci[0] < a.srcc < a.srcc_ci[1] and a.plcc_ci[0] < a.plcc < a.plcc_ci[1]
    assert a.mae == pytest.approx(float(np.mean(np.abs(ratings - golden))), abs=1e-4)
    assert agreement_from_dict(a.as_dict()) == agreement(ratings, golden)


def test_more_golden_items_give_a_narrower_interval():
    rng = np.random.default_rng(0)
    golden = rng.uniform(1, 5, 400)
    ratings = np.clip(np.rint(golden + rng.normal(0, 1, 400)), 1, 5)
    widths = [np.diff(agreement(ratings[:n], golden[:n]).srcc_ci)[0] for n in (10, 40, 160)]
    assert widths[0] > widths[1] > widths[2]
    assert widths[0] > 2.5 * widths[2] and widths[2] < 0.25


@pytest.mark.parametrize("n", [12, 40])
def test_the_spearman_interval_covers_the_truth_about_95_percent_of_the_time(n):
    rng = np.random.default_rng(n)
    rho = 0.6
    cov = [[1, rho], [rho, 1]]
    # Spearman's rho of a bivariate normal with Pearson correlation rho:
    true_srcc = 6 / np.pi * np.arcsin(rho / 2)
    covered = 0
    trials = 2000
    for _ in range(trials):
        x, y = rng.multivariate_normal([0, 0], cov, size=n).T
        lo, hi = agreement(x, y).srcc_ci
        covered += lo <= true_srcc <= hi
    assert 0.93 <= covered / trials <= 0.975


def test_undefined_figures_say_why():
    assert agreement([3, 3, 3, 3], [1, 2, 4, 5]).constant == "ratings"
    assert agreement([1, 2, 3, 4], [3, 3, 3, 3]).constant == "golden"
    few = agreement([1, 2, 3], [1, 2, 3])
    assert few.srcc == pytest.approx(1.0) and few.srcc_ci is None  # no interval below 4 pairs
    assert agreement([], []).n_golden == 0


def test_tied_golden_scores_are_named_before_the_rater_who_matched_them():
    # The golden scores tie on every item and the rater gives exactly that score: the correlation is
    # undefined because of the golden side, not because the rater failed to follow the items.
    a = agreement([4, 4, 4, 4, 4], [4.0, 4.0, 4.0, 4.0, 4.0])
    assert (a.constant, a.srcc, a.mae) == ("golden", None, 0.0)
