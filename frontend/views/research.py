"""Researcher statistics pages (/research/): progress and counts, MOS per generator as violins (the paper's
Fig. 4), inter-annotator agreement, annotator bias/inconsistency from the mle model, versions and their
exports with downloads that last, and the forms that start aggregations and exports.

Reads come from annotation/selectors/research.py, plots from frontend/plots.py. Plots and figures are cached
per dataset version (a version never changes; figures over the ratings counted now for a few minutes).
Researchers and admins only.
"""

from __future__ import annotations

from django.core.cache import cache
from django.http import Http404
from django.shortcuts import render
from django.utils.safestring import mark_safe

from annotation.aggregation import METHODS
from annotation.models import DatasetVersion
from annotation.selectors.research import (
    active_jobs,
    annotator_figures,
    campaign_progress,
    campaign_versions,
    campaigns_with_latest_version,
    exports_by_version,
    generator_order,
    generator_summary,
    mos_by_group,
    split_half,
)
from annotation.services.campaigns import campaign_get
from annotation.services.coverage import coverage_summary
from annotation.services.exports import FORMATS
from annotation.services.exports.media import MEDIA_MODES
from annotation.services.exports.splits import GOLDEN_MODES
from annotation.services.mos import campaign_estimator
from core.errors import NotFound
from core.roles import ADMIN, RESEARCHER

from ..access import role_required
from ..plots import annotators_svg, violin_svg

CACHE_S = 24 * 3600
NOW_CACHE_S = 5 * 60  # figures over the ratings counted now (they change as batches are decided)
researcher_required = role_required(RESEARCHER, ADMIN, message="Statistics are for researchers and admins.")

# The form's name for `mle` with the generator prior (research.js sends {"method": "mle", "params":
# {"group_prior": true}}); an adaptive campaign's default (docs/loop.md).
GENERATOR_PRIOR = "mle+generator"


def _method_default(campaign) -> str:
    method, params = campaign_estimator(campaign)
    return GENERATOR_PRIOR if params else method


@researcher_required
def index(request):
    return render(request, "frontend/research/index.html", {"rows": campaigns_with_latest_version()})


@researcher_required
def campaign_stats(request, slug: str):
    try:
        campaign = campaign_get(slug=slug)
    except NotFound as exc:
        raise Http404(exc.message) from None
    versions = campaign_versions(campaign=campaign)
    version = versions[0] if versions else None
    wanted = request.GET.get("version")
    if wanted:
        version = next((v for v in versions if str(v.number) == wanted), version)
    exports = exports_by_version(campaign=campaign, user=request.user)
    running = active_jobs(campaign=campaign, user=request.user)
    for v in versions:
        v.exports = exports.get(v.pk, [])  # type: ignore[attr-defined]  # for the template
        v.active_export = running["exports"].get(v.pk)  # type: ignore[attr-defined]
    context = {
        "campaign": campaign,
        "versions": versions,
        "version": version,
        "formats": FORMATS,
        "media_modes": MEDIA_MODES,
        "golden_modes": GOLDEN_MODES,
        "methods": [*METHODS, GENERATOR_PRIOR],
        "method_default": _method_default(campaign),
        "progress": campaign_progress(campaign=campaign),
        "active_aggregate": running["aggregate"],
    }
    if version is not None:
        order = _cached(version, "order", lambda: generator_order(version=version))
        figures = _cached(version, "annotators", lambda: annotator_figures(version=version), timeout=NOW_CACHE_S)
        context.update(
            # Coverage reads every item's target (extra ratings change it): cached for a minute only.
            coverage=_cached(version, "coverage", lambda: coverage_summary(version=version), timeout=60),
            distribution_svg=mark_safe(
                _cached(version, "violins", lambda: violin_svg(mos_by_group(version=version), order=order))
            ),
            generators=_cached(version, "generators", lambda: generator_summary(version=version, order=order)),
            annotator_source=figures["source"],
            annotators=figures["rows"],
            annotator_svg=mark_safe(
                _cached(version, "annotators-svg", lambda: annotators_svg(figures["rows"]), timeout=NOW_CACHE_S)
            ),
            agreement=_cached(version, "agreement", lambda: split_half(campaign=campaign), timeout=NOW_CACHE_S),
        )
    return render(request, "frontend/research/campaign.html", context)


def _cached(version: DatasetVersion, what: str, build, timeout: int = CACHE_S):
    key = f"research:{version.pk}:{version.created_at.timestamp():.6f}:{version.checksum[:16]}:{what}"
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, timeout)
    return value
