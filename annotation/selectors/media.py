"""Reads behind the media endpoints: which stored file an item or a task shows, and whether the caller may see
it. An annotator reaches media only through their own task while its lease is live."""

from __future__ import annotations

from django.utils import timezone

from core.roles import ABOVE_ANNOTATOR, user_has_role
from core.sql import fast_sql_enabled, sql_row

from ..models import Item, Task

# The rating page fetches each task's media once per rating: one prepared statement on PostgreSQL (the ORM
# query below cost ~0.7 ms of CPU to build and read).
TASK_FILE_SQL = f"""
    SELECT t.status, t.lease_expires_at, i.media, i.thumbnail
      FROM {Task._meta.db_table} t JOIN {Item._meta.db_table} i ON i.id = t.item_id
     WHERE t.id = %(task)s::bigint AND (%(staff)s::boolean OR t.annotator_id = %(user)s::bigint)"""


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
    if fast_sql_enabled():
        row = sql_row(TASK_FILE_SQL, {"task": task_id, "staff": staff, "user": user.pk})
        if row is None:
            return None, False
        status, expires, media, thumbnail = row
        live = status == Task.Status.LEASED and expires > timezone.now()
        return (media if field == "media" else thumbnail) or "", staff or live
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
