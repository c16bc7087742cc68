"""A URLconf in which an earlier pattern shadows the rating route (test_lean_dispatch.py): Django's resolver
sends the rating POST to `shadow`, so the fast lane must not answer it."""

from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def shadow(request, **kwargs):
    return JsonResponse({"shadow": True})


urlpatterns = [
    re_path(r"^api/v1/tasks/", shadow),
    path("", include("config.urls")),
]
