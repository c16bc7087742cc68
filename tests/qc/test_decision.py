"""The calibrated decision, every branch and edge, as a pure function; and the golden allocation."""

import re

import numpy as np
import pytest

from annotation.qc.allocation import LONG_RECORD, golden_for_next_batch
from annotation.qc.decision import (
    APPROVED,
    CALIBRATED,
    FIXED,
    NEEDS_REVIEW,
    REJECTED,
    Settings,
    campaign_prior,
    decide,
    log_likelihood_ratio,
)
from annotation.qc.evidence import Agreement, agreement
from annotation.qc.patterns import Pattern
from annotation.qc.reference import campaign_reference

DIMS = ("quality", "alignment")


def refs(centre=0.6):
    raters = [Agreement(n_golden=100, srcc=float(r)) for r in np.linspace(centre - 0.2, centre + 0.2, 30)]
    return {d: campaign_reference(d, raters) for d in DIMS}


def ag(srcc, n):
    """An Agreement of n golden items with (about) this SRCC, built from real numbers."""
    rng = np.random.default_rng(int(abs(srcc) * 1000) + n)
    golden = np.linspace(1, 5, n)
    for _ in range(2000):
        noise = rng.normal(0, 1, n)
        ratings = golden * srcc + noise * np.sqrt(max(1 - srcc**2, 1e-6)) * golden.std()
        a = agreement(ratings, golden)
        if a.srcc is not None and abs(a.srcc - srcc) < 0.03:
            return a
    raise AssertionError("could not build the sample")


def run(cumulative, batch=None, patterns=(), method=CALIBRATED, dims=DIMS, references=None, **settings):
    batch = batch or cumulative
    return decide(
        settings=Settings(method=method, **settings),
        dimensions=dims,
        batch=batch,
        cumulative=cumulative,
        references=references or refs(),
        patterns=list(patterns),
        golden_source="10 golden items (imported scores)",
    )


def test_a_genuine_record_is_approved_and_the_reason_names_figure_interval_and_reference():
    v = run({d: ag(0.6, 60) for d in DIMS})
    assert v.decision == APPROVED and v.p_genuine > 0.95
    assert re.search(r"quality SRCC 0\.[56]\d \[0\.\d\d, 0\.\d\d\] over 60 golden items so far", v.reason)
    assert "[" in v.reason and "campaign 0.6" in v.reason and "typical" in v.reason
    assert "against 10 golden items (imported scores)" in v.reason
    assert v.public_reason.startswith("Approved")
    assert v.risk < 0.05


def test_a_weak_but_honest_rater_on_much_evidence_is_approved():
    # quality at the bottom of the genuine range, alignment typical, 150 golden items
    v = run({"quality": ag(0.35, 150), "alignment": ag(0.6, 150)})
    assert v.decision == APPROVED


def test_random_ratings_on_enough_evidence_are_rejected_as_chance():
    v = run({d: ag(0.0, 60) for d in DIMS})
    assert v.decision == REJECTED
    assert v.reason.startswith("no better than chance (random ratings)")
    assert [p.code for p in v.patterns] == ["random"]
    assert "did not follow the items" in v.public_reason
    for word in ("golden", "SRCC", "0."):
        assert word not in v.public_reason


def test_thin_bad_evidence_goes_to_review_not_rejection():
    v = run({d: ag(0.0, 20) for d in DIMS})
    assert v.decision == NEEDS_REVIEW
    assert v.public_reason == "An admin will look at this batch."


def test_an_inverted_scale_is_rejected():
    v = run({"quality": ag(-0.7, 30), "alignment": ag(0.7, 30)})
    assert v.decision == REJECTED and [p.code for p in v.patterns] == ["inverted"]
    assert "inverted" in v.reason and "wrong way round" in v.public_reason


def test_a_spam_pattern_rejects_whatever_the_correlations():
    pattern = Pattern(
        "too_fast",
        None,
        "median 0.4 s per item; the campaign's typical is 6.0 s",
        "items were rated in 0.4 s each, far faster than they can be looked at",
    )
    v = run({d: ag(0.7, 60) for d in DIMS}, patterns=[pattern])
    assert v.decision == REJECTED and v.reason.startswith("spam pattern: median 0.4 s per item")
    assert "far faster" in v.public_reason and v.risk >= 0.99


def test_a_good_record_with_a_conclusively_bad_batch_goes_to_review():
    v = run({d: ag(0.65, 200) for d in DIMS}, batch={d: ag(-0.6, 20) for d in DIMS})
    assert v.decision == NEEDS_REVIEW
    assert "this batch's own golden ratings look careless" in v.reason
    assert v.risk > 0.9


def test_one_dimension_leaning_careless_is_not_approved():
    v = run({"quality": ag(0.8, 60), "alignment": ag(0.15, 60)})
    assert v.decision in (NEEDS_REVIEW, REJECTED)
    assert v.decision != APPROVED


def test_no_golden_items_yet_goes_to_review():
    v = run({d: Agreement(n_golden=0) for d in DIMS})
    assert v.decision == NEEDS_REVIEW and v.reason.startswith("no golden evidence to judge by")
    assert v.p_genuine is None


