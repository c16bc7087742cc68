"""Media, streamed through an access check (MEDIA_URL is never served directly).

- `tasks/{id}/media/`, `tasks/{id}/thumbnail/`: what the rating page uses. An annotator reaches media
  only through their own task while its lease is live: a task id names a lease, never an item, so
  nothing an annotator sees tells which item (or which golden item) it is.
- `items/{id}/media/`, `items/{id}/thumbnail/`: for experts, admins and researchers (every item). To
  anyone else every item id answers the same 404, so item ids cannot be probed.

Video answers single Range requests (206), which browsers use to seek and to start playing.
"""

from __future__ import annotations

import mimetypes
import re
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.views import APIView

from core.errors import Forbidden, NotFound
from core.permissions import role_permission
from core.roles import ROLES

from ..selectors.media import item_file_name, item_media_access, task_file

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024
HasAnyRole = role_permission(*ROLES)


class AnyAccept(BaseContentNegotiation):
    """<img>/<video> send Accept headers like image/avif or video/*: answer with JSON errors anyway."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _ranged(fh, start: int, length: int):
    fh.seek(start)
    left = length
    try:
        while left > 0:
            data = fh.read(min(CHUNK, left))
            if not data:
                break
            left -= len(data)
            yield data
    finally:
        fh.close()


def _accel_prefix() -> str:
    """The X-Accel-Redirect prefix when nginx serves the files (QEVAL_MEDIA_ACCEL_PREFIX, local storage only)."""
    local = str(settings.STORAGES["default"].get("BACKEND", "")).endswith("FileSystemStorage")  # type: ignore[attr-defined]
    return settings.QEVAL_MEDIA_ACCEL_PREFIX if local else ""


def _serve(request, name: str) -> HttpResponseBase:
    if not name or not default_storage.exists(name):
        raise NotFound("the media file is missing from storage")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    prefix = _accel_prefix()
    if prefix:
        # Access is checked: nginx sends the bytes (Range requests too) from its internal location, keeping
        # these headers, and no web thread waits on a slow download.
        handoff = HttpResponse(content_type=content_type)
        handoff["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(name)
        handoff["Cache-Control"] = "private, max-age=600"  # a shared cache must never hand a leased item on
        return handoff
    size = default_storage.size(name)
    match = RANGE_RE.match(request.headers.get("Range", "").strip())
    if match and (match.group(1) or match.group(2)):
        first, last = match.group(1), match.group(2)
        if first:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        else:  # suffix range: the last N bytes
            start, end = max(0, size - int(last)), size - 1
        if start >= size or start > end:
            refused = HttpResponse(status=416)
            refused["Content-Range"] = f"bytes */{size}"
            return refused
        resp: HttpResponseBase = StreamingHttpResponse(
            _ranged(default_storage.open(name, "rb"), start, end - start + 1), status=206, content_type=content_type
        )
        resp["Content-Range"] = f"bytes {start}-{end}/{size}"
        resp["Content-Length"] = str(end - start + 1)
    else:
        resp = FileResponse(default_storage.open(name, "rb"), content_type=content_type)
        resp["Content-Length"] = str(size)
    resp["Accept-Ranges"] = "bytes"
    # Private: a shared cache must never hand a leased item to someone else.
    resp["Cache-Control"] = "private, max-age=600"
    return resp


class _ItemFileApi(APIView):
    permission_classes = [HasAnyRole]
    content_negotiation_class = AnyAccept
    field = "media"

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            404: OpenApiResponse(
                description="Unknown item, or not visible to you (annotators reach media through their tasks)."
            ),
        }
    )
    def get(self, request, item_id: int):
        allowed = item_media_access(user=request.user, item_id=item_id)
        name = item_file_name(item_id=item_id, field=self.field) if allowed else None
        if name is None:  # the same 404 for a missing item and one the caller may not see
            raise NotFound(f"item {item_id} not found")
        return _serve(request, name)


class ItemMediaApi(_ItemFileApi):
    """The item's image or video (Range requests answered for seeking)."""

    field = "media"


class ItemThumbnailApi(_ItemFileApi):
    """The item's thumbnail (image) or poster frame (video)."""

    field = "thumbnail"


class _TaskFileApi(APIView):
    permission_classes = [HasAnyRole]
    content_negotiation_class = AnyAccept
    field = "media"

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            403: OpenApiResponse(description="The lease on this task has ended."),
            404: OpenApiResponse(description="Not your task."),
        }
    )
    def get(self, request, task_id: int):
        name, visible = task_file(task_id=task_id, user=request.user, field=self.field)
        if name is None:
            raise NotFound(f"task {task_id} not found")
        if not visible:
            raise Forbidden("the lease on this task has ended: ask for a new batch")
        return _serve(request, name)


class TaskMediaApi(_TaskFileApi):
    """The image or video of one of your tasks, while its lease is live (Range requests answered)."""

    field = "media"


class TaskThumbnailApi(_TaskFileApi):
    """The thumbnail (image) or poster frame (video) of one of your tasks."""

    field = "thumbnail"


urlpatterns = [
    path("tasks/<int:task_id>/media/", TaskMediaApi.as_view(), name="api-task-media"),
    path("tasks/<int:task_id>/thumbnail/", TaskThumbnailApi.as_view(), name="api-task-thumbnail"),
    path("items/<int:item_id>/media/", ItemMediaApi.as_view(), name="api-item-media"),
    path("items/<int:item_id>/thumbnail/", ItemThumbnailApi.as_view(), name="api-item-thumbnail"),
]
