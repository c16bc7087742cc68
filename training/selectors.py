"""Reads of the training app (lists for the API and the pages, without N+1 queries)."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from .models import Benchmark, Scorer, TrainingRun

LIST_HEAVY_FIELDS = ("loss_curve", "metrics", "config")


def run_list() -> QuerySet[TrainingRun]:
    """Newest first; the big JSON columns are left out (the detail view has them)."""
    return (
        TrainingRun.objects.select_related("campaign", "dataset_version", "scorer", "created_by")
        .defer(*LIST_HEAVY_FIELDS)
        .order_by("-created_at", "-id")
    )


def run_detail(*, run_id) -> TrainingRun | None:
    try:
        return (
            TrainingRun.objects.select_related("campaign", "dataset_version", "scorer", "created_by")
            .prefetch_related(Prefetch("scorers", queryset=Scorer.objects.order_by("-id")))
            .get(pk=int(run_id))
        )
    except (TrainingRun.DoesNotExist, ValueError, TypeError):
        return None


def scorer_list(*, active_only: bool = True) -> QuerySet[Scorer]:
    qs = Scorer.objects.select_related("training_run").order_by("-created_at", "-id")
    return qs.filter(is_active=True) if active_only else qs


def scorer_find(*, scorer_id, active_only: bool = True) -> Scorer | None:
    """The scorer with this id (an int or digits), or None (also for an id that is not a number)."""
    try:
        pk = int(scorer_id)
    except (TypeError, ValueError):
        return None
    qs = Scorer.objects.filter(pk=pk)
    return (qs.filter(is_active=True) if active_only else qs).first()


def benchmark_list() -> QuerySet[Benchmark]:
    """Newest first, without the report (the detail has it)."""
    return (
        Benchmark.objects.select_related("campaign", "dataset_version", "created_by")
        .defer("report")
        .order_by("-created_at", "-id")
    )


def retrain_overview(*, campaign, rounds: int = 20) -> dict[str, Any]:
    """The campaign's retraining policy (None without one), its approved ratings and its latest rounds."""
    from .services.retraining import approved_ratings

    policy = getattr(campaign, "retrain_policy", None)
    latest = list(policy.rounds.all()[:rounds]) if policy else []
    return {
        "policy": None
        if policy is None
        else {
            "config": policy.config,
            "growth": policy.growth,
            "margin": policy.margin,
            "min_ratings": policy.min_ratings,
            "is_active": policy.is_active,
            "baseline_ratings": policy.baseline_ratings,
            "current_scorer": policy.current_scorer_id,
            "current_scorer_name": getattr(policy.current_scorer, "name", None),
        },
        "approved_ratings": approved_ratings(campaign=campaign),
        "rounds": [
            {
                "id": r.pk,
                "status": r.status,
                "message": r.message,
                "dataset_version": r.dataset_version_id,
                "ratings": r.ratings,
                "train_run": r.train_run_id,
                "candidate_eval": r.candidate_eval_id,
                "current_eval": r.current_eval_id,
                "candidate": r.candidate_id,
                "report": r.report,
                "created_at": r.created_at,
                "finished_at": r.finished_at,
            }
            for r in latest
        ],
    }


# Files of a run's last evaluation that researchers may download from its page.
RUN_FILES = ("predictions.csv", "report.json")


def run_file_path(*, run: TrainingRun, name: str):
    """The path of one of RUN_FILES of the run's last evaluation, or None when there is none (it must lie
    under TRAINING_ROOT: a stored path never lets a download read elsewhere)."""
    from pathlib import Path

    from django.conf import settings

    if name not in RUN_FILES or not run.predictions_path:
        return None
    path = (Path(run.predictions_path).parent / name).resolve()
    root = Path(settings.TRAINING_ROOT).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def held_checks(*, campaign_slug: str | None = None, limit: int = 200) -> list:
    """Items the screening scorer holds for an admin's check, oldest first (with their item, campaign and
    generator)."""
    from .models import ItemCheck

    checks = ItemCheck.objects.filter(status=ItemCheck.Status.HELD).select_related(
        "item", "item__campaign", "item__generator"
    )
    if campaign_slug:
        checks = checks.filter(item__campaign__slug=campaign_slug)
    return list(checks.order_by("created_at")[:limit])
