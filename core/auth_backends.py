"""Login lockout (django-axes): repeated failed logins for one username from one address lock them out
for a cool-off (QEVAL_LOGIN_FAILURE_LIMIT, QEVAL_LOGIN_COOLOFF_HOURS).

`LockoutBackend` is axes' standalone backend, except that a call without a request (management commands,
the test client's `login()`) has no address to attribute and is not checked; every login through the
login page or the admin carries its request and is.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpResponse, JsonResponse


class LockoutBackend(AxesStandaloneBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """429 with the cool-off in words: JSON for API clients, a short page for the login form."""
    hours = float(settings.AXES_COOLOFF_TIME)
    minutes = max(1, round(hours * 60))
    reason = (
        f"too many failed logins for this account from this address; try again in {minutes} minutes "
        "or ask an admin to unlock it (manage.py axes_reset_username USERNAME)"
    )
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        response: HttpResponse = JsonResponse({"detail": reason}, status=429)
    else:
        response = HttpResponse(
            f"<!doctype html><title>Locked out</title><h1>Locked out</h1><p>{reason}.</p>"
            '<p><a href="/login/">Back to the login page</a></p>',
            status=429,
        )
    response["Retry-After"] = str(minutes * 60)
    return response
