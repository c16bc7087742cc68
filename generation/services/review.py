"""Approval of outputs that wait for it (jobs made with review): approving makes the items, in one transaction
(the same rows a job without review writes at once); rejecting keeps the output's row (so a re-run does not
make it again) and removes its stored files unless something else uses them."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from annotation.models import Campaign, Item
from annotation.services.imports import media_remove_unused, media_write_lock
from annotation.services.item_events import items_created
from core.errors import InvalidInput

from ..models import GenerationOutput
from .running import _item_id

OStatus = GenerationOutput.Status
DECISIONS = ("approve", "reject")
MAX_IDS = 10_000


def outputs_review(
    *, campaign: Campaign, decision: str, output_ids: list[int] | None = None, job_id: int | None = None, user=None
) -> dict[str, Any]:
    """Approve or reject outputs waiting for approval: the listed ids, or all of a job's. Outputs not waiting
    (already decided, or not made yet) are counted as skipped, not errors."""
    if decision not in DECISIONS:
        raise InvalidInput(f"decision must be approve or reject, got {decision!r}")
    if not output_ids and job_id is None:
        raise InvalidInput("name the outputs (ids) or a job")
    qs = GenerationOutput.objects.filter(campaign=campaign)
    if output_ids:
        try:
            ids = [int(i) for i in output_ids]
        except (TypeError, ValueError):
            raise InvalidInput("output ids must be whole numbers") from None
        if len(ids) > MAX_IDS:
            raise InvalidInput(f"at most {MAX_IDS} outputs per call")
        qs = qs.filter(pk__in=ids)
    if job_id is not None:
        qs = qs.filter(job_id=job_id)
    asked = qs.count()
    with media_write_lock(), transaction.atomic():
        waiting = list(qs.select_for_update(of=("self",)).filter(status=OStatus.REVIEW).select_related("generator"))
        now = timezone.now()
        if decision == "approve":
            taken = set(
                Item.objects.filter(campaign=campaign, item_id__in=[_item_id(o) for o in waiting]).values_list(
                    "item_id", flat=True
                )
            )
            fresh = [o for o in waiting if _item_id(o) not in taken]
            items = Item.objects.bulk_create(
                [
                    Item(
                        campaign=campaign,
                        item_id=_item_id(o),
                        media_type=o.media_type,
                        media=o.media,
                        thumbnail=o.thumbnail,
                        width=o.width,
                        height=o.height,
                        duration=o.duration,
                        fps=o.fps,
                        sha256=o.sha256,
                        prompt_id=o.prompt_id,
                        generator_id=o.generator_id,
                        target=campaign.target_for(o.media_type),
                    )  # type: ignore[misc]  # probed
                    for o in fresh
                ]
            )
            items_created(campaign=campaign, item_ids=[i.pk for i in items])
            for output, item in zip(fresh, items):
                GenerationOutput.objects.filter(pk=output.pk).update(
                    status=OStatus.DONE, item=item, reviewed_by=user, finished_at=output.finished_at or now
                )
            clash = [o for o in waiting if _item_id(o) in taken]
            for output in clash:
                GenerationOutput.objects.filter(pk=output.pk).update(
                    status=OStatus.FAILED, error=f"item_id {_item_id(output)!r} is already in the campaign"
                )
            result = {"approved": len(fresh), "failed": len(clash)}
        else:
            GenerationOutput.objects.filter(pk__in=[o.pk for o in waiting]).update(
                status=OStatus.REJECTED, reviewed_by=user
            )
            names = [n for o in waiting for n in (o.media, o.thumbnail) if n]
            still = set(
                GenerationOutput.objects.filter(status=OStatus.REVIEW, media__in=names).values_list("media", flat=True)
            )
            transaction.on_commit(lambda: media_remove_unused(names=[n for n in names if n not in still]))
            result = {"rejected": len(waiting)}
    result["skipped"] = asked - len(waiting)
    return result
