"""Retraining on a policy (beyond the paper): when a campaign's approved data grows by a set fraction, a
new scorer is trained and evaluated on the same test split as the current one, and promoted only if it
is better by a margin, reported with intervals. Every step is a visible training run.

A round (RetrainRound) moves on each tick (`retrain_tick`, from the beat task training.closed_loop_tick,
the `retrain` command, or the API):

    nothing running, approved ratings >= max(min_ratings, baseline x (1 + growth))
        -> every item gets a stable split (by a hash of its prompt: a prompt's split never changes as the
           data grows; an imported split is kept), a new dataset version, a training run on it (export
           split "given")                                                               [training]
    training run succeeded -> the candidate and the current scorer are evaluated on that version's test
        split: the same items for both                                                  [evaluating]
    both evaluations succeeded -> per dimension SRCC of each, and the paired bootstrap 95% interval of
        the mean SRCC difference over dimensions; promoted when the difference >= margin
        (the first scorer of a campaign is promoted when its evaluation succeeds)      [promoted | kept]
    a run failed or was cancelled                                                       [failed]

Promotion makes the candidate the policy's current scorer, and the campaign's screening scorer when
screening is on.
"""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path

import numpy as np
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotation.models import Batch, Campaign, Item, Prompt, Rating
from core.errors import InvalidInput

from ..models import RetrainPolicy, RetrainRound, Scorer, ScreeningPolicy, TrainingRun
from .configs import config_validate
from .runs import run_create, run_enqueue

TEST_SHARE, VAL_SHARE = 0.1, 0.1
BOOTSTRAP = 1000


def approved_ratings(*, campaign: Campaign) -> int:
    return Rating.objects.filter(
        item__campaign=campaign,
        batch__decision=Batch.Decision.APPROVED,
        batch__kind__in=(Batch.Kind.ANNOTATION, Batch.Kind.IMPORTED),
    ).count()


