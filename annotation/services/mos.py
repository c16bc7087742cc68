"""MOS aggregation: approved ratings -> an immutable DatasetVersion with ItemScore/AnnotatorStat rows.

Only ratings in APPROVED batches of kind `annotation` or `imported` count. Expert batches hold golden
scores (the yardstick of Sample-and-Scrutinize), not dataset ratings, so they never enter a MOS.

Sized for 100K items x 1M ratings: one streamed query into numpy arrays, the vectorised
`annotation.aggregation` package per dimension, then one transaction that creates the version and
writes its rows (COPY on PostgreSQL, big bulk_creates elsewhere). Nothing is written before the
computation has finished, so a failed or killed run leaves nothing behind (a repeat is safe).
"""
from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.db.models import Max

from ..aggregation import METHODS, aggregate
from ..models import AnnotatorStat, Batch, Campaign, DatasetVersion, ItemScore, Job, Rating
from .errors import InvalidInput, NotFound

COUNTED_KINDS = (Batch.Kind.ANNOTATION, Batch.Kind.IMPORTED)
CHUNK = 100_000
WRITE_CHUNK = 50_000


def counted_ratings(*, campaign: Campaign):
    """The ratings that enter a MOS: approved batches of kind annotation/imported, of this campaign."""
    return Rating.objects.filter(
        batch__campaign=campaign, batch__decision=Batch.Decision.APPROVED, batch__kind__in=COUNTED_KINDS
    )


def ratings_arrays(*, campaign: Campaign) -> dict[str, np.ndarray]:
    """Counted ratings as parallel numpy arrays: item, annotator (int64), quality, alignment (float, NaN
    where the dimension was not rated). Streamed in chunks, so memory is the arrays, not row objects."""
    qs = counted_ratings(campaign=campaign).values_list("item_id", "annotator_id", "quality", "alignment")
    parts: list[np.ndarray] = []
    buf: list[tuple] = []
    for row in qs.iterator(chunk_size=CHUNK):
        buf.append(row)
        if len(buf) >= CHUNK:
            parts.append(np.array(buf, dtype=np.float64))
            buf = []
    if buf:
        parts.append(np.array(buf, dtype=np.float64))
    data = np.concatenate(parts) if parts else np.empty((0, 4), dtype=np.float64)
    return {
        "item": data[:, 0].astype(np.int64),
        "annotator": data[:, 1].astype(np.int64),
        "quality": data[:, 2],
        "alignment": data[:, 3],
    }


def version_checksum(rows: Iterable[tuple[int, str, float, int]]) -> str:
    """sha256 over the rows sorted by (item_id, dimension), one line each:
    ``f"{item_id}\\t{dimension}\\t{mos:.6f}\\t{n}\\n"`` (MOS rounded to 6 decimals so the float
    formatting of different platforms cannot change it)."""
    digest = hashlib.sha256()
    for item_id, dimension, mos, n in sorted(rows, key=lambda r: (r[0], r[1])):
        digest.update(f"{item_id}\t{dimension}\t{mos:.6f}\t{n}\n".encode())
    return digest.hexdigest()


def _none_if_nan(values: np.ndarray) -> list[float | None]:
    return [None if not math.isfinite(v) else float(v) for v in values.tolist()]


def mos_compute(*, arrays: dict[str, np.ndarray], dimensions: list[str], method: str, params: dict | None) -> dict:
    """Pure computation (no database): per dimension, the aggregation package's result."""
    results = {}
    for dim in dimensions:
        score = arrays[dim]
        keep = np.isfinite(score)
        frame = pd.DataFrame({"item": arrays["item"][keep], "annotator": arrays["annotator"][keep], "score": score[keep]})
        try:
            results[dim] = aggregate(frame, method=method, params=params)
        except ValueError as exc:
            raise InvalidInput(f"aggregation failed: {exc}") from None
    return results


def _check_method(method: str, params: Any) -> dict:
    if method not in METHODS:
        raise InvalidInput(f"unknown aggregation method {method!r}; choose one of {', '.join(METHODS)}")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise InvalidInput("params must be a JSON object of method parameters")
    try:  # validate now, so a bad parameter fails before any work
        aggregate(pd.DataFrame({"item": [], "annotator": [], "score": []}), method=method, params=params)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    return dict(params)


