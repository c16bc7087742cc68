"""Request size bound: a body larger than QEVAL_MAX_UPLOAD_BYTES is refused with 413 from its Content-Length,
before Django reads (and spools to disk) any of it. The API's uploads and the pages' (the import page's zip, a
prompt file, media to score) alike: JSON under /api/, a plain line on a page's path."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse

from .exception_handler import API_PREFIX


def max_upload_bytes() -> int:
    return int(settings.QEVAL_MAX_UPLOAD_BYTES)


class RequestSizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _answer(request, "Content-Length is not a number", 400)
        limit = max_upload_bytes()
        if length > limit:
            return _answer(
                request,
                f"the request body is {length} bytes, more than the limit of {limit} bytes "
                "(QEVAL_MAX_UPLOAD_BYTES); split the upload or import from a server folder",
                413,
            )
        return self.get_response(request)


def _answer(request, reason: str, status: int) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": reason}, status=status)
    # A page's form: the browser shows this line (the styled error pages live in frontend, above core).
    return HttpResponse(reason + "\n", status=status, content_type="text/plain; charset=utf-8")
