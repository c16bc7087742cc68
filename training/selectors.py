"""Reads of the training app (lists for the API and the pages, without N+1 queries)."""
from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from .models import Scorer, TrainingRun

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


def benchmark_list(*, limit: int = 100):
    from .models import Benchmark

    return Benchmark.objects.select_related("campaign", "dataset_version", "created_by").defer("report")[:limit]


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