def mos_aggregate(
    *, campaign: Campaign, method: str = "mean", params: dict | None = None, created_by=None, progress=None
) -> DatasetVersion:
    """Aggregate the campaign's counted ratings into a new DatasetVersion (number = next per campaign)."""
    params = _check_method(method, params)
    timings: dict[str, float] = {}
    if progress:
        progress.set_total(3, "reading ratings")
    t0 = time.perf_counter()
    arrays = ratings_arrays(campaign=campaign)
    timings["query_s"] = round(time.perf_counter() - t0, 3)
    if progress:
        progress.update(1, "aggregating")
    t0 = time.perf_counter()
    dims = campaign.dimensions
    results = mos_compute(arrays=arrays, dimensions=dims, method=method, params=params)
    score_rows: list[tuple] = []  # (item_id, dimension, mos, std, n, ci95)
    stat_rows: list[tuple] = []  # (annotator_id, dimension, bias, inconsistency, n, rejected)
    per_dim: dict[str, dict] = {}
    used_params: dict = {}
    for dim, res in results.items():
        items = res.items[np.isfinite(res.items["mos"].to_numpy())]
        ids = items.index.to_numpy().tolist()
        score_rows.extend(zip(
            ids, [dim] * len(ids), items["mos"].astype(float).tolist(), _none_if_nan(items["std"].to_numpy()),
            items["n"].astype(int).tolist(), _none_if_nan(items["ci95"].to_numpy()),
        ))
        ann = res.annotators
        stat_rows.extend(zip(
            ann.index.to_numpy().tolist(), [dim] * len(ann), _none_if_nan(ann["bias"].to_numpy()),
            _none_if_nan(ann["inconsistency"].to_numpy()), ann["n"].astype(int).tolist(),
            ann["rejected"].astype(bool).tolist(),
        ))
        info = res.info
        used_params = info.get("params", used_params)
        per_dim[dim] = {
            "items": len(ids),
            "ratings": int(info.get("n_ratings", 0)),
            "annotators": int(info.get("n_annotators", 0)),
            "rejected_annotators": int(ann["rejected"].sum()),
            "info": {k: v for k, v in info.items() if k not in ("params",)},
        }
    checksum = version_checksum((r[0], r[1], r[2], r[4]) for r in score_rows)
    timings["compute_s"] = round(time.perf_counter() - t0, 3)
    counts = {
        "items": len({r[0] for r in score_rows}),
        "ratings": int(len(arrays["item"])),
        "annotators": int(len(np.unique(arrays["annotator"]))),
        "campaign_items": campaign.items.count(),
        "dimensions": per_dim,
        "timings": timings,
    }
    if progress:
        progress.update(2, "writing the version")
    t0 = time.perf_counter()
    version = _version_write(
        campaign=campaign, method=method, params=used_params or params, counts=counts, checksum=checksum,
        created_by=created_by, score_rows=score_rows, stat_rows=stat_rows, source="aggregation",
    )
    version.write_s = round(time.perf_counter() - t0, 3)  # not stored: the version row is immutable
    if progress:
        progress.update(3, f"version {version.number} written")
    return version


@transaction.atomic
def _version_write(
    *, campaign: Campaign, method: str, params: dict, counts: dict, checksum: str, created_by, source: str,
    score_rows: list[tuple], stat_rows: list[tuple],
) -> DatasetVersion:
    """Create the version and all its rows in ONE transaction (call with the computation finished).

    The campaign row is locked so two concurrent runs get consecutive numbers instead of a clash.
    """
    Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
    number = (DatasetVersion.objects.filter(campaign=campaign).aggregate(m=Max("number"))["m"] or 0) + 1
    version = DatasetVersion.objects.create(
        campaign=campaign, number=number, method=method, params=params, counts=counts, checksum=checksum,
        source=source, created_by=created_by,
    )
    _bulk_write(
        ItemScore, ("version_id", "item_id", "dimension", "mos", "std", "n", "ci95"),
        ((version.pk, *row) for row in score_rows), len(score_rows),
    )
    _bulk_write(
        AnnotatorStat, ("version_id", "annotator_id", "dimension", "bias", "inconsistency", "n", "rejected"),
        ((version.pk, *row) for row in stat_rows), len(stat_rows),
    )
    return version


def _bulk_write(model, columns: tuple[str, ...], rows: Iterable[tuple], n: int) -> None:
    """COPY on PostgreSQL (fastest path for 200K score rows), bulk_create in big chunks elsewhere."""
    if not n:
        return
    if connection.vendor == "postgresql":
        table = model._meta.db_table
        cols = ", ".join(model._meta.get_field(c.removesuffix("_id")).column if c.endswith("_id") else c for c in columns)
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    batch: list = []
    for row in rows:
        batch.append(model(**dict(zip(columns, row))))
        if len(batch) >= WRITE_CHUNK:
            model.objects.bulk_create(batch)
            batch = []
    if batch:
        model.objects.bulk_create(batch)


def version_get(*, version_id: int, campaign: Campaign | None = None) -> DatasetVersion:
    """A version by id; NotFound when missing or when it belongs to another campaign than `campaign`."""
    try:
        version = DatasetVersion.objects.select_related("campaign").get(pk=version_id)
    except (DatasetVersion.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"dataset version {version_id} does not exist") from None
    if campaign is not None and version.campaign_id != campaign.pk:
        raise NotFound(f"dataset version {version_id} belongs to campaign {version.campaign.slug!r}, not {campaign.slug!r}")
    return version


def version_by_number(*, campaign: Campaign, number: int | None) -> DatasetVersion:
    """The campaign's version `number`, or its latest when number is None."""
    qs = DatasetVersion.objects.filter(campaign=campaign).select_related("campaign")
    version = qs.order_by("-number").first() if number is None else qs.filter(number=number).first()
    if version is None:
        if number is None:
            raise NotFound(f"campaign {campaign.slug!r} has no dataset version yet; run aggregate_mos first")
        raise NotFound(f"campaign {campaign.slug!r} has no dataset version {number}")
    return version


def campaign_get(*, slug: str) -> Campaign:
    try:
        return Campaign.objects.get(slug=slug)
    except Campaign.DoesNotExist:
        raise NotFound(f"campaign {slug!r} does not exist") from None


def mos_aggregate_job(*, job: Job, progress) -> dict:
    """Job runner (kind `mos_aggregate`): params {method, params}; job.campaign is the campaign."""
    if job.campaign_id is None:
        raise InvalidInput("an aggregation job needs a campaign")
    version = mos_aggregate(
        campaign=job.campaign, method=job.params.get("method", "mean"), params=job.params.get("params"),
        created_by=job.created_by, progress=progress,
    )
    return {
        "version_id": version.pk, "number": version.number, "checksum": version.checksum,
        "counts": version.counts, "write_s": getattr(version, "write_s", None),
    }
