"""Starting a job from a request exactly once: a double click (or a retried POST) with the same
Idempotency-Key gets the job the first click started, not a second one.

The key is the client's (the research page makes one per form submission); it is kept in the job's params
as `request_key`. The campaign row is locked while looking for it, so two requests 80 ms apart cannot both
miss the other's job (on SQLite writers are serialised anyway)."""

from __future__ import annotations

import re
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.errors import InvalidInput

from ..models import Campaign, Job
from .jobs import job_create, job_enqueue

KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,100}$")
KEY_WINDOW = timedelta(days=1)  # a key is remembered this long


def request_key_clean(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if not KEY_RE.match(raw):
        raise InvalidInput("Idempotency-Key must be 8 to 100 letters, digits or -_.:")
    return raw


def job_start_once(*, kind: str, params: dict, campaign: Campaign, user, request_key: str | None) -> tuple[Job, bool]:
    """(job, created): the job this key started within a day, or a new one enqueued on commit."""
    with transaction.atomic():
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        if request_key:
            earlier = (
                Job.objects.filter(
                    kind=kind,
                    campaign=campaign,
                    created_by=user,
                    params__request_key=request_key,
                    created_at__gte=timezone.now() - KEY_WINDOW,
                )
                .order_by("pk")
                .first()
            )
            if earlier is not None:
                return earlier, False
            params = {**params, "request_key": request_key}
        job = job_create(kind=kind, params=params, campaign=campaign, created_by=user)
        job_enqueue(job=job)
    return job, True
