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
