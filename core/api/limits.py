"""Request size bound for the API: a body larger than QEVAL_MAX_UPLOAD_BYTES is refused with 413 from its
Content-Length, before Django reads (and spools to disk) any of it."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse

from .exception_handler import API_PREFIX


def max_upload_bytes() -> int:
    return int(settings.QEVAL_MAX_UPLOAD_BYTES)


class RequestSizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(API_PREFIX):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return JsonResponse({"detail": "Content-Length is not a number"}, status=400)
            limit = max_upload_bytes()
            if length > limit:
                return JsonResponse(
                    {
                        "detail": f"the request body is {length} bytes, more than the limit of {limit} bytes "
                        "(QEVAL_MAX_UPLOAD_BYTES); split the upload or import from a server folder"
                    },
                    status=413,
                )
        return self.get_response(request)
