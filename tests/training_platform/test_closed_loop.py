"""The scorer screens what comes in, and retraining on a policy (the closed loop), on the real database
with the tiny scorer: new items are pre-scored on import with their level probabilities, a broken one is
held for an admin's check, researchers filter by predictions and see the scorer against the MOS; a
retraining round trains, evaluates both scorers on the same test split and promotes or keeps."""

from __future__ import annotations

import numpy as np
import pytest

from annotation.models import Batch, Item, Rating
from annotation.services.imports import items_import
from tests.celery_worker import wait_for
from tests.factories import CampaignFactory, UserFactory
from tests.imports.conftest import Content
from training.models import ItemCheck, ItemPrediction, RetrainRound
from training.services.retraining import retrain_policy_set, retrain_tick, stable_split
from training.services.scorers import scorer_register
from training.services.screening import screening_set


def finished(run):
    """Wait for a training run queued through the outbox: eager Celery ran it already; with the suite's real
    worker running (it is session-wide once a test started it), the worker runs it."""
    return wait_for(
        lambda: run.__class__.objects.filter(pk=run.pk, status__in=run.FINISHED).first(),
        timeout=120,
        what=f"run {run.pk}",
    )


def imported(campaign, tmp_path, n=4):
    content = Content(tmp_path / "content")
    rows = [content.row(f"scr-{campaign.slug}-{i}", prompt=f"a small red cube number {i}") for i in range(n)]
    return items_import(campaign=campaign, manifest=content.csv(rows))


@pytest.mark.django_db(transaction=True)
def test_new_items_are_screened_and_a_broken_one_is_held_for_an_admin(tiny_model_dir, tmp_path, client_as):
    campaign = CampaignFactory(batch_size=4)
    scorer = scorer_register(name=f"screen-{campaign.slug}", path=tiny_model_dir)
    # hold_probability 0: every item counts as "sure it is broken", so the hold path is exercised
    screening_set(campaign=campaign, scorer=scorer, hold_probability=0.0)
    imported(campaign, tmp_path)  # the import's hook queues screening on commit
    preds = ItemPrediction.objects.filter(item__campaign=campaign, scorer=scorer)
    wait_for(
        lambda: preds.count() == 8 and Item.objects.filter(campaign=campaign, is_held=True).count() == 4,
        timeout=120,
        what="screening of the 4 new items",
    )  # 4 items x 2 dimensions
    for p in preds:
        assert 1 <= p.prediction <= 5
        assert set(p.probs) == {"Excellent", "Good", "Fair", "Poor", "Bad"}
        assert sum(p.probs.values()) == pytest.approx(1, abs=1e-3)
    assert Item.objects.filter(campaign=campaign, is_held=True).count() == 4
    assert ItemCheck.objects.filter(item__campaign=campaign, status="held").count() == 4

    researcher, _ = client_as("researcher")
    listed = researcher.get(
        f"/api/v1/campaigns/{campaign.slug}/predictions/?dimension=quality&order=-prediction"
    ).json()
    values = [r["prediction"] for r in listed["results"]]
    assert len(values) == 4 and values == sorted(values, reverse=True) and all(r["is_held"] for r in listed["results"])
    assert researcher.get(f"/api/v1/campaigns/{campaign.slug}/predictions/?order=sideways").status_code == 400

    admin, _ = client_as("admin")
    item = Item.objects.filter(campaign=campaign).order_by("pk").first()
    assert admin.post(f"/api/v1/items/{item.pk}/check/", {"decision": "release"}, format="json").status_code == 200
    item.refresh_from_db()
    assert not item.is_held and ItemCheck.objects.get(item=item).status == "released"
    annotator, _ = client_as("annotator")
    assert annotator.post(f"/api/v1/items/{item.pk}/check/", {"decision": "broken"}, format="json").status_code == 403
    # a released item is not held again by a repeat of the screening
    from training.services.screening import screening_run

    screening_run(campaign_id=campaign.pk, item_ids=[item.pk])
    item.refresh_from_db()
    assert not item.is_held


