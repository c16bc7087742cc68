"""Reads of the researcher's statistics pages: campaigns with their latest version (the same query on SQLite
and PostgreSQL), a version's MOS by generator and media type, the annotators' bias and inconsistency, the
split-half agreement, progress before the first aggregation, and the jobs (aggregations, exports) of a
campaign with their downloads."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Least

from ..models import AnnotatorStat, Batch, Campaign, DatasetVersion, Item, ItemScore, Job, Rating
from ..services.jobs import jobs_visible_q

MAX_ANNOTATOR_ROWS = 200
AGGREGATE_KIND, EXPORT_KIND = "mos_aggregate", "dataset_export"
ACTIVE_JOB = (Job.Status.QUEUED, Job.Status.RUNNING)
COUNTED_KINDS = (Batch.Kind.ANNOTATION, Batch.Kind.IMPORTED)


def campaigns_with_latest_version() -> list[dict]:
    """[{"campaign", "latest"}] for every campaign; "latest" is its highest-numbered version or None. A
    correlated subquery (portable: PostgreSQL's DISTINCT ON does not exist on SQLite), one query each."""
    campaigns = list(Campaign.objects.all().only("slug", "name", "is_active"))
    newest = DatasetVersion.objects.filter(campaign=OuterRef("campaign")).order_by("-number").values("number")[:1]
    latest = {v.campaign_id: v for v in DatasetVersion.objects.filter(number=Subquery(newest))}
    return [{"campaign": c, "latest": latest.get(c.pk)} for c in campaigns]


def campaign_versions(*, campaign: Campaign) -> list[DatasetVersion]:
    return list(DatasetVersion.objects.filter(campaign=campaign).order_by("-number"))


def version_choices(*, limit: int = 200) -> QuerySet[DatasetVersion]:
    """Versions for the training and benchmark forms, newest first."""
    return DatasetVersion.objects.select_related("campaign").order_by("-created_at", "-id")[:limit]


def generator_order(*, version: DatasetVersion) -> list[str]:
    """The one order of generators on every plot and table of a version: by name."""
    return list(
        ItemScore.objects.filter(version=version)
        .order_by()
        .values_list("item__generator__name", flat=True)
        .distinct()
        .order_by("item__generator__name")
    )


def mos_by_group(*, version: DatasetVersion) -> dict[tuple[str, str], dict[str, list[float]]]:
    """{(media_type, dimension): {generator: [MOS, ...]}} of the version (one streamed query)."""
    rows = (
        ItemScore.objects.filter(version=version)
        .values_list("item__media_type", "item__generator__name", "dimension", "mos")
        .iterator(chunk_size=20_000)
    )
    groups: dict[tuple[str, str], dict[str, list[float]]] = {}
    for media_type, generator, dim, mos in rows:
        groups.setdefault((media_type, dim), {}).setdefault(generator, []).append(mos)
    return groups


def generator_summary(*, version: DatasetVersion, order: list[str]) -> list[dict]:
    """Per generator (in `order`): items and mean MOS per dimension ("means", in the campaign's dimension
    order), from the same rows as the plot."""
    groups = mos_by_group(version=version)
    out = []
    for name in order:
        row: dict[str, Any] = {"generator": name, "items": 0, "media": "", "mean": {}}
        for (media, dim), by_gen in groups.items():
            if name in by_gen:
                row["media"] = media
                row["items"] = max(row["items"], len(by_gen[name]))
                row["mean"][dim] = round(float(np.mean(by_gen[name])), 2)
        row["means"] = [row["mean"].get(d) for d in version.campaign.dimensions]
        out.append(row)
    return out


def annotator_figures(*, version: DatasetVersion) -> dict:
    """Each annotator's bias and inconsistency per dimension, from the `mle` model (ITU-T P.910 / SUREAL):
    the version's own rows when it was made with mle, otherwise an mle fit on the ratings counted now
    (other methods give no inconsistency). {"source": "version" | "mle-now", "rows": [...]}"""
    if version.method == "mle":
        stats = (
            AnnotatorStat.objects.filter(version=version)
            .select_related("annotator")
            .order_by(F("inconsistency").desc(nulls_last=True), "annotator_id")[:MAX_ANNOTATOR_ROWS]
        )
        return {
            "source": "version",
            "rows": [
                {
                    "annotator": s.annotator.username,
                    "dimension": s.dimension,
                    "bias": s.bias,
                    "inconsistency": s.inconsistency,
                    "n": s.n,
                    "rejected": s.rejected,
                }
                for s in stats
            ],
        }
    from django.contrib.auth import get_user_model

    from ..services.mos import mos_compute, ratings_arrays

    arrays = ratings_arrays(campaign=version.campaign)
    if not len(arrays["item"]):
        return {"source": "mle-now", "rows": []}
    results = mos_compute(arrays=arrays, dimensions=version.campaign.dimensions, method="mle", params=None)
    rows: list[dict[str, Any]] = []
    for dim, res in results.items():
        for annotator_id, a in res.annotators.iterrows():
            rows.append(
                {
                    "annotator_id": int(annotator_id),
                    "dimension": dim,
                    "bias": _num(a["bias"]),
                    "inconsistency": _num(a["inconsistency"]),
                    "n": int(a["n"]),
                    "rejected": bool(a["rejected"]),
                }
            )
    names = dict(
        get_user_model().objects.filter(pk__in={r["annotator_id"] for r in rows}).values_list("pk", "username")
    )
    for r in rows:
        r["annotator"] = names.get(r.pop("annotator_id"), "?")
    rows.sort(key=lambda r: (-(r["inconsistency"] if r["inconsistency"] is not None else -1), r["annotator"]))
    return {"source": "mle-now", "rows": rows[:MAX_ANNOTATOR_ROWS]}


def _num(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def split_half(*, campaign: Campaign) -> dict[str, float | None]:
    """Split-half SRCC per dimension over the ratings counted now (approved annotation/imported batches)."""
    import pandas as pd

    from ..aggregation import split_half_agreement
    from ..services.mos import ratings_arrays

    arrays = ratings_arrays(campaign=campaign)
    out: dict[str, float | None] = {}
    for dim in campaign.dimensions:
        keep = np.isfinite(arrays[dim])
        frame = pd.DataFrame(
            {"item": arrays["item"][keep], "annotator": arrays["annotator"][keep], "score": arrays[dim][keep]}
        )
        r = split_half_agreement(frame, seed=0, n_splits=10)
        out[dim] = None if math.isnan(r) else round(r, 3)
    return out


def campaign_progress(*, campaign: Campaign) -> dict:
    """Where the ratings stand before (or between) aggregations: items, items that reached their target,
    ratings counted (approved), waiting for scrutiny or review, and rejected. Two aggregate queries."""
    items = Item.objects.filter(campaign=campaign).aggregate(
        n=Count("pk"),
        wanted=Sum("target"),
        reached=Count("pk", filter=Q(active_count__gte=F("target"))),
        leased_or_rated=Sum(Least(F("active_count"), F("target"), output_field=IntegerField())),
    )
    ratings = Rating.objects.filter(batch__campaign=campaign, batch__kind__in=COUNTED_KINDS).aggregate(
        counted=Count("pk", filter=Q(batch__decision=Batch.Decision.APPROVED)),
        waiting=Count("pk", filter=Q(batch__decision__in=(Batch.Decision.PENDING, Batch.Decision.NEEDS_REVIEW))),
        rejected=Count("pk", filter=Q(batch__decision=Batch.Decision.REJECTED)),
    )
    wanted = items["wanted"] or 0
    return {
        "items": items["n"],
        "items_at_target": items["reached"],
        "ratings_wanted": wanted,
        "percent": round(100 * (items["leased_or_rated"] or 0) / wanted) if wanted else 0,
        **ratings,
    }


def active_jobs(*, campaign: Campaign, user) -> dict[str, Any]:
    """The aggregation and the exports (per version) of the campaign still queued or running that `user` may
    follow, the newest of each: {"aggregate": job id or None, "exports": {version id: job id}}. The page's
    buttons show them as running (one started in another tab, or before a reload); another researcher's job
    is left out, as its status would answer 404."""
    running = (
        Job.objects.filter(campaign=campaign, kind__in=(AGGREGATE_KIND, EXPORT_KIND), status__in=ACTIVE_JOB)
        .filter(jobs_visible_q(user=user))
        .order_by("created_at", "pk")
        .values_list("pk", "kind", "params")
    )
    out: dict[str, Any] = {"aggregate": None, "exports": {}}
    for pk, kind, params in running:  # oldest first: the newest of each wins
        if kind == AGGREGATE_KIND:
            out["aggregate"] = pk
        elif isinstance((params or {}).get("version_id"), int):
            out["exports"][params["version_id"]] = pk
    return out


def exports_by_version(*, campaign: Campaign, user, limit: int = 200) -> dict[int, list[Job]]:
    """{version id: [export jobs, newest first]}: the export history with downloads that last; only the
    exports `user` may download (their own; all for admins; command-line ones for researchers)."""
    out: dict[int, list[Job]] = {}
    jobs = (
        Job.objects.filter(campaign=campaign, kind=EXPORT_KIND)
        .filter(jobs_visible_q(user=user))
        .select_related("created_by")
        .order_by("-created_at", "-pk")[:limit]
    )
    for job in jobs:
        version_id = (job.params or {}).get("version_id")
        if isinstance(version_id, int):
            out.setdefault(version_id, []).append(job)
    return out
