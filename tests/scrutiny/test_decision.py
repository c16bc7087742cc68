"""The automatic decision: each branch, the measure variants, idempotence, and admin decisions winning."""

import pytest
from django.utils import timezone

from annotation.models import Batch, Task
from annotation.services.scrutiny import batch_admin_decide, batch_scrutinize, scrutiny_verdict
from tests.factories import CampaignFactory
from tests.scrutiny.conftest import GOLDEN_A, GOLDEN_Q, closed_batch, make_golden, rounded


def scrutinize(batch):
    batch_scrutinize(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


def test_ratings_that_follow_the_golden_scores_are_approved(scrutiny_campaign, make_user):
    golden = make_golden(scrutiny_campaign)
    batch = scrutinize(
        closed_batch(scrutiny_campaign, make_user(), list(zip(golden, rounded(GOLDEN_Q), rounded(GOLDEN_A))))
    )
    assert (batch.decision, batch.decision_source, batch.auto_decision) == ("approved", "auto", "approved")
    assert batch.scrutiny["quality"]["n_golden"] == 10 and batch.scrutiny["quality"]["srcc"] > 0.9
    assert batch.scrutinized_at is not None and batch.decided_by is None


def test_ratings_against_the_golden_scores_are_rejected_with_the_reason(scrutiny_campaign, make_user):
    golden = make_golden(scrutiny_campaign)
    reversed_q = [6 - r for r in rounded(GOLDEN_Q)]
    batch = scrutinize(closed_batch(scrutiny_campaign, make_user(), list(zip(golden, reversed_q, rounded(GOLDEN_A)))))
    assert batch.decision == "rejected"
    assert "quality SRCC -" in batch.decision_reason and "< reject threshold 0.4" in batch.decision_reason


def test_a_middling_correlation_needs_review(scrutiny_campaign, make_user):
    golden = make_golden(scrutiny_campaign)
    middling = [3, 1, 1, 1, 1, 4, 3, 4, 2, 4]  # SRCC 0.58, PLCC 0.52 against GOLDEN_Q
    batch = scrutinize(closed_batch(scrutiny_campaign, make_user(), list(zip(golden, middling, rounded(GOLDEN_A)))))
    assert batch.decision == "needs_review"
    assert "quality SRCC 0.58 between thresholds 0.4 and 0.7" in batch.decision_reason


def test_constant_ratings_are_rejected_and_the_reason_says_the_correlation_is_undefined(scrutiny_campaign, make_user):
    golden = make_golden(scrutiny_campaign)
    batch = scrutinize(
        closed_batch(scrutiny_campaign, make_user(), [(i, 3, r) for i, r in zip(golden, rounded(GOLDEN_A))])
    )
    assert batch.decision == "rejected"
    assert batch.decision_reason == "quality ratings are constant over 10 golden items: correlation undefined"
    assert batch.scrutiny["quality"]["srcc"] is None and batch.scrutiny["quality"]["constant"] == "ratings"


def test_a_rater_who_matches_tied_golden_scores_is_not_rejected_as_constant(scrutiny_campaign, make_user):
    # Every golden item of the batch has the golden quality score 4 and the rater gives each a 4: the
    # correlation is undefined because of the experts' tie, so it says nothing (review), not "reject".
    golden = make_golden(scrutiny_campaign, quality=[4.0] * 10)
    batch = scrutinize(
        closed_batch(scrutiny_campaign, make_user(), [(i, 4, r) for i, r in zip(golden, rounded(GOLDEN_A))])
    )
    assert batch.decision == "needs_review"
    assert batch.scrutiny["quality"]["constant"] == "golden" and batch.scrutiny["quality"]["mae"] == 0.0
    assert "golden scores on quality are constant over these 10 items" in batch.decision_reason


def test_a_batch_whose_leases_all_ran_out_is_approved_with_nothing_to_check(scrutiny_campaign, make_user):
    # An annotator takes a batch and leaves: every task expires, the batch closes with no rating. Under the
    # fixed method it went to the admins' review queue (too few golden items), under calibrated a good record
    # approved it with "your ratings agree well"; now either way it says there was nothing to check.
    golden = make_golden(scrutiny_campaign)
    annotator = make_user()
    now = timezone.now()
    batch = Batch.objects.create(
        campaign=scrutiny_campaign, annotator=annotator, status=Batch.Status.CLOSED, closed_at=now
    )
    for pos, item in enumerate(golden[:4]):
        Task.objects.create(
            batch=batch,
            item=item,
            annotator=annotator,
            position=pos,
            is_golden=True,
            status=Task.Status.EXPIRED,
            lease_expires_at=now,
        )
    batch = scrutinize(batch)
    assert (batch.decision, batch.decision_source, batch.risk) == ("approved", "auto", 0.0)
    assert batch.public_reason.startswith("Nothing to check: this batch has no ratings")
    assert batch.decision_reason.startswith("no ratings in this batch")
    assert batch.scrutiny["quality"]["n_golden"] == 0


def test_too_few_golden_items_need_review(scrutiny_campaign, make_user):
    golden = make_golden(scrutiny_campaign)[:5]
    batch = scrutinize(closed_batch(scrutiny_campaign, make_user(), [(i, 3, 3) for i in golden]))
    assert batch.decision == "needs_review"  # constant ratings over 5 items are not judged: too few
    assert batch.decision_reason == "too few golden items on quality: 5 < 8; too few golden items on alignment: 5 < 8"


def test_a_batch_without_golden_items_needs_review(scrutiny_campaign, make_user):
    from tests.factories import ItemFactory

    items = [ItemFactory(campaign=scrutiny_campaign) for _ in range(3)]
    batch = scrutinize(closed_batch(scrutiny_campaign, make_user(), [(i, 4, 4) for i in items]))
    assert batch.decision == "needs_review"
    assert {k: batch.scrutiny["quality"][k] for k in ("n_golden", "srcc", "plcc", "bias", "constant")} == {
        "n_golden": 0,
        "srcc": None,
        "plcc": None,
        "bias": None,
        "constant": None,
    }


# SRCC 0.98, PLCC 0.65 / SRCC 0.32, PLCC 0.78 over these golden scores (checked against scipy).
SKEWED_GOLDEN = [1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 5.0]
HIGH_SRCC = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
HIGH_PLCC = [2, 1, 1, 3, 2, 1, 3, 2, 1, 5]


@pytest.mark.parametrize(
    "measure, ratings, decision",
    [
        ("srcc", HIGH_SRCC, "approved"),
        ("plcc", HIGH_SRCC, "needs_review"),
        ("srcc_and_plcc", HIGH_SRCC, "needs_review"),
        ("plcc", HIGH_PLCC, "approved"),
        ("srcc", HIGH_PLCC, "rejected"),
        ("srcc_and_plcc", HIGH_PLCC, "rejected"),
    ],
)
def test_the_measure_setting_picks_which_correlation_decides(make_user, measure, ratings, decision):
    campaign = CampaignFactory(rate_alignment=False, scrutiny_measure=measure, scrutiny_method="fixed")
    golden = make_golden(campaign, quality=SKEWED_GOLDEN, alignment=[None] * 10)
    batch = scrutinize(closed_batch(campaign, make_user(), [(i, r, None) for i, r in zip(golden, ratings)]))
    assert batch.decision == decision, batch.decision_reason
    assert [k for k in batch.scrutiny if k != "evidence"] == ["quality"]


def test_the_verdict_uses_the_campaign_thresholds():
    campaign = CampaignFactory.build(rate_alignment=False, approve_threshold=0.9, reject_threshold=0.2, min_golden=3)
    figures = {"quality": {"n_golden": 3, "srcc": 0.85, "plcc": 0.95, "constant": None}}
    assert scrutiny_verdict(campaign=campaign, figures=figures).decision == "needs_review"
    campaign.approve_threshold = 0.8
    verdict = scrutiny_verdict(campaign=campaign, figures=figures)
    assert (verdict.decision, verdict.reason) == ("approved", "quality SRCC 0.85/PLCC 0.95 >= 0.8")


def test_rescrutiny_of_an_unchanged_batch_changes_nothing(scrutiny_campaign, make_user):
    golden = make_golden(scrutiny_campaign)
    batch = scrutinize(
        closed_batch(scrutiny_campaign, make_user(), list(zip(golden, rounded(GOLDEN_Q), rounded(GOLDEN_A))))
    )
    before = Batch.objects.filter(pk=batch.pk).values().get()
    counts = sorted(golden[0].__class__.objects.values_list("pk", "active_count"))
    batch_scrutinize(batch_id=batch.pk)
    assert Batch.objects.filter(pk=batch.pk).values().get() == before
    assert sorted(golden[0].__class__.objects.values_list("pk", "active_count")) == counts


def test_an_admin_decision_survives_rescrutiny(scrutiny_campaign, make_user):
    golden = make_golden(scrutiny_campaign)
    reversed_q = [6 - r for r in rounded(GOLDEN_Q)]
    batch = scrutinize(closed_batch(scrutiny_campaign, make_user(), list(zip(golden, reversed_q, rounded(GOLDEN_A)))))
    assert batch.decision == "rejected"
    admin = make_user("admin")
    batch_admin_decide(
        batch_id=batch.pk, decision="approve", reason="checked by hand: the scale was inverted", user=admin
    )
    # A changed golden score makes the re-scrutiny compute new figures; the admin's decision stays.
    golden[0].golden_scores.filter(dimension="quality").update(score=4.0)
    batch = scrutinize(batch)
    assert (batch.decision, batch.decision_source, batch.decided_by) == ("approved", "admin", admin)
    assert batch.decision_reason == "checked by hand: the scale was inverted"
    assert batch.auto_decision == "rejected"


def test_changed_golden_scores_change_an_automatic_decision(scrutiny_campaign, make_user):
    golden = make_golden(scrutiny_campaign)
    batch = scrutinize(
        closed_batch(scrutiny_campaign, make_user(), list(zip(golden, rounded(GOLDEN_Q), rounded(GOLDEN_A))))
    )
    assert batch.decision == "approved"
    for item, score in zip(golden, reversed(GOLDEN_Q)):
        item.golden_scores.filter(dimension="quality").update(score=score)
    batch = scrutinize(batch)
    assert (batch.decision, batch.decision_source) == ("rejected", "auto")


def test_expert_batches_are_approved_without_scrutiny(scrutiny_campaign, make_user):
    golden = make_golden(scrutiny_campaign)
    batch = closed_batch(scrutiny_campaign, make_user("expert"), [(golden[0], 1, 1)], kind=Batch.Kind.EXPERT)
    batch = scrutinize(batch)
    assert (batch.decision, batch.decision_source, batch.scrutiny) == ("approved", "auto", {})
    assert "not scrutinized" in batch.decision_reason


def test_an_open_batch_is_not_scrutinized(scrutiny_campaign, make_user):
    from core.errors import Conflict

    batch = Batch.objects.create(campaign=scrutiny_campaign, annotator=make_user())
    with pytest.raises(Conflict, match="still open"):
        batch_scrutinize(batch_id=batch.pk)


def test_the_task_skips_a_batch_that_no_longer_exists(db, caplog):
    from annotation.tasks.scrutiny import scrutinize_batch

    scrutinize_batch.apply(args=(987654,)).get()
    assert "scrutiny of batch 987654 skipped: batch 987654 does not exist" in caplog.text