@pytest.mark.django_db(transaction=True)
def test_the_scorer_against_the_mos_as_ratings_arrive(tiny_model_dir, tmp_path, client_as):
    campaign = CampaignFactory(batch_size=4)
    scorer = scorer_register(name=f"agree-{campaign.slug}", path=tiny_model_dir)
    screening_set(campaign=campaign, scorer=scorer, hold_probability=1.0)  # never hold
    imported(campaign, tmp_path, n=5)
    wait_for(
        lambda: ItemPrediction.objects.filter(item__campaign=campaign).count() == 10,
        timeout=120,
        what="screening of the 5 new items",
    )
    assert not Item.objects.filter(campaign=campaign, is_held=True).exists()
    for _ in range(2):
        user = UserFactory(role="annotator")
        batch = Batch.objects.create(campaign=campaign, annotator=user, status="closed", decision="approved")
        Rating.objects.bulk_create(
            [
                Rating(annotator=user, item=item, batch=batch, quality=1 + k, alignment=5 - k)
                for k, item in enumerate(Item.objects.filter(campaign=campaign).order_by("pk"))
            ]
        )
    client, _ = client_as("researcher")
    body = client.get(f"/api/v1/campaigns/{campaign.slug}/screening/agreement/").json()
    assert body["scorer"] == scorer.name and body["dimensions"]["quality"]["n"] == 5
    assert -1 <= body["dimensions"]["quality"]["srcc"] <= 1
    worst = body["disagreements"]
    assert worst and worst[0]["difference"] == max(d["difference"] for d in worst)

    # a scorer giving every item 1.62: equal floats whose std is a hair above zero (spearmanr gave NaN,
    # which the JSON answer cannot hold); the correlations are undefined, not an error
    assert np.std(np.full(5, 1.62)) != 0  # the premise
    ItemPrediction.objects.filter(item__campaign=campaign, dimension="quality").update(prediction=1.62)
    flat = client.get(f"/api/v1/campaigns/{campaign.slug}/screening/agreement/")
    assert flat.status_code == 200
    assert flat.json()["dimensions"]["quality"] == {"n": 5, "srcc": None, "plcc": None}


def test_a_prompt_keeps_its_split_as_the_data_grows():
    assert stable_split("a" * 64) == stable_split("a" * 64)
    shares = [stable_split(f"{i:064x}") for i in range(4000)]
    assert 0.08 < shares.count("test") / 4000 < 0.12 and 0.08 < shares.count("val") / 4000 < 0.12


@pytest.mark.django_db(transaction=True)
def test_a_retraining_round_trains_evaluates_and_promotes(tiny_config, campaign):
    from tests.training_platform.conftest import make_rated_version

    make_rated_version(campaign, n_items=60, n_annotators=2)
    policy = retrain_policy_set(campaign=campaign, config=tiny_config, growth=0.3, margin=0.0, min_ratings=60)
    rnd = retrain_tick(policy=policy)  # 120 approved ratings >= 60: a round starts (runs eagerly on commit)
    assert rnd.status == "training" and rnd.train_run is not None
    assert finished(rnd.train_run).status == "succeeded"
    rnd = retrain_tick(policy=policy)
    assert rnd.status == "evaluating" and rnd.current_eval is None  # no current scorer yet
    finished(rnd.candidate_eval)
    rnd = retrain_tick(policy=policy)
    assert rnd.status == "promoted" and "first scorer" in rnd.message
    policy.refresh_from_db()
    assert policy.current_scorer == rnd.candidate and policy.baseline_ratings == 120
    assert retrain_tick(policy=policy) is None  # no growth since: nothing to do
    # the test split is fixed by the prompts: every item has one
    assert not Item.objects.filter(campaign=campaign, split="").exists()

    # more approved data: a second round compares the candidate with the current scorer on the same items
    user = UserFactory(role="annotator")
    batch = Batch.objects.create(campaign=campaign, annotator=user, status="closed", decision="approved")
    Rating.objects.bulk_create(
        [
            Rating(annotator=user, item=i, batch=batch, quality=3, alignment=3)
            for i in Item.objects.filter(campaign=campaign)
        ]
    )
    second = retrain_tick(policy=policy)
    while second.status not in RetrainRound.FINISHED:
        for run in (second.train_run, second.candidate_eval, second.current_eval):
            if run is not None:
                finished(run)
        second = retrain_tick(policy=policy)
    assert second.status in ("promoted", "kept") and second.current_eval is not None
    report = second.report
    assert set(report["dimensions"]) == {"quality", "alignment"}
    assert report["dimensions"]["quality"]["n"] > 0
    # a tiny model trained two steps may score every item alike (no rank correlation, SRCC undefined): then
    # there is no difference to give; otherwise its interval (compare() itself: the test below)
    comparable = [d for d in report["dimensions"].values() if d["candidate"] is not None and d["current"] is not None]
    assert (report["difference"] is not None) == bool(comparable)
    if comparable:
        assert len(report["difference"]["ci95"]) == 2
    assert ("promoted" if report["promoted"] else "kept") == second.status


