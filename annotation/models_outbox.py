"""The transactional outbox: the intent to run a Celery task, written in the same transaction as the
change that needs it (a closed batch, a new job, a training run). Data only; services/outbox.py publishes.

Imported by models.py, so the model belongs to the `annotation` app.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class OutboxMessage(models.Model):
    task = models.CharField(max_length=120, help_text="Celery task name, e.g. annotation.run_job.")
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    queue = models.CharField(max_length=40, blank=True, help_text="Empty: the task's route (CELERY_TASK_ROUTES).")
    task_id = models.CharField(max_length=64, help_text="The Celery task id the message is published with.")
    key = models.CharField(
        max_length=120,
        blank=True,
        db_index=True,
        help_text="What the message is about (e.g. scrutiny:batch:17): sweeps skip keys already waiting.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When the broker took it; empty while waiting.")
    attempts = models.PositiveIntegerField(default=0, help_text="Publish attempts that the broker refused.")
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [
            # The relay's query: unsent messages, oldest first.
            models.Index(fields=["id"], condition=Q(sent_at__isnull=True), name="outbox_unsent"),
            models.Index(fields=["sent_at"], condition=Q(sent_at__isnull=False), name="outbox_sent_at"),
        ]

    def __str__(self) -> str:
        return f"outbox {self.pk} {self.task}{tuple(self.args)} ({'sent' if self.sent_at else 'waiting'})"
