"""Researcher statistics pages (/research/): counts and coverage, MOS distributions per generator,
inter-annotator agreement, annotator bias/inconsistency, versions with an export form.

Plots are drawn server-side with matplotlib's Agg backend into SVG and cached per dataset version
(a version never changes, so the cache never goes stale). Researchers and admins only.
"""

from __future__ import annotations

import io
import math

import numpy as np
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.shortcuts import get_object_or_404, render
from django.utils.safestring import mark_safe

from annotation.aggregation import METHODS, split_half_agreement
from annotation.models import AnnotatorStat, Campaign, DatasetVersion, ItemScore
from annotation.services.coverage import coverage_summary
from annotation.services.exports import FORMATS
from annotation.services.exports.media import MEDIA_MODES
from core.roles import ADMIN, RESEARCHER, user_has_role

CACHE_S = 24 * 3600
MAX_ANNOTATOR_ROWS = 200


def _researcher(view):
    @login_required
    def wrapper(request, *args, **kwargs):
        if not user_has_role(request.user, RESEARCHER, ADMIN):
            raise PermissionDenied("Statistics are for researchers and admins.")
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


@_researcher
def index(request):
    campaigns = Campaign.objects.all().only("slug", "name", "is_active")
    latest = (
        {v.campaign_id: v for v in DatasetVersion.objects.order_by("campaign_id", "-number").distinct("campaign_id")}
        if _postgres()
        else {}
    )
    rows = [{"campaign": c, "latest": latest.get(c.pk)} for c in campaigns]
    return render(request, "frontend/research/index.html", {"rows": rows})


def _postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


@_researcher
def campaign_stats(request, slug: str):
    campaign = get_object_or_404(Campaign, slug=slug)
    versions = list(DatasetVersion.objects.filter(campaign=campaign).order_by("-number"))
    version = versions[0] if versions else None
    wanted = request.GET.get("version")
    if wanted:
        version = next((v for v in versions if str(v.number) == wanted), version)
    context = {
        "campaign": campaign,
        "versions": versions,
        "version": version,
        "formats": FORMATS,
        "media_modes": MEDIA_MODES,
        "methods": METHODS,
    }
    if version is not None:
        context.update(
            # Coverage reads every item's target (extra ratings change it): cached for a minute only.
            coverage=_cached(version, "coverage", lambda: coverage_summary(version=version), timeout=60),
            distribution_svg=mark_safe(_cached(version, "distribution", lambda: _distribution_svg(version))),
            annotator_svg=mark_safe(_cached(version, "annotators", lambda: _annotator_svg(version))),
            agreement=_cached(version, "agreement", lambda: _agreement(version)),
            annotators=_annotator_rows(version),
        )
    return render(request, "frontend/research/campaign.html", context)


def _cached(version: DatasetVersion, what: str, build, timeout: int = CACHE_S):
    key = f"research:{version.pk}:{version.checksum[:16]}:{what}"
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, timeout)
    return value


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prologue: the SVG is inlined in the page


def _figure(*args, **kwargs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def _distribution_svg(version: DatasetVersion) -> str:
    """Box plots of the MOS per generator: rows image/video, columns quality/alignment (paper Fig. 4)."""
    rows = (
        ItemScore.objects.filter(version=version)
        .values_list("item__media_type", "item__generator__name", "dimension", "mos")
        .iterator(chunk_size=20_000)
    )
    groups: dict[tuple[str, str], dict[str, list[float]]] = {}
    for media_type, generator, dim, mos in rows:
        groups.setdefault((media_type, dim), {}).setdefault(generator, []).append(mos)
    panels = [(m, d) for m in ("image", "video") for d in ("quality", "alignment") if (m, d) in groups]
    if not panels:
        fig, ax = _figure(figsize=(5, 1.5))
        ax.text(0.5, 0.5, "no scores in this version", ha="center", va="center")
        ax.axis("off")
        return _svg(fig)
    fig, axes = _figure(len(panels), 1, figsize=(9, 2.8 * len(panels)), squeeze=False)
    for ax, (media_type, dim) in zip(axes[:, 0], panels):
        by_gen = groups[(media_type, dim)]
        names = sorted(by_gen, key=lambda g: float(np.median(by_gen[g])))
        ax.boxplot([by_gen[g] for g in names], orientation="horizontal", tick_labels=names, showfliers=False)
        ax.set_xlim(1, 5)
        ax.set_title(
            f"{media_type} - {'visual quality' if dim == 'quality' else 'alignment'} MOS by generator", fontsize=10
        )
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    return _svg(fig)


def _annotator_svg(version: DatasetVersion) -> str:
    """Scatter of each annotator's bias against inconsistency, per dimension."""
    stats = list(
        AnnotatorStat.objects.filter(version=version).values_list("dimension", "bias", "inconsistency", "rejected")
    )
    fig, ax = _figure(figsize=(6, 4))
    for dim, marker in (("quality", "o"), ("alignment", "s")):
        pts = [(b, i, r) for d, b, i, r in stats if d == dim and b is not None and i is not None]
        if pts:
            arr = np.array([(b, i) for b, i, _ in pts])
            rejected = np.array([r for *_, r in pts])
            ax.scatter(arr[~rejected, 0], arr[~rejected, 1], s=12, marker=marker, alpha=0.6, label=dim)
            if rejected.any():
                ax.scatter(arr[rejected, 0], arr[rejected, 1], s=20, marker="x", color="red", label=f"{dim} (rejected)")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel("bias (mean rating - MOS)")
    ax.set_ylabel("inconsistency (std of residuals)")
    ax.set_title("Annotators", fontsize=10)
    if stats:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _svg(fig)


def _agreement(version: DatasetVersion) -> dict:
    """Split-half SRCC per dimension over the ratings counted now (approved annotation/imported batches)."""
    import pandas as pd

    from annotation.services.mos import ratings_arrays

    arrays = ratings_arrays(campaign=version.campaign)
    out = {}
    for dim in version.campaign.dimensions:
        keep = np.isfinite(arrays[dim])
        frame = pd.DataFrame(
            {"item": arrays["item"][keep], "annotator": arrays["annotator"][keep], "score": arrays[dim][keep]}
        )
        r = split_half_agreement(frame, seed=0, n_splits=10)
        out[dim] = None if math.isnan(r) else round(r, 3)
    return out


def _annotator_rows(version: DatasetVersion) -> list[dict]:
    rows = (
        AnnotatorStat.objects.filter(version=version)
        .select_related("annotator")
        .order_by(F("inconsistency").desc(nulls_last=True), "annotator_id")[:MAX_ANNOTATOR_ROWS]
    )
    return [
        {
            "annotator": s.annotator.username,
            "dimension": s.dimension,
            "bias": s.bias,
            "inconsistency": s.inconsistency,
            "n": s.n,
            "rejected": s.rejected,
        }
        for s in rows
    ]
