"""Vendor work: ratings made outside the platform, imported from a CSV and scrutinized like any batch.

Columns: annotator, item_id, quality, alignment, and optionally batch (the vendor's batch label) and
duration_ms (time spent on the item, when the vendor's tool records it: scrutiny uses it to find work
done far too fast).
One Batch(kind="imported", status closed, external_ref=label) per (annotator, label); annotators are
created as vendor accounts that cannot log in. All or nothing: the first bad row is named and the
database is left unchanged.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import InvalidInput

from ..models import DIMENSIONS, MAX_DURATION_MS, AnnotatorProfile, Batch, Campaign, Item, Rating
from .golden import CHUNK, _item_pks, score_cell
from .scrutiny import batch_scrutinize
from .users import user_add

User = get_user_model()
VALID_NAME = set("@.+-_")


def _parse(campaign: Campaign, data: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(data.lstrip("\ufeff")))
    columns = [c.strip() for c in (reader.fieldnames or [])]
    reader.fieldnames = columns
    missing = [c for c in ("annotator", "item_id") if c not in columns]
    if missing or not set(columns) & set(DIMENSIONS):
        raise InvalidInput("line 1: the header needs annotator, item_id and at least one of quality, alignment")
    dims = [d for d in DIMENSIONS if d in columns]
    rows: list[dict] = []
    seen: dict = {}
    for row in reader:
        line = reader.line_num
        annotator = (row.get("annotator") or "").strip()
        item_id = (row.get("item_id") or "").strip()
        where = f"line {line} (annotator {annotator!r}, item_id {item_id!r})"
        if not annotator or len(annotator) > 150 or not all(c.isalnum() or c in VALID_NAME for c in annotator):
            raise InvalidInput(f"{where}: annotator must be a name of letters, digits and @.+-_ (at most 150)")
        if not item_id:
            raise InvalidInput(f"{where}: item_id is empty")
        if (annotator, item_id) in seen:
            raise InvalidInput(
                f"{where}: this annotator rates this item twice (first on line {seen[annotator, item_id]})"
            )
        seen[annotator, item_id] = line
        scores = {}
        for dim in dims:
            value = score_cell(row.get(dim), where, dim, integer=True)
            if value is not None:
                if dim not in campaign.dimensions:
                    raise InvalidInput(f"{where}: campaign {campaign.slug!r} does not rate {dim}")
                scores[dim] = value
        if not scores:
            raise InvalidInput(f"{where}: no score (quality and alignment are both empty)")
        label = (row.get("batch") or "").strip()[:200]
        duration = _duration_cell(row.get("duration_ms"), where)
        rows.append(
            {
                "line": line,
                "where": where,
                "annotator": annotator,
                "item_id": item_id,
                "label": label,
                "duration_ms": duration,
                **scores,
            }
        )
    if not rows:
        raise InvalidInput("the file has no rows")
    return rows


def _duration_cell(text: str | None, where: str) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) > MAX_DURATION_MS:
        raise InvalidInput(f"{where}: duration_ms {text!r} is not a whole number of milliseconds (0-{MAX_DURATION_MS})")
    return int(text)


@transaction.atomic
def ratings_import(*, campaign: Campaign, data: str) -> list[int]:
    """Import vendor ratings (CSV text), create their batches, scrutinize them; returns the batch ids."""
    rows = _parse(campaign, data)
    pks = _item_pks(campaign, sorted({r["item_id"] for r in rows}))
    for r in rows:
        if r["item_id"] not in pks:
            raise InvalidInput(f"{r['where']}: no such item in campaign {campaign.slug!r}")
    names = sorted({r["annotator"] for r in rows})
    users: dict[str, Any] = {u.username: u for u in User.objects.filter(username__in=names)}
    vendors = set(
        AnnotatorProfile.objects.filter(user__in=users.values(), is_vendor=True).values_list(
            "user__username", flat=True
        )
    )
    for r in rows:
        if r["annotator"] in users and r["annotator"] not in vendors:
            raise InvalidInput(
                f"{r['where']}: {r['annotator']!r} is an existing platform account, not a vendor account"
            )
    if users:
        done: set[tuple[str, int]] = set()
        item_pks = sorted({pks[r["item_id"]] for r in rows if r["annotator"] in users})
        for start in range(0, len(item_pks), CHUNK):
            done.update(
                Rating.objects.filter(
                    annotator__in=users.values(), item_id__in=item_pks[start : start + CHUNK]
                ).values_list("annotator__username", "item_id")
            )
        for r in rows:
            if (r["annotator"], pks[r["item_id"]]) in done:
                raise InvalidInput(f"{r['where']}: this annotator has already rated this item")
    for name in names:
        if name not in users:
            users[name] = user_add(username=name, role="annotator", vendor=True)

    now = timezone.now()
    batches: dict[tuple[str, str], Batch] = {}
    for name, label in sorted({(r["annotator"], r["label"]) for r in rows}):
        batches[name, label] = Batch.objects.create(
            campaign=campaign,
            annotator=users[name],
            kind=Batch.Kind.IMPORTED,
            status=Batch.Status.CLOSED,
            external_ref=label,
            closed_at=now,
        )
    # Counters under the item row locks (primary-key order), then the ratings in bulk.
    per_item = Counter(pks[r["item_id"]] for r in rows)
    by_count: dict[int, list[int]] = defaultdict(list)
    for pk, n in per_item.items():
        by_count[n].append(pk)
    locked = sorted(per_item)
    for start in range(0, len(locked), CHUNK):
        list(
            Item.objects.select_for_update()
            .filter(pk__in=locked[start : start + CHUNK])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    for n, item_pks in by_count.items():
        for start in range(0, len(item_pks), CHUNK):
            Item.objects.filter(pk__in=item_pks[start : start + CHUNK]).update(active_count=F("active_count") + n)
    Rating.objects.bulk_create(
        [
            Rating(
                annotator=users[r["annotator"]],
                item_id=pks[r["item_id"]],
                batch=batches[r["annotator"], r["label"]],
                quality=r.get("quality"),
                alignment=r.get("alignment"),
                duration_ms=r["duration_ms"],
            )
            for r in rows
        ],
        batch_size=CHUNK,
    )
    ids = sorted(b.pk for b in batches.values())
    for batch_id in ids:
        batch_scrutinize(batch_id=batch_id)
    if campaign.scrutiny_method == Campaign.Method.CALIBRATED and len(ids) > 1:
        # The first pass gave every annotator of the file their evidence; the second judges each
        # against all of them (the first files were judged against fewer).
        for batch_id in ids:
            batch_scrutinize(batch_id=batch_id)
    return ids
