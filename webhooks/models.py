"""Webhook endpoints (per campaign) and their deliveries. No logic here: see services.py."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Event(models.TextChoices):
    BATCH_DECIDED = "batch.decided", "A batch was decided (approved, rejected, needs review)"
    VERSION_READY = "version.ready", "A dataset version is ready"
    EXPORT_READY = "export.ready", "An export is ready to download"
    TRAINING_FINISHED = "training.finished", "A training or evaluation run finished"


class Endpoint(models.Model):
    """A URL that receives a campaign's events, signed with its secret (HMAC-SHA256)."""

    campaign = models.ForeignKey("annotation.Campaign", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500, help_text="http(s) URL that receives a POST per event.")
    events = models.JSONField(default=list, help_text="Event names this endpoint receives (see Event).")
    secret = models.CharField(max_length=100, help_text="Signs every delivery; shown once when created or rotated.")
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True, help_text="Inactive endpoints receive nothing.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign", "pk"]
        indexes = [models.Index(fields=["campaign", "is_active"], name="webhook_endpoint_campaign")]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.url}"


class Delivery(models.Model):
    """One event sent (or being sent) to one endpoint: the exact body, every attempt's outcome."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="X-QEval-Delivery header.")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, choices=Event.choices)
    payload = models.JSONField(help_text="The JSON body sent.")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="HTTP status of the last attempt."
    )
    response_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Time the last attempt took.")
    response_body = models.CharField(max_length=500, blank=True, help_text="Start of the last response's body.")
    error = models.CharField(max_length=500, blank=True, help_text="Why the last attempt failed.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    replay_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_endpoint"),
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.event} -> {self.endpoint_id} ({self.status})"