@pytest.mark.parametrize("method", [CALIBRATED, FIXED])
@pytest.mark.parametrize("record", [0.6, 0.05])
def test_a_batch_with_no_ratings_is_approved_with_nothing_said_about_agreement(method, record):
    # Every lease ran out (or every item was skipped): nothing can enter a MOS and there is nothing to judge.
    # Neither a rejection (against someone whose time ran out) nor a review (an admin could decide nothing).
    empty = {d: agreement([], []) for d in DIMS}
    cumulative = {d: ag(record, 60) for d in DIMS}
    v = decide(
        settings=Settings(method=method),
        dimensions=DIMS,
        batch=empty,
        cumulative=cumulative,
        references=refs(),
        n_rated=0,
    )
    assert v.decision == APPROVED and v.risk == 0.0 and v.patterns == []
    assert v.public_reason.startswith("Nothing to check: this batch has no ratings") and "agree" not in v.public_reason
    assert v.reason.startswith("no ratings in this batch: nothing to check")
    # the record is passed on as it stands (the annotator's evidence row keeps it)
    assert v.p_genuine == run(cumulative, batch=empty, method=method).p_genuine


def test_constant_golden_scores_say_nothing_and_the_other_dimension_decides():
    v = run({"quality": Agreement(n_golden=30, constant="golden"), "alignment": ag(0.7, 60)})
    assert "quality: golden scores constant over 30 items, no evidence" in v.reason
    assert v.decision == APPROVED


def test_constant_ratings_on_varied_golden_items_are_not_approved_on_the_other_dimension():
    # 60 golden items whose quality scores span the scale, every one rated 4 on quality: the rater's
    # quality ratings do not follow the items at all. One differing rating gives an SRCC near zero and a
    # review; the same rater with no differing rating must not be approved on alignment alone.
    golden = np.tile([1.0, 2.0, 3.0, 4.0, 5.0], 12)
    flat = agreement(np.full(60, 4.0), golden)
    assert flat.constant == "ratings"
    v = run({"quality": flat, "alignment": ag(0.7, 60)})
    assert v.decision == NEEDS_REVIEW
    assert "quality ratings are constant over 60 golden items" in v.reason
    assert v.risk >= 0.5  # not at the bottom of the review queue


def test_a_campaign_rating_one_dimension_only():
    v = run({"quality": ag(0.6, 60)}, dims=("quality",))
    assert v.decision == APPROVED and "alignment" not in v.reason


def test_too_few_golden_items_so_far_are_not_approved():
    v = run({d: ag(0.9, 6) for d in DIMS}, min_golden=8)
    assert v.decision == NEEDS_REVIEW and "too few golden items so far" in v.reason


def test_the_fixed_method_keeps_the_papers_rule_word_for_word():
    v = run({d: ag(0.58, 10) for d in DIMS}, method=FIXED)
    assert v.decision == NEEDS_REVIEW
    assert "quality SRCC 0.5" in v.reason and "between thresholds 0.4 and 0.7" in v.reason
    assert v.p_genuine is not None  # computed anyway: it orders the review queue


def test_evidence_weighs_more_with_more_golden_items():
    ref = refs()["quality"]
    assert log_likelihood_ratio(ag(0.6, 100), ref) > log_likelihood_ratio(ag(0.6, 20), ref) > 0
    assert log_likelihood_ratio(ag(0.0, 100), ref) < log_likelihood_ratio(ag(0.0, 20), ref) < 0
    assert log_likelihood_ratio(Agreement(n_golden=3, srcc=0.5), ref) is None


def test_the_prior_is_the_campaigns_share_of_genuine_raters():
    assert campaign_prior([]) == pytest.approx(0.9)
    assert campaign_prior([0.99] * 100) == pytest.approx(0.95)  # kept within range
    many_careless = campaign_prior([0.99] * 60 + [0.01] * 40)
    assert 0.55 < many_careless < 0.7


@pytest.mark.parametrize(
    "p, n, clean, expected",
    [
        (None, 0, True, 20),  # newcomer: the most
        (0.7, 40, True, 20),  # not conclusive yet
        (0.99, 30, True, 10),  # conclusive, short record: the campaign's number
        (0.99, LONG_RECORD, True, 4),  # long good record: the floor
        (0.99, LONG_RECORD, False, 20),  # a recent batch rejected or held: back to the most
    ],
)
def test_golden_allocation(p, n, clean, expected):
    assert (
        golden_for_next_batch(base=10, golden_min=4, golden_max=20, p_genuine=p, n_golden=n, recent_clean=clean)
        == expected
    )


def test_golden_allocation_never_drops_to_zero():
    assert (
        golden_for_next_batch(base=10, golden_min=0, golden_max=20, p_genuine=0.99, n_golden=500, recent_clean=True)
        == 1
    )
    assert golden_for_next_batch(base=0, golden_min=0, golden_max=0, p_genuine=None, n_golden=0, recent_clean=True) == 0
