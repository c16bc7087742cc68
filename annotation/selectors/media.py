"""Reads behind the media endpoints: which stored file an item or a task shows, and whether the caller may see
it. An annotator reaches media only through their own task while its lease is live."""

from __future__ import annotations

from django.utils import timezone

from core.roles import ABOVE_ANNOTATOR, user_has_role

from ..models import Item, Task


def item_media_access(*, user, item_id: int) -> bool:
    """True when `user` may see an item's media by its id: a role above annotator."""
    return user_has_role(user, *ABOVE_ANNOTATOR)


def item_file_name(*, item_id: int, field: str) -> str | None:
    """The stored name of the item's `field` ("media" or "thumbnail"); None when there is no such item."""
    item = Item.objects.filter(pk=item_id).only("id", "media", "thumbnail").first()
    return None if item is None else (getattr(item, field).name or "")


def task_file(*, task_id: int, user, field: str) -> tuple[str | None, bool]:
    """(the stored name of the task's item's `field`, whether the caller may see it now). The name is None when
    the task does not exist or, for an annotator, is not theirs; an annotator's lease must still be live."""
    staff = user_has_role(user, *ABOVE_ANNOTATOR)
    qs = (
        Task.objects.filter(pk=task_id)
        .select_related("item")
        .only("id", "annotator_id", "status", "lease_expires_at", "item__media", "item__thumbnail")
    )
    if not staff:
        qs = qs.filter(annotator=user)
    task = qs.first()
    if task is None:
        return None, False
    live = task.status == Task.Status.LEASED and task.lease_expires_at > timezone.now()
    return getattr(task.item, field).name or "", staff or live
