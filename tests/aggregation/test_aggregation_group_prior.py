"""``mle`` with ``group_prior``: each item's score borrows strength from its group (empirical Bayes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from annotation.aggregation import aggregate
from annotation.aggregation.methods.mle import GROUP_TAU_MIN, group_shrink


def grouped(seed=3, n_items=600, per_item=3, item_sd=0.4):
    """Items of 4 groups with distinct means; few, noisy raters per item (as adaptive overlap leaves them)."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 4, n_items)
    truth = np.array([2.0, 2.8, 3.5, 4.1])[group] + rng.normal(0, item_sd, n_items)
    noise = rng.uniform(0.5, 1.5, 40)
    rows = []
    for j in range(n_items):
        for a in rng.choice(40, per_item, replace=False):
            rows.append(
                (j + 10, a + 900, np.clip(np.rint(truth[j] + noise[a] * rng.standard_normal()), 1, 5), group[j])
            )
    df = pd.DataFrame(rows, columns=["item", "annotator", "score", "group"])
    return df, np.clip(truth, 1, 5), group


def rmse(result, truth):
    return float(np.sqrt(np.mean((result.items["mos"].to_numpy() - truth) ** 2)))


def test_group_prior_brings_sparse_items_closer_to_the_truth():
    df, truth, _ = grouped()
    plain = aggregate(df, "mle")
    prior = aggregate(df, "mle", {"group_prior": True})
    assert rmse(prior, truth) < 0.8 * rmse(plain, truth)
    info = prior.info["group_prior"]
    assert info["groups"] == 4 and info["shrunk_items"] == 600
    assert info["tau_median"] == pytest.approx(0.4, abs=0.15)  # the planted item spread within a group
    # The posterior interval is narrower than the item's own: the prior adds information.
    assert (prior.items["ci95"] < plain.items["ci95"]).all()


def test_default_is_the_p910_model_and_ignores_a_group_column():
    df, _, _ = grouped()
    with_group = aggregate(df, "mle")
    without = aggregate(df.drop(columns="group"), "mle")
    pd.testing.assert_frame_equal(with_group.items, without.items)
    assert "group_prior" not in with_group.info


def test_each_item_moves_towards_its_own_groups_mean():
    psi = np.array([1.0, 5.0, 3.0, 1.0, 5.0, 3.0])
    se = np.full(6, 0.5)
    post, post_se, info = group_shrink(psi, se, np.array([0, 0, 0, 1, 1, 1]), min_items=3)
    # Both groups have mean 3 and spread 2: every item moves towards 3 by the same factor, none crosses it.
    tau2 = np.var(psi[:3], ddof=1) - 0.25
    k = (1 / 0.25) / (1 / 0.25 + 1 / tau2)
    np.testing.assert_allclose(post, 3 + k * (psi - 3))
    np.testing.assert_allclose(post_se, 1 / np.sqrt(1 / 0.25 + 1 / tau2))
    assert info == {"groups": 2, "shrunk_items": 6, "tau_median": round(float(np.sqrt(tau2)), 4)}


def test_items_without_a_group_or_in_small_groups_keep_their_own_score():
    psi = np.array([1.0, 5.0, 3.0, 4.5, 2.0])
    se = np.full(5, 0.5)
    post, post_se, info = group_shrink(psi, se, np.array([0, 0, 0, 1, -1]), min_items=3)
    np.testing.assert_array_equal(post[3:], psi[3:])
    np.testing.assert_array_equal(post_se[3:], se[3:])
    assert info["groups"] == 1 and info["shrunk_items"] == 3


def test_a_group_of_identical_items_is_floored_not_collapsed():
    psi = np.array([3.0, 3.0, 3.0, 3.0])
    se = np.full(4, 0.5)
    post, post_se, info = group_shrink(psi, se, np.zeros(4, dtype=np.intp), min_items=2)
    np.testing.assert_allclose(post, 3.0)
    assert np.isfinite(post_se).all() and info["tau_median"] == GROUP_TAU_MIN


def test_group_prior_without_a_group_column_is_a_clear_error():
    df, _, _ = grouped()
    with pytest.raises(ValueError, match="group_prior needs a 'group' column"):
        aggregate(df.drop(columns="group"), "mle", {"group_prior": True})


def test_an_item_in_two_groups_is_refused():
    df, _, _ = grouped()
    df.loc[df.index[0], "group"] = (df.loc[df.index[0], "group"] + 1) % 4
    with pytest.raises(ValueError, match="each item one group"):
        aggregate(df, "mle", {"group_prior": True})


@pytest.mark.parametrize(
    "params, message",
    [({"group_prior": "yes"}, "true or false"), ({"group_min_items": 1}, "integer >= 2")],
)
def test_bad_group_params_are_refused(params, message):
    df, _, _ = grouped()
    with pytest.raises(ValueError, match=message):
        aggregate(df, "mle", params)
