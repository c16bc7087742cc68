"""Media of an item, streamed through an access check (MEDIA_URL is never served directly).

An annotator sees an item only while holding a live lease on it; experts, admins and researchers see
every item. Video answers single Range requests (206), which browsers use to seek and to start playing.
"""
from __future__ import annotations

import mimetypes
import re

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from ..models import Item, Task
from ..permissions import role_permission
from ..roles import ABOVE_ANNOTATOR, ROLES, user_has_role

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024
HasAnyRole = role_permission(*ROLES)


class AnyAccept(BaseContentNegotiation):
    """<img>/<video> send Accept headers like image/avif or video/*: answer with JSON errors anyway."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def item_media_access(*, user, item_id: int) -> bool:
    """True when `user` may see the item's media: a role above annotator, or a live lease on it."""
    if user_has_role(user, *ABOVE_ANNOTATOR):
        return True
    return Task.objects.filter(annotator=user, item_id=item_id, status=Task.Status.LEASED,
                               lease_expires_at__gt=timezone.now()).exists()


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


def _serve(request, name: str) -> HttpResponse:
    if not name or not default_storage.exists(name):
        return Response({"detail": "the media file is missing from storage"}, status=404)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
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
            resp = HttpResponse(status=416)
            resp["Content-Range"] = f"bytes */{size}"
            return resp
        resp = StreamingHttpResponse(_ranged(default_storage.open(name, "rb"), start, end - start + 1),
                                     status=206, content_type=content_type)
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

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY,
                              403: OpenApiResponse(description="No live lease on this item."),
                              404: OpenApiResponse(description="Unknown item.")})
    def get(self, request, item_id: int):
        item = Item.objects.filter(pk=item_id).only("id", "media", "thumbnail").first()
        if item is None:
            return Response({"detail": f"item {item_id} not found"}, status=404)
        if not item_media_access(user=request.user, item_id=item.pk):
            return Response({"detail": "you hold no live lease on this item"}, status=403)
        return _serve(request, getattr(item, self.field).name)


class ItemMediaApi(_ItemFileApi):
    """The item's image or video (Range requests answered for seeking)."""

    field = "media"


class ItemThumbnailApi(_ItemFileApi):
    """The item's thumbnail (image) or poster frame (video)."""

    field = "thumbnail"


urlpatterns = [
    path("items/<int:item_id>/media/", ItemMediaApi.as_view(), name="api-item-media"),
    path("items/<int:item_id>/thumbnail/", ItemThumbnailApi.as_view(), name="api-item-thumbnail"),
]
