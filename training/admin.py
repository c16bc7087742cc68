"""Training runs and scorers in the Django admin. Progress, curves and metrics are read-only: the
worker owns them."""

from django.contrib import admin

from .models import Scorer, TrainingRun


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "status",
        "campaign",
        "dataset_version",
        "scorer",
        "progress_step",
        "progress_total",
        "created_by",
        "created_at",
        "finished_at",
    )
    list_filter = ("kind", "status", "campaign", "cancel_requested")
    search_fields = ("id", "base_model", "campaign__slug", "message", "error", "celery_task_id")
    list_select_related = ("campaign", "dataset_version__campaign", "scorer", "created_by")
    raw_id_fields = ("dataset_version", "scorer", "export_job", "created_by")
    readonly_fields = (
        "progress_step",
        "progress_total",
        "loss_curve",
        "metrics",
        "attempts",
        "heartbeat_at",
        "celery_task_id",
        "started_at",
        "finished_at",
        "created_at",
    )


@admin.register(Scorer)
class ScorerAdmin(admin.ModelAdmin):
    list_display = ("name", "base_model", "training_run", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "path", "base_model")
    raw_id_fields = ("training_run", "created_by")
    readonly_fields = ("metrics", "created_at")
