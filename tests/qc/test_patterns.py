"""Spam patterns: each fires on its pattern, names the figure, and leaves honest rating alone."""

import numpy as np
import pytest

from annotation.qc.patterns import CampaignHabits, find_patterns


def honest(n=50, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(1, 5, n)
    q = np.clip(np.rint(truth + rng.normal(0, 0.8, n)), 1, 5).astype(int).tolist()
    a = np.clip(np.rint(rng.uniform(1, 5, n)), 1, 5).astype(int).tolist()
    return q, a


def codes(patterns):
    return sorted((p.code, p.dimension) for p in patterns)


@pytest.mark.parametrize("seed", range(5))
def test_honest_ratings_show_no_pattern(seed):
    q, a = honest(seed=seed)
    durations = np.random.default_rng(seed).lognormal(np.log(5000), 0.5, 50).astype(int).tolist()
    assert (
        find_patterns(
            {"quality": q, "alignment": a}, durations_ms=durations, habits=CampaignHabits(median_duration_ms=5000)
        )
        == []
    )


def test_constant_ratings():
    q, _ = honest()
    found = find_patterns({"quality": q, "alignment": [3] * 50})
    assert codes(found) == [("constant", "alignment")]
    assert found[0].text == "alignment: all 50 ratings are 3"
    assert "golden" not in found[0].public


def test_near_constant_ratings_unless_the_campaign_rates_so_too():
    q, _ = honest()
    mostly = [4] * 46 + [2, 3, 5, 1]
    assert codes(find_patterns({"quality": q, "alignment": mostly})) == [("near_constant", "alignment")]
    # where the campaign's raters themselves use one value for 85% of items, 92% is not a pattern
    habits = CampaignHabits(modal_share={"quality": 0.4, "alignment": 0.85})
    assert find_patterns({"quality": q, "alignment": mostly}, habits=habits) == []


def test_the_same_score_on_both_scales():
    q, _ = honest()
    found = find_patterns({"quality": q, "alignment": list(q)})
    assert codes(found) == [("same_both", None)]
    assert "100% of 50 items" in found[0].text
    # a campaign whose raters give both scales the same score 80% of the time: not a pattern
    assert find_patterns({"quality": q, "alignment": list(q)}, habits=CampaignHabits(same_both_share=0.8)) == []


@pytest.mark.parametrize("cycle, period", [([1, 2, 3, 4, 5], 5), ([1, 5], 2), ([2, 3, 4], 3)])
def test_repeating_sequences(cycle, period):
    seq = (cycle * 20)[:50]
    _, a = honest()
    found = find_patterns({"quality": seq, "alignment": a})
    assert codes(found) == [("repeating", "quality")]
    assert f"repeat every {period} items" in found[0].text


def test_too_fast_against_the_campaign_typical_time():
    q, a = honest()
    fast = [400] * 50
    found = find_patterns(
        {"quality": q, "alignment": a}, durations_ms=fast, habits=CampaignHabits(median_duration_ms=6000)
    )
    assert codes(found) == [("too_fast", None)]
    assert found[0].text == "median 0.4 s per item; the campaign's typical is 6.0 s"
    # no campaign reference yet, or too few timed ratings: nothing is claimed
    assert find_patterns({"quality": q, "alignment": a}, durations_ms=fast) == []
    assert (
        find_patterns(
            {"quality": q, "alignment": a}, durations_ms=[400] * 5, habits=CampaignHabits(median_duration_ms=6000)
        )
        == []
    )


def test_short_batches_are_not_judged():
    assert find_patterns({"quality": [3] * 5, "alignment": [3] * 5}) == []
