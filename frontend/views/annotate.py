"""The annotator's pages: a campaign's instructions, the rating page shell, and "My batches".

The rating page only renders a shell (campaign slug, dimensions, mode, level words and anchors);
everything it does after that goes through the REST API (annotation/api/batches.py), like a script
would. Nothing here ever shows golden scores, the golden flag, scrutiny figures or other people's
ratings: "My batches" shows a batch's decision, never why scrutiny decided it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import ensure_csrf_cookie

from annotation.models import Batch, Campaign, Task
from core.roles import ADMIN, EXPERT, user_has_role

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
    return get_object_or_404(Campaign, slug=slug, is_active=True)


def _is_expert(user) -> bool:
    return user_has_role(user, EXPERT, ADMIN)


@login_required
def campaign_detail(request, slug: str):
    campaign = _active_campaign(slug)
    return render(
        request,
        "frontend/campaign.html",
        {"campaign": campaign, "scales": campaign_anchors(campaign), "is_expert": _is_expert(request.user)},
    )


@login_required
@ensure_csrf_cookie  # the page's script sends the csrftoken cookie back as X-CSRFToken
def rate(request, slug: str):
    campaign = _active_campaign(slug)
    mode = request.GET.get("mode", "annotate")
    if mode not in MODES:
        return HttpResponseBadRequest(f"Unknown mode {mode!r}: use one of {', '.join(MODES)}.")
    if mode == "expert" and not _is_expert(request.user):
        return HttpResponseForbidden("Expert mode is for users with the expert role.")
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
    }
    return render(request, "frontend/annotate/rate.html", {"campaign": campaign, "mode": mode, "config": config})


@login_required
def my_batches(request):
    """The caller's own batches, newest first, with progress and the decision word only."""
    batches = (
        Batch.objects.filter(annotator=request.user)
        .exclude(kind=Batch.Kind.IMPORTED)
        .select_related("campaign")
        .only(
            "id",
            "kind",
            "status",
            "decision",
            "public_reason",
            "created_at",
            "closed_at",
            "campaign__slug",
            "campaign__name",
        )
        .annotate(
            n_tasks=Count("tasks"),
            n_rated=Count("tasks", filter=Q(tasks__status=Task.Status.RATED)),
        )
        .order_by("-created_at", "-id")
    )
    page = Paginator(batches, BATCHES_PER_PAGE).get_page(request.GET.get("page"))
    from annotation.selectors.batches import public_reason
    from annotation.services.standing import annotator_standings

    for b in page.object_list:
        b.reason_text = public_reason(b)  # type: ignore[attr-defined]  # for the template
    return render(
        request, "frontend/my_batches.html", {"page": page, "standings": annotator_standings(user=request.user)}
    )
