"""`scrutinize`: sweeps up closed batches never scrutinized (or all with --all) and prints the table."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.models import Batch, Job
from annotation.services.scrutiny import batch_admin_decide
from tests.scrutiny.conftest import GOLDEN_A, GOLDEN_Q, closed_batch, make_golden, rounded


def test_unscrutinized_batches_are_swept_up_and_tabled(scrutiny_campaign, make_user, capsys):
    golden = make_golden(scrutiny_campaign)
    good = closed_batch(
        scrutiny_campaign, make_user(username="ann-good"), list(zip(golden, rounded(GOLDEN_Q), rounded(GOLDEN_A)))
    )
    flat = closed_batch(scrutiny_campaign, make_user(username="ann-flat"), [(i, 3, 3) for i in golden])
    Batch.objects.create(campaign=scrutiny_campaign, annotator=make_user())  # open: left alone
    call_command("scrutinize", campaign=scrutiny_campaign.slug)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "batch",
        "annotator",
        "quality",
        "n",
        "alignment",
        "n",
        "quality",
        "SRCC/PLCC",
        "alignment",
        "SRCC/PLCC",
        "decision",
        "reason",
    ]
    assert lines[1].split()[:7] == [str(good.pk), "ann-good", "10", "10", "0.98/0.98", "0.97/0.97", "approved"]
    assert lines[2].split()[:7] == [str(flat.pk), "ann-flat", "10", "10", "-/-", "-/-", "rejected"]
    assert "quality ratings are constant over 10 golden items: correlation undefined" in lines[2]
    assert lines[-1] == f"scrutinized 2 batches of {scrutiny_campaign.slug}"
    assert Job.objects.get(kind="scrutinize").status == "succeeded"
    # A second run finds nothing new.
    call_command("scrutinize", campaign=scrutiny_campaign.slug)
    assert capsys.readouterr().out.strip() == f"scrutinized 0 batches of {scrutiny_campaign.slug}"


def test_all_rescrutinizes_and_keeps_admin_decisions(scrutiny_campaign, make_user, capsys):
    golden = make_golden(scrutiny_campaign)
    batch = closed_batch(scrutiny_campaign, make_user(), [(i, 3, 3) for i in golden])
    call_command("scrutinize", campaign=scrutiny_campaign.slug)
    batch_admin_decide(batch_id=batch.pk, decision="approve", reason="", user=make_user("admin"))
    capsys.readouterr()
    call_command("scrutinize", campaign=scrutiny_campaign.slug, rescrutinize=True)
    out = capsys.readouterr().out
    assert "approved (admin)" in out
    batch.refresh_from_db()
    assert (batch.decision, batch.auto_decision) == ("approved", "rejected")


def test_an_unknown_campaign_is_one_line(db):
    with pytest.raises(CommandError, match="^campaign 'nope' does not exist$"):
        call_command("scrutinize", campaign="nope")


def test_create_campaign_takes_the_scrutiny_settings(db):
    from annotation.models import Campaign

    call_command(
        "create_campaign",
        "strict",
        "--approve-threshold",
        "0.8",
        "--reject-threshold",
        "0.5",
        "--min-golden",
        "12",
        "--expert-ratings",
        "5",
        "--scrutiny-measure",
        "srcc",
    )
    c = Campaign.objects.get(slug="strict")
    assert (c.approve_threshold, c.reject_threshold, c.min_golden, c.expert_ratings_per_golden, c.scrutiny_measure) == (
        0.8,
        0.5,
        12,
        5,
        "srcc",
    )
    with pytest.raises(CommandError, match="thresholds must satisfy"):
        call_command("create_campaign", "bad", "--approve-threshold", "0.3", "--reject-threshold", "0.5")
