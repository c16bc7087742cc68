"""The closed loop, live (researchers and admins): generators ranked as batches are approved, the
screening scorer against the human MOS as ratings arrive, the items where they disagree most, and the
retraining policy's rounds."""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render
from django.utils.safestring import mark_safe

from annotation.models import Campaign
from annotation.services.leaderboard import leaderboard
from annotation.services.overlap import overlap_summary

from ..access import researcher_required
from ..plots import leaderboard_svg


@researcher_required
def live(request, slug: str):
    from training.services.retraining import approved_ratings
    from training.services.screening import screening_agreement

    campaign = get_object_or_404(Campaign, slug=slug)
    board = leaderboard(campaign=campaign)
    boards = [{**b, "svg": mark_safe(leaderboard_svg(b))} for b in board["boards"]]
    policy = getattr(campaign, "retrain_policy", None)
    return render(
        request,
        "frontend/research/live.html",
        {
            "campaign": campaign,
            "board": board,
            "boards": boards,
            "screening": screening_agreement(campaign=campaign),
            "overlap": overlap_summary(campaign=campaign),
            "policy": policy,
            "rounds": list(policy.rounds.all()[:10]) if policy else [],
            "approved": approved_ratings(campaign=campaign),
        },
    )
