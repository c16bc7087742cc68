"""The golden sample and its scores.

- `golden_set_create`: a random sample of a campaign's items, stratified by generator and media type
  (proportional allocation, largest-remainder rounding, at least one per stratum when the size allows),
  reproducible from a seed (numpy's Generator over the item ids in ascending order).
- `golden_import`: golden scores from a CSV (item_id, quality, alignment), all or nothing.
- `expert_batch_request` / `golden_scores_update`: experts rate golden items in the rating page's
  expert mode; the golden score of an item on a dimension is the mean of its expert ratings.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections import defaultdict
from datetime import timedelta
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Avg, Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.errors import Conflict, Forbidden, InvalidInput
from core.roles import ADMIN, EXPERT, user_has_role

from ..models import DIMENSIONS, SCORE_MAX, SCORE_MIN, Batch, Campaign, Generator, GoldenScore, Item, Rating, Task
from .leases import annotator_profile_lock, batch_close_if_done, batch_leases_expire

CHUNK = 5000

# ------------------------------------------------------------------------------------ the sample


def allocate(sizes: list[int], total: int) -> list[int]:
    """Proportional allocation of `total` over strata of `sizes`, largest-remainder rounding, then at
    least one per non-empty stratum when `total` allows (taken from the strata furthest above quota)."""
    population = sum(sizes)
    total = min(total, population)
    if total <= 0 or population == 0:
        return [0] * len(sizes)
    quotas = [total * s / population for s in sizes]
    alloc = [int(q) for q in quotas]
    # Largest remainders first; ties go to the larger stratum, then the earlier one (deterministic).
    order = sorted(range(len(sizes)), key=lambda i: (-(quotas[i] - alloc[i]), -sizes[i], i))
    for i in order[: total - sum(alloc)]:
        alloc[i] += 1
    nonempty = [i for i, s in enumerate(sizes) if s > 0]
    if total >= len(nonempty):
        for i in nonempty:
            if alloc[i] == 0:
                donor = max((j for j in nonempty if alloc[j] > 1), key=lambda j: (alloc[j] - quotas[j], alloc[j], -j))
                alloc[donor] -= 1
                alloc[i] = 1
    return alloc


def _strata(campaign: Campaign) -> dict[tuple[int, str], np.ndarray]:
    """Item ids (ascending) per (generator, media type): one streaming query over two int columns."""
    buckets: dict[tuple[int, str], list[int]] = defaultdict(list)
    rows = Item.objects.filter(campaign=campaign).order_by("pk").values_list("pk", "generator_id", "media_type")
    for pk, gen, media in rows.iterator(chunk_size=CHUNK):
        buckets[(gen, media)].append(pk)
    return {key: np.asarray(ids, dtype=np.int64) for key, ids in sorted(buckets.items())}


def _mark(ids, value: bool) -> None:
    ids = [int(i) for i in ids]
    for start in range(0, len(ids), CHUNK):
        Item.objects.filter(pk__in=ids[start : start + CHUNK]).update(is_golden=value)


@transaction.atomic
def golden_set_create(
    *, campaign: Campaign, fraction: float | None = None, size: int | None = None, seed: int | None = None
) -> dict:
    """Make (or grow) the campaign's golden set to `size` items (or `fraction` of its items).

    Growing keeps the existing members and adds a stratified sample of the rest; a smaller size is
    refused once any golden score exists (it would drop scored items), otherwise the set is drawn anew.
    Returns {"seed", "size", "added", "strata": [{generator, media_type, items, golden_before, golden}]}.
    """
    if (fraction is None) == (size is None):
        raise InvalidInput("give exactly one of --fraction or --size")
    if fraction is not None and not 0 < fraction <= 1:
        raise InvalidInput(f"--fraction must be in (0, 1] (got {fraction})")
    if size is not None and size < 1:
        raise InvalidInput(f"--size must be at least 1 (got {size})")
    Campaign.objects.select_for_update().filter(pk=campaign.pk).exists()  # one golden-set change at a time
    strata = _strata(campaign)
    population = sum(len(ids) for ids in strata.values())
    if population == 0:
        raise InvalidInput(f"campaign {campaign.slug!r} has no items to sample from")
    wanted = int(round(fraction * population)) if fraction is not None else int(size or 0)
    if wanted > population:
        raise InvalidInput(f"--size {wanted} is larger than the campaign's {population} items")
    wanted = max(wanted, 1)
    golden_ids = set(Item.objects.filter(campaign=campaign, is_golden=True).values_list("pk", flat=True))
    scored = GoldenScore.objects.filter(item__campaign=campaign).exists()
    if wanted < len(golden_ids):
        if scored:
            raise Conflict(
                f"the golden set has {len(golden_ids)} items and golden scores already: refusing to shrink it to {wanted}"
            )
        _mark(golden_ids, False)
        golden_ids = set()
    if seed is None:
        seed = secrets.randbelow(2**31)
    rng = np.random.default_rng(seed)

    keys = list(strata)
    alloc = allocate([len(strata[k]) for k in keys], wanted)
    before = [int(np.isin(strata[k], list(golden_ids)).sum()) if golden_ids else 0 for k in keys]
    # Existing members may sit unevenly across strata (over quota in some): share the items still to
    # add over the strata below quota, in proportion to their shortfall. Never more than `wanted`.
    deficit = [max(0, a - b) for a, b in zip(alloc, before)]
    need = allocate(deficit, wanted - len(golden_ids))

    added: list[int] = []
    summary: list[dict[str, Any]] = []
    golden_arr = np.asarray(sorted(golden_ids), dtype=np.int64)
    for i, key in enumerate(keys):
        ids = strata[key]
        if need[i]:
            free = ids[~np.isin(ids, golden_arr)] if golden_arr.size else ids
            added.extend(rng.choice(free, size=need[i], replace=False).tolist())
        summary.append(
            {
                "generator_id": key[0],
                "media_type": key[1],
                "items": int(len(ids)),
                "golden_before": before[i],
                "golden": before[i] + need[i],
            }
        )
    _mark(added, True)
    names = dict(Generator.objects.filter(pk__in=[k[0] for k in keys]).values_list("pk", "name"))
    for row in summary:
        row["generator"] = names.get(row.pop("generator_id"), "?")
    return {"seed": seed, "size": len(golden_ids) + len(added), "added": len(added), "strata": summary}


# ----------------------------------------------------------------------------------- import


def score_cell(text: str | None, where: str, dim: str, *, integer: bool = False) -> float | int | None:
    """One score cell of an imported CSV: empty -> None; else a number on the 1-5 scale (an integer for
    annotators' ratings, any number for golden scores), or InvalidInput naming the row."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = f"an integer from {SCORE_MIN} to {SCORE_MAX}" if integer else "a number"
        raise InvalidInput(f"{where}: {dim} {text!r} is not {kind}") from None
    if not SCORE_MIN <= value <= SCORE_MAX:
        raise InvalidInput(f"{where}: {dim} {value:g} is outside {SCORE_MIN}-{SCORE_MAX}")
    return value


@transaction.atomic
def golden_import(*, campaign: Campaign, data: str) -> dict:
    """Import golden scores from CSV text with columns item_id, quality, alignment (an empty cell: no
    golden score on that dimension). All or nothing: the first bad row is named and nothing changes.
    The items become golden; an existing golden score on the same item and dimension is replaced."""
    reader = csv.DictReader(io.StringIO(data.lstrip("\ufeff")))
    columns = [c.strip() for c in (reader.fieldnames or [])]
    reader.fieldnames = columns
    if "item_id" not in columns or not set(columns) & set(DIMENSIONS):
        raise InvalidInput("line 1: the header needs item_id and at least one of quality, alignment")
    dims = [d for d in DIMENSIONS if d in columns]
    rows: list[tuple[int, str, dict[str, float]]] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        item_id = (row.get("item_id") or "").strip()
        where = f"line {line} (item_id {item_id!r})"
        if not item_id:
            raise InvalidInput(f"line {line}: item_id is empty")
        if item_id in seen:
            raise InvalidInput(f"{where}: the item is listed twice (first on line {seen[item_id]})")
        seen[item_id] = line
        scores = {}
        for dim in dims:
            value = score_cell(row.get(dim), where, dim)
            if value is not None:
                if dim not in campaign.dimensions:
                    raise InvalidInput(f"{where}: campaign {campaign.slug!r} does not rate {dim}")
                scores[dim] = value
        if not scores:
            raise InvalidInput(f"{where}: no score on any dimension")
        rows.append((line, item_id, scores))
    if not rows:
        raise InvalidInput("the file has no rows")
    pks = _item_pks(campaign, [r[1] for r in rows])
    for line, item_id, _ in rows:
        if item_id not in pks:
            raise InvalidInput(f"line {line} (item_id {item_id!r}): no such item in campaign {campaign.slug!r}")
    objs = [
        GoldenScore(item_id=pks[item_id], dimension=dim, score=value, n_experts=0, source=GoldenScore.Source.IMPORTED)
        for _, item_id, scores in rows
        for dim, value in scores.items()
    ]
    GoldenScore.objects.bulk_create(
        objs,
        batch_size=CHUNK,
        update_conflicts=True,
        unique_fields=["item", "dimension"],
        update_fields=["score", "n_experts", "source", "updated_at"],
    )
    _mark(pks.values(), True)
    from .scrutiny import rescrutiny_enqueue

    rescrutiny_enqueue(campaign=campaign, why="golden scores imported")
    return {"items": len(rows), "scores": len(objs)}


def _item_pks(campaign: Campaign, item_ids: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for start in range(0, len(item_ids), CHUNK):
        chunk = item_ids[start : start + CHUNK]
        out.update(Item.objects.filter(campaign=campaign, item_id__in=chunk).values_list("item_id", "pk"))
    return out


# ------------------------------------------------------------------------------------- experts


def _count(qs) -> Coalesce:
    return Coalesce(
        Subquery(qs.order_by().values("item").annotate(c=Count("pk")).values("c")[:1]),
        Value(0),
        output_field=IntegerField(),
    )


def expert_pool(*, campaign: Campaign, user, now=None):
    """Golden items that still need expert ratings (expert ratings + live expert leases below
    campaign.expert_ratings_per_golden), that `user` has never had, and whose scores were not imported."""
    now = now or timezone.now()
    expert_ratings = Rating.objects.filter(item=OuterRef("pk"), batch__kind=Batch.Kind.EXPERT)
    live_leases = Task.objects.filter(
        item=OuterRef("pk"), batch__kind=Batch.Kind.EXPERT, status=Task.Status.LEASED, lease_expires_at__gt=now
    )
    return (
        Item.objects.filter(campaign=campaign, is_golden=True)
        .annotate(expert_work=_count(expert_ratings) + _count(live_leases))
        .filter(expert_work__lt=campaign.expert_ratings_per_golden)
        .exclude(Exists(Task.objects.filter(item=OuterRef("pk"), annotator=user)))
        .exclude(Exists(Rating.objects.filter(item=OuterRef("pk"), annotator=user)))
        .exclude(Exists(GoldenScore.objects.filter(item=OuterRef("pk"), source=GoldenScore.Source.IMPORTED)))
    )


@transaction.atomic
def expert_batch_request(*, campaign: Campaign, user) -> tuple[Batch | None, bool]:
    """Expert mode of the rating page: lease golden items that still need expert ratings.
    Returns (batch, created) like assignment.batch_request, or (None, False) when there is no work.

    An expert's open expert batch is returned as it is (created False); an open annotation batch must
    be finished first (one open batch per annotator and campaign). Uses assignment's locking (the
    profile row first) and counter rules: leases count in Item.active_count like any lease, so the
    shared lease-expiry, finish and rating code treats expert tasks the same way.
    """
    if not user_has_role(user, EXPERT, ADMIN):
        raise Forbidden("expert mode is for experts")
    profile = annotator_profile_lock(user)  # one request per annotator at a time, as in batch_request
    if profile.is_paused:
        raise Forbidden("your account is paused and gets no new batches")
    # Lock the open batch before touching its tasks: the same order as batch_finish (no deadlock).
    open_batch = (
        Batch.objects.select_for_update(no_key=True)
        .filter(campaign=campaign, annotator=user, status=Batch.Status.OPEN)
        .first()
    )
    if open_batch is not None:
        if open_batch.kind != Batch.Kind.EXPERT:
            raise Conflict(
                f"you have an open {open_batch.kind} batch ({open_batch.pk}) in this campaign: finish it first"
            )
        batch_leases_expire(batch=open_batch, now=timezone.now())
        if not batch_close_if_done(batch=open_batch, now=timezone.now()):
            return open_batch, False
    if not campaign.is_active:
        return None, False
    now = timezone.now()
    items = list(
        expert_pool(campaign=campaign, user=user, now=now)
        .order_by("pk")
        .select_for_update(skip_locked=True, of=("self",))
        .values_list("pk", flat=True)[: campaign.batch_size]
    )
    if not items:
        return None, False
    batch = Batch.objects.create(campaign=campaign, annotator=user, kind=Batch.Kind.EXPERT)
    expires = now + timedelta(minutes=campaign.lease_minutes)
    Task.objects.bulk_create(
        [
            Task(batch=batch, item_id=pk, annotator=user, position=i, is_golden=True, lease_expires_at=expires)
            for i, pk in enumerate(items)
        ]
    )
    Item.objects.filter(pk__in=items).update(active_count=F("active_count") + 1)
    return batch, True


@transaction.atomic
def golden_scores_update(*, item) -> None:
    """Recompute the golden score of `item` from its expert ratings (called after each expert rating):
    per dimension the mean of the expert ratings, with n_experts. An imported score is left alone (it
    was set on purpose)."""
    item_pk = item.pk if isinstance(item, Item) else int(item)
    campaign = Campaign.objects.get(items__pk=item_pk)
    ratings = Rating.objects.filter(item_id=item_pk, batch__kind=Batch.Kind.EXPERT)
    figures = ratings.aggregate(
        **{
            f"{d}_{k}": fn(d, filter=Q(**{f"{d}__isnull": False}))
            for d in campaign.dimensions
            for k, fn in (("mean", Avg), ("n", Count))
        }
    )
    imported = set(
        GoldenScore.objects.filter(item_id=item_pk, source=GoldenScore.Source.IMPORTED).values_list(
            "dimension", flat=True
        )
    )
    changed = False
    for dim in campaign.dimensions:
        if dim in imported or not figures[f"{dim}_n"]:
            continue
        GoldenScore.objects.update_or_create(
            item_id=item_pk,
            dimension=dim,
            defaults={
                "score": float(figures[f"{dim}_mean"]),
                "n_experts": figures[f"{dim}_n"],
                "source": GoldenScore.Source.EXPERTS,
            },
        )
        changed = True
    if changed:
        from .scrutiny import rescrutiny_enqueue

        rescrutiny_enqueue(campaign=campaign, why="expert ratings changed golden scores")