def stable_split(text_sha256: str) -> str:
    """A prompt's split from its hash: fixed for ever, whatever else is added."""
    u = int(hashlib.sha256(("split:" + text_sha256).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if u < TEST_SHARE else "val" if u < TEST_SHARE + VAL_SHARE else "train"


def splits_assign(*, campaign: Campaign) -> int:
    """Give every item without a split its prompt's stable split (items of one prompt stay together)."""
    updated = 0
    shas = dict(
        Prompt.objects.filter(items__campaign=campaign, items__split="").distinct().values_list("pk", "text_sha256")
    )
    by_split: dict[str, list[int]] = {}
    for pk, sha in shas.items():
        by_split.setdefault(stable_split(sha), []).append(pk)
    for split, prompt_ids in by_split.items():
        updated += Item.objects.filter(campaign=campaign, split="", prompt_id__in=prompt_ids).update(split=split)
    return updated


@transaction.atomic
def retrain_policy_set(
    *,
    campaign: Campaign,
    config: dict,
    growth: float = 0.2,
    margin: float = 0.01,
    min_ratings: int = 100,
    is_active: bool = True,
) -> RetrainPolicy:
    if not 0 < growth <= 10:
        raise InvalidInput("growth must be above 0 (a fraction: 0.2 = retrain when approved ratings grow by 20%)")
    if not -1 < margin < 1:
        raise InvalidInput("margin must be between -1 and 1 (an SRCC difference)")
    if min_ratings < 1:
        raise InvalidInput("min_ratings must be at least 1")
    config = config_validate(config=config)
    policy, _ = RetrainPolicy.objects.update_or_create(
        campaign=campaign,
        defaults={
            "config": config,
            "growth": growth,
            "margin": margin,
            "min_ratings": min_ratings,
            "is_active": is_active,
        },
    )
    return policy


def retrain_tick(*, policy: RetrainPolicy) -> RetrainRound | None:
    """Advance the policy's open round, or start one when the data has grown enough. Idempotent."""
    current = policy.rounds.exclude(status__in=RetrainRound.FINISHED).first()
    if current is not None:
        return _advance(current)
    if not policy.is_active:
        return None
    n = approved_ratings(campaign=policy.campaign)
    due = max(policy.min_ratings, int(policy.baseline_ratings * (1 + policy.growth)) if policy.baseline_ratings else 0)
    if n < due:
        return None
    return _start(policy, n)


def _start(policy: RetrainPolicy, n: int) -> RetrainRound:
    from annotation.services.mos import campaign_estimator, mos_aggregate

    with transaction.atomic():
        campaign = policy.campaign
        splits_assign(campaign=campaign)
        method, params = campaign_estimator(campaign)
        version = mos_aggregate(campaign=campaign, method=method, params=params)
        run = run_create(
            kind=TrainingRun.Kind.TRAIN, dataset_version_id=version.pk, config=policy.config, export_split="given"
        )
        run_enqueue(run=run)
        RetrainPolicy.objects.filter(pk=policy.pk).update(baseline_ratings=n)
        return RetrainRound.objects.create(
            policy=policy,
            dataset_version=version,
            ratings=n,
            train_run=run,
            message=f"training a candidate on version {version.number} ({n} ratings)",
        )


def _advance(rnd: RetrainRound) -> RetrainRound:
    failed = [
        r
        for r in (rnd.train_run, rnd.candidate_eval, rnd.current_eval)
        if r is not None and r.status in (TrainingRun.Status.FAILED, TrainingRun.Status.CANCELLED)
    ]
    if failed:
        return _close(
            rnd, RetrainRound.Status.FAILED, f"run {failed[0].pk} {failed[0].status}: {failed[0].error[:300]}"
        )
    if rnd.status == RetrainRound.Status.TRAINING:
        if rnd.train_run is None or rnd.train_run.status != TrainingRun.Status.SUCCEEDED:
            return rnd
        candidate = Scorer.objects.filter(training_run=rnd.train_run).order_by("-pk").first()
        if candidate is None:
            return _close(rnd, RetrainRound.Status.FAILED, f"run {rnd.train_run.pk} succeeded but registered no scorer")
        current = rnd.policy.current_scorer
        with transaction.atomic():
            rnd.candidate = candidate
            rnd.candidate_eval = _evaluation(rnd, candidate)
            rnd.current_eval = _evaluation(rnd, current) if current is not None else None
            rnd.status = RetrainRound.Status.EVALUATING
            rnd.message = "evaluating the candidate" + (f" and {current.name}" if current else "")
            rnd.save(update_fields=["candidate", "candidate_eval", "current_eval", "status", "message"])
        return rnd
    if rnd.status == RetrainRound.Status.EVALUATING:
        evals = [r for r in (rnd.candidate_eval, rnd.current_eval) if r is not None]
        if any(r.status != TrainingRun.Status.SUCCEEDED for r in evals):
            return rnd
        return _decide(rnd)
    return rnd


def _evaluation(rnd: RetrainRound, scorer: Scorer) -> TrainingRun:
    run = run_create(
        kind=TrainingRun.Kind.EVALUATE,
        dataset_version_id=rnd.dataset_version_id,
        scorer_id=scorer.pk,
        export_split="given",
    )
    run_enqueue(run=run)
    return run


def _predictions(run: TrainingRun) -> dict[tuple[str, str], tuple[float, float]]:
    """(item_id, dimension) -> (prediction, mos) from an evaluation run's predictions.csv."""
    out = {}
    with open(Path(run.predictions_path), newline="") as fh:
        for row in csv.DictReader(fh):
            out[(row["item_id"], row["dimension"])] = (float(row["prediction"]), float(row["mos"]))
    return out


def compare(candidate: dict, current: dict | None, *, bootstrap: int = BOOTSTRAP, seed: int = 0) -> dict:
    """Per dimension SRCC of each scorer on the same items, and the paired bootstrap 95% interval of the
    mean (over dimensions) SRCC difference candidate - current."""

    dims = sorted({d for _, d in candidate})
    report: dict = {"dimensions": {}, "difference": None}
    rng = np.random.default_rng(seed)
    boot_diffs = np.zeros(bootstrap)
    diffs = []
    for dim in dims:
        keys = sorted(k for k in candidate if k[1] == dim and (current is None or k in current))
        y = np.array([candidate[k][1] for k in keys])
        a = np.array([candidate[k][0] for k in keys])
        entry = {"n": len(keys), "candidate": _srcc(a, y)}
        if current is not None:
            b = np.array([current[k][0] for k in keys])
            entry["current"] = _srcc(b, y)
            if entry["candidate"] is not None and entry["current"] is not None:
                diffs.append(entry["candidate"] - entry["current"])
                idx = rng.integers(0, len(keys), size=(bootstrap, len(keys)))
                boot_diffs += np.array([_srcc(a[i], y[i], default=0.0) - _srcc(b[i], y[i], default=0.0) for i in idx])
        report["dimensions"][dim] = entry
    if current is not None and diffs:
        boot_diffs /= len(diffs)
        report["difference"] = {
            "mean_srcc": round(float(np.mean(diffs)), 4),
            "ci95": [round(float(np.percentile(boot_diffs, 2.5)), 4), round(float(np.percentile(boot_diffs, 97.5)), 4)],
        }
    return report


def _srcc(x, y, default=None):
    from scipy.stats import spearmanr

    # ptp, not std: the std of equal floats can come out a hair above zero (0.1 three times: 1.4e-17),
    # and spearmanr then answers NaN, which no JSON report can hold
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return default
    rho = float(spearmanr(x, y).statistic)
    return round(rho, 4) if math.isfinite(rho) else default


def _decide(rnd: RetrainRound) -> RetrainRound:
    if rnd.candidate_eval is None:
        return rnd
    candidate = _predictions(rnd.candidate_eval)
    current = _predictions(rnd.current_eval) if rnd.current_eval is not None else None
    report = compare(candidate, current)
    policy = rnd.policy
    if current is None:
        promote, why = True, "the campaign's first scorer"
    else:
        diff = (report["difference"] or {}).get("mean_srcc")
        promote = diff is not None and diff >= policy.margin
        ci = (report["difference"] or {}).get("ci95") or (math.nan, math.nan)
        current_name = getattr(policy.current_scorer, "name", "the current scorer")
        why = (
            (
                f"mean SRCC {'+' if (diff or 0) >= 0 else ''}{diff:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] against "
                f"{current_name}; margin {policy.margin:g}"
            )
            if diff is not None
            else "no comparable items"
        )
    report["promoted"] = promote
    with transaction.atomic():
        rnd.report = report
        if promote:
            RetrainPolicy.objects.filter(pk=policy.pk).update(current_scorer=rnd.candidate)
            ScreeningPolicy.objects.filter(campaign=policy.campaign, is_active=True).update(scorer=rnd.candidate)
        return _close(
            rnd,
            RetrainRound.Status.PROMOTED if promote else RetrainRound.Status.KEPT,
            ("promoted: " if promote else "kept the current scorer: ") + why,
        )


def _close(rnd: RetrainRound, status: str, message: str) -> RetrainRound:
    rnd.status, rnd.message, rnd.finished_at = status, message[:500], timezone.now()
    rnd.save(update_fields=["status", "message", "finished_at", "report"])
    return rnd


def closed_loop_tick() -> dict:
    """The periodic task: advance every active retraining policy; under adaptive overlap decide every
    item again (raters' golden evidence grows: an item stopped on a rater later found careless reopens);
    refresh the value-selection bonuses (scorer disagreement, coverage)."""
    from annotation.services.overlap import overlap_refresh
    from annotation.services.selection import selection_refresh

    from .screening import screening_disagreement

    rounds = [
        retrain_tick(policy=p)
        for p in RetrainPolicy.objects.filter(
            Q(is_active=True) | Q(rounds__status__in=[RetrainRound.Status.TRAINING, RetrainRound.Status.EVALUATING])
        )
        .distinct()
        .select_related("campaign")
    ]
    refreshed = retargeted = 0
    for campaign in Campaign.objects.filter(overlap_policy=Campaign.Overlap.ADAPTIVE, is_active=True):
        with transaction.atomic():
            retargeted += overlap_refresh(campaign=campaign)
    for campaign in Campaign.objects.filter(selection_policy=Campaign.Selection.VALUE, is_active=True):
        refreshed += selection_refresh(campaign=campaign, disagreement=screening_disagreement(campaign=campaign))
    return {"rounds": [r.pk for r in rounds if r is not None], "targets": retargeted, "priorities": refreshed}
