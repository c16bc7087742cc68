"""The annotator's pages: a campaign's instructions, the rating page shell, and "My batches".

The rating page only renders a shell (campaign slug, dimensions, mode, level words and anchors);
everything it does after that goes through the REST API (annotation/api/batches.py), like a script
would. Nothing here ever shows golden scores, the golden flag, scrutiny figures or other people's
ratings: "My batches" shows a batch's decision, never why scrutiny decided it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from annotation.models import Campaign, ItemFlag
from annotation.selectors.annotate import active_campaign, admin_contacts
from annotation.selectors.annotate import my_batches as batches_of
from annotation.selectors.batches import public_reason
from annotation.services.flags import SKIP
from annotation.services.standing import annotator_standings
from core.roles import ADMIN, EXPERT, user_has_role

from ..access import expert_required, signed_in

LEVELS = {1: "Bad", 2: "Poor", 3: "Fair", 4: "Good", 5: "Excellent"}
DIMENSION_LABELS = {"quality": "Visual quality", "alignment": "Alignment with the prompt"}
DIMENSION_QUESTIONS = {
    "quality": "How good does it look? Judge sharpness, artefacts, distortions (faces, hands, text) and, "
    "for videos, smooth and natural motion. Ignore the prompt for this score.",
    "alignment": "How well does it show what the prompt asks for? Check every object, attribute, count, "
    "position and action in the prompt. Ignore how pretty it is for this score.",
}
# Used for any level a campaign leaves empty in Campaign.anchors.
DEFAULT_ANCHORS = {
    "quality": {
        1: "Severe artefacts, distortion or noise; the content is hard to recognise.",
        2: "Clear flaws (deformed faces or hands, broken text, heavy blur) that spoil it.",
        3: "Acceptable overall, with noticeable flaws or softness.",
        4: "Clean and realistic, with only minor flaws.",
        5: "Sharp, natural and free of visible flaws; looks professionally made.",
    },
    "alignment": {
        1: "Unrelated to the prompt.",
        2: "Shows only a small part of the prompt.",
        3: "The main subject matches, but several details are missing or wrong.",
        4: "Nearly everything in the prompt is shown; one minor detail is off.",
        5: "Everything the prompt asks for is shown, correctly.",
    },
}
MODES = ("annotate", "expert")
BATCHES_PER_PAGE = 50


def campaign_anchors(campaign: Campaign) -> list[dict]:
    """Per dimension of the campaign: label, question and the five levels with their anchor text
    (the campaign's own text where set, else the built-in default)."""
    own = campaign.anchors if isinstance(campaign.anchors, dict) else {}
    scales = []
    for dim in campaign.dimensions:
        dim_own: dict = own.get(dim) if isinstance(own.get(dim), dict) else {}  # type: ignore[assignment]
        levels = [
            {"score": n, "word": word, "anchor": str(dim_own.get(str(n)) or dim_own.get(n) or DEFAULT_ANCHORS[dim][n])}
            for n, word in LEVELS.items()
        ]
        scales.append(
            {
                "dimension": dim,
                "label": DIMENSION_LABELS[dim],
                "question": DIMENSION_QUESTIONS[dim],
                "levels": levels,
            }
        )
    return scales


def _active_campaign(slug: str) -> Campaign:
    campaign = active_campaign(slug=slug)
    if campaign is None:
        raise Http404(f"There is no active campaign {slug!r}: it may have ended. Pick one on the campaigns page.")
    return campaign


def _is_expert(user) -> bool:
    return user_has_role(user, EXPERT, ADMIN)


# What the rating page offers when an item cannot be rated (the first is a plain skip, no flag).
SKIP_CHOICES = [{"value": SKIP, "label": "Skip: I cannot judge this one"}] + [
    {"value": value, "label": label} for value, label in ItemFlag.Reason.choices
]


@signed_in
def campaign_detail(request, slug: str):
    campaign = _active_campaign(slug)
    return render(
        request,
        "frontend/campaign.html",
        {"campaign": campaign, "scales": campaign_anchors(campaign), "is_expert": _is_expert(request.user)},
    )


@signed_in
@ensure_csrf_cookie  # the page's script sends the csrftoken cookie back as X-CSRFToken
def rate(request, slug: str):
    campaign = _active_campaign(slug)
    mode = request.GET.get("mode", "annotate")
    if mode not in MODES:
        return HttpResponseBadRequest(f"Unknown mode {mode!r}: use one of {', '.join(MODES)}.")
    if mode == "expert":
        return _expert_rate(request, campaign)
    return _rate(request, campaign, mode)


@expert_required
def _expert_rate(request, campaign: Campaign):
    return _rate(request, campaign, "expert")


def _rate(request, campaign: Campaign, mode: str):
    config = {
        "user": request.user.pk,  # keys this user's offline queue in localStorage
        "slug": campaign.slug,
        "name": campaign.name,
        "mode": mode,
        "dimensions": campaign.dimensions,
        "requireFullVideo": campaign.require_full_video,
        "apiBase": "/api/v1",
        # How often the page extends its leases while the annotator is active (tests shorten it).
        "heartbeatSeconds": settings.QEVAL_HEARTBEAT_SECONDS,
        "scales": campaign_anchors(campaign),
        "skipChoices": SKIP_CHOICES,
        "contacts": admin_contacts(),
    }
    return render(
        request,
        "frontend/annotate/rate.html",
        {
            "campaign": campaign,
            "mode": mode,
            "config": config,
            "scales": config["scales"],
            "skip_choices": SKIP_CHOICES,
            "contacts": config["contacts"],
        },
    )


@signed_in
def my_batches(request):
    """The caller's own batches, newest first, with progress and the decision word only."""
    page = Paginator(batches_of(user=request.user), BATCHES_PER_PAGE).get_page(request.GET.get("page"))
    for b in page.object_list:
        b.reason_text = public_reason(b)  # type: ignore[attr-defined]  # for the template
    return render(
        request, "frontend/my_batches.html", {"page": page, "standings": annotator_standings(user=request.user)}
    )