@pytest.mark.django_db
def test_a_retraining_round_aggregates_with_the_campaigns_estimator(tiny_config, campaign):
    """Fixed overlap: the paper's mean. Adaptive overlap (items stop at 3 ratings): mle with the generator
    prior, the estimator its benchmark measured (docs/loop.md)."""
    from tests.training_platform.conftest import make_rated_version

    make_rated_version(campaign, n_items=30, n_annotators=2)
    policy = retrain_policy_set(campaign=campaign, config=tiny_config, growth=0.3, margin=0.0, min_ratings=10)
    version = retrain_tick(policy=policy).train_run.dataset_version  # not committed: nothing trains here
    assert (version.method, version.params) == ("mean", {})

    adaptive = CampaignFactory(overlap_policy="adaptive")
    make_rated_version(adaptive, n_items=30, n_annotators=2)
    policy = retrain_policy_set(campaign=adaptive, config=tiny_config, growth=0.3, margin=0.0, min_ratings=10)
    version = retrain_tick(policy=policy).train_run.dataset_version
    assert version.method == "mle" and version.params["group_prior"] is True
    assert version.counts["dimensions"]["quality"]["info"]["group_prior"]["groups"] == 3  # its 3 generators


def test_compare_gives_each_scorer_s_srcc_and_the_paired_bootstrap_interval_of_their_difference():
    from training.services.retraining import compare

    rng = np.random.default_rng(3)
    mos = {(f"it-{i}", d): float(rng.uniform(1, 5)) for i in range(40) for d in ("quality", "alignment")}
    good = {k: (m + rng.normal(0, 0.2), m) for k, m in mos.items()}
    poor = {k: (m + rng.normal(0, 2.0), m) for k, m in mos.items()}
    report = compare(good, poor)
    for dim in ("quality", "alignment"):
        entry = report["dimensions"][dim]
        assert entry["n"] == 40 and entry["candidate"] > entry["current"]
    lo, hi = report["difference"]["ci95"]
    assert 0 < lo <= report["difference"]["mean_srcc"] <= hi
    flat = {k: (3.0, m) for k, m in mos.items()}  # every item scored alike: no SRCC, nothing to compare
    assert compare(good, flat)["difference"] is None
    assert compare(good, None)["difference"] is None


def test_compare_treats_equal_predictions_as_flat_even_where_their_std_is_not_zero():
    """np.std of equal floats can be a hair above zero (0.1 three times: 1.4e-17), and spearmanr then gave
    NaN: a resample of a nearly flat scorer put NaN in the report, which PostgreSQL's JSON refused (a CI
    failure of the retraining round)."""
    import json

    from training.services.retraining import compare

    assert np.std(np.full(3, 0.1)) != 0  # the premise
    rng = np.random.default_rng(5)
    mos = {(f"it-{i}", "quality"): float(rng.uniform(1, 5)) for i in range(12)}
    good = {k: (m + rng.normal(0, 0.3), m) for k, m in mos.items()}
    # every item 0.1 but one: most bootstrap resamples leave that one out and see equal floats
    nearly_flat = {k: (0.1 if i else 0.9, m) for i, (k, m) in enumerate(mos.items())}
    report = compare(good, nearly_flat, bootstrap=200)
    json.dumps(report, allow_nan=False)  # raises on NaN
    lo, hi = report["difference"]["ci95"]
    assert lo <= hi
    assert compare(good, {k: (0.1, m) for k, m in mos.items()})["difference"] is None
