"""The webhooks page for researchers and admins: a campaign's endpoints (register, switch off, rotate the
secret, remove) and the delivery log with replay. The secret appears once, right after it was made."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from annotation.selectors.desk import campaign_list
from annotation.services.campaigns import campaign_get
from core.errors import NotFound, ServiceError
from frontend.access import researcher_required

from . import selectors
from .models import Event
from .services import (
    delivery_get,
    delivery_replay,
    endpoint_create,
    endpoint_delete,
    endpoint_get,
    endpoint_rotate_secret,
    endpoint_update,
)

SECRET_KEY = "webhooks:new-secret"  # session key of the one-shot secret


@researcher_required
def index(request):
    return render(request, "webhooks/index.html", {"campaigns": campaign_list()})


def _campaign(slug: str):
    try:
        return campaign_get(slug=slug)
    except NotFound as exc:
        raise Http404(exc.message) from None


@researcher_required
@require_http_methods(["GET", "POST"])
def campaign_page(request, slug: str):
    campaign = _campaign(slug)
    if request.method == "POST":
        return _act(request, campaign)
    shown_secret = request.session.pop(SECRET_KEY, None)
    return render(
        request,
        "webhooks/campaign.html",
        {
            "campaign": campaign,
            "endpoints": list(selectors.endpoint_list(campaign=campaign)),
            "deliveries": selectors.delivery_list(campaign=campaign),
            "events": Event.choices,
            "new_secret": shown_secret,
            "form": request.session.pop("webhooks:form", None) or {},
        },
    )


def _act(request, campaign):
    action = request.POST.get("action", "")
    try:
        if action == "create":
            endpoint, secret = endpoint_create(
                campaign=campaign,
                url=request.POST.get("url", ""),
                events=request.POST.getlist("events"),
                description=request.POST.get("description", ""),
                user=request.user,
            )
            request.session[SECRET_KEY] = {"endpoint": endpoint.pk, "url": endpoint.url, "secret": secret}
            messages.success(request, f"Endpoint {endpoint.pk} registered: copy its secret now, it is shown only once.")
        elif action in ("disable", "enable", "rotate", "delete"):
            endpoint = endpoint_get(endpoint_id=request.POST.get("endpoint"), campaign=campaign)
            if action == "rotate":
                secret = endpoint_rotate_secret(endpoint=endpoint)
                request.session[SECRET_KEY] = {"endpoint": endpoint.pk, "url": endpoint.url, "secret": secret}
                messages.success(request, f"Endpoint {endpoint.pk} has a new secret: the old one no longer verifies.")
            elif action == "delete":
                endpoint_delete(endpoint=endpoint)
                messages.success(request, f"Endpoint {endpoint.pk} removed.")
            else:
                endpoint_update(endpoint=endpoint, is_active=action == "enable")
                messages.success(request, f"Endpoint {endpoint.pk} switched {'on' if action == 'enable' else 'off'}.")
        elif action == "replay":
            again = delivery_replay(delivery=delivery_get(delivery_id=request.POST.get("delivery"), campaign=campaign))
            messages.success(request, f"Sent again as delivery {again.pk}.")
        else:
            messages.error(request, "Unknown action.")
    except ServiceError as exc:
        messages.error(request, f"Not saved: {exc.message}.")
        if action == "create":
            request.session["webhooks:form"] = {
                "url": request.POST.get("url", ""),
                "events": request.POST.getlist("events"),
                "description": request.POST.get("description", ""),
            }
    return redirect("webhooks-campaign", slug=campaign.slug)
