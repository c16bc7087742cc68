"""Assignment: batches of leased tasks (regular items plus hidden golden items), leases and their expiry.

The counter that makes this safe and fast is `Item.active_count` = approved + pending ratings + live
leases; an item is in the assignment pool while `active_count < target`. Every change of that counter
happens here (lease +1), in leases.py (expiry / return -1), in scrutiny (a rejection -n, a re-approval +n)
and never anywhere else. Leases end and are extended in leases.py (expiry, early finish, heartbeat), which
ratings and golden use too.

Locking rules (why nothing deadlocks and nothing is over-assigned). Lock order everywhere:
annotator profile -> the task being rated -> batch -> other tasks (SKIP LOCKED) -> items (pk order).
- `batch_request` locks the annotator's profile row first (one request per annotator at a time), then
  takes item rows with `FOR NO KEY UPDATE SKIP LOCKED`: it never waits for an item lock, it skips the row and
  takes the next candidate. A row it holds is incremented with `active_count < target` rechecked.
- Paths that give leases back (leases.py: expiry, early finish) wait for item locks, but always take them
  in primary-key order, as scrutiny does, and the periodic sweep commits one chunk at a time.
- Row locks are `FOR NO KEY UPDATE`, not `FOR UPDATE`: inserting a rating or a task takes a
  `FOR KEY SHARE` lock on the item and batch it references (the foreign key check), which `FOR UPDATE`
  would block: a rating would wait for another annotator's batch request that merely looked at the item.
- SQLite (the embedded default) has no row locks: Django drops `select_for_update` there and SQLite
  serialises writers (transaction_mode IMMEDIATE in settings), which is just as safe, only slower.

Golden items are ordinary dataset items that also collect ratings, but only through the golden slots of
a batch: the regular pool excludes them (index `item_open_pool_fullest`), and each annotator sees a
golden item at most once (unique (annotator, item) Task constraint). Their `active_count` still counts
every rating and lease, but their `target` does not limit golden slots: every annotator must meet the
golden sample to be scrutinised, so golden items may end above target.

Golden items cannot be told apart: a batch always holds `batch_size + golden_per_batch` tasks, however
many of them are golden (the calibrated method gives newcomers more golden items and long good records
fewer, annotation/qc/allocation.py); positions are shuffled; regular items equally close to their
target are taken in a random order (Item.shuffle_key), never in id order; and nothing an annotator
receives names an item (media is served through the task, api/media.py).
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone

from core.errors import Conflict, Forbidden, NotFound
from core.sql import fast_sql_enabled, sql_insert, sql_models, sql_rows

from ..models import Batch, Campaign, Item, Rating, Task

# Imported with this module, not at the first batch request: the qc package loads scipy (~1 s), which a web
# worker would otherwise pay inside an annotator's first request (config/wsgi.py loads the URLconf at start).
from ..qc import golden_for_next_batch
from .leases import (  # noqa: F401  (moved to leases.py)
    annotator_profile_lock,
    batch_close_if_done,
    batch_finish,
    batch_heartbeat,
    batch_leases_expire,
    leases_expire,
    leases_give_back,
)
from .qc_evidence import evidence_get
from .selection import priority_expression, priority_sql

# ------------------------------------------------------------------------------------------ reads


def batch_get_for_user(*, batch_id: int, user, see_all: bool = False) -> Batch:
    """A batch the caller may see: their own, or any when `see_all` (admins). Others' are NotFound."""
    qs = Batch.objects.select_related("campaign")
    if not see_all:
        qs = qs.filter(annotator=user)
    batch = qs.filter(pk=batch_id).first()
    if batch is None:
        raise NotFound(f"batch {batch_id} not found")
    return batch


# ------------------------------------------------------------------------------------ batch_request


@transaction.atomic
def batch_request(*, campaign: Campaign, user) -> tuple[Batch | None, bool]:
    """Give `user` a batch in `campaign`: their open batch if they have one (created False), else a new
    batch of `batch_size + golden_per_batch` tasks, the golden ones as many as `golden_allocation` says
    and regular items for the rest, shuffled together (created True), or (None, False) when no regular
    item is left for them."""
    profile = annotator_profile_lock(user)
    if profile.is_paused:
        reason = f": {profile.paused_reason}" if profile.paused_reason else ""
        raise Forbidden(f"your account is paused and gets no new batches{reason}")
    if not campaign.is_active:
        raise Forbidden(f"campaign {campaign.slug} is not active: it hands out no batches")
    now = timezone.now()

    open_batch = _open_batch_locked(campaign=campaign, user=user)
    if open_batch is not None:
        if open_batch.kind != Batch.Kind.ANNOTATION:
            raise Conflict(
                f"you have an open {open_batch.kind} batch ({open_batch.pk}) in this campaign: finish it first"
            )
        batch_leases_expire(batch=open_batch, now=now)
        if not batch_close_if_done(batch=open_batch, now=now):
            return open_batch, False

    golden = _lease_golden(campaign=campaign, user=user, n=golden_allocation(campaign=campaign, user=user))
    # The batch's size never depends on how many golden items it holds: regular items fill the rest.
    regular = _lease_regular(campaign=campaign, user=user, n=batch_total(campaign) - len(golden))
    if not regular:
        return None, False  # nothing was written: the golden rows were only locked
    # One UPDATE for both kinds. The rows are ours (FOR UPDATE), so the recheck of active_count < target
    # always holds for regular items; it is the belt-and-braces guarantee against over-assignment.
    if fast_sql_enabled():
        updated = sql_rows(ITEMS_LEASE_SQL, {"ids": regular + golden})[0][0]
    else:
        updated = (
            Item.objects.filter(pk__in=regular + golden)
            .filter(Q(is_golden=True) | Q(active_count__lt=F("target")))
            .update(active_count=F("active_count") + 1, priority=priority_expression(F("active_count") + 1))
        )
    if updated != len(regular) + len(golden):
        raise Conflict("assignment raced with another request: please ask again")

    batch = Batch(campaign=campaign, annotator=user, kind=Batch.Kind.ANNOTATION)
    if fast_sql_enabled():
        sql_insert(batch)
    else:
        batch.save(force_insert=True)
    entries = [(item_id, False) for item_id in regular] + [(item_id, True) for item_id in golden]
    random.shuffle(entries)
    expires = now + timedelta(minutes=campaign.lease_minutes)
    if fast_sql_enabled():  # one INSERT of arrays: bulk_create builds a model per task first
        sql_rows(
            TASKS_INSERT_SQL,
            {
                "batch": batch.pk,
                "user": user.pk,
                "items": [item_id for item_id, _ in entries],
                "golden": [is_golden for _, is_golden in entries],
                "expires": expires,
                "now": now,
            },
        )
    else:
        Task.objects.bulk_create(
            Task(
                batch=batch,
                item_id=item_id,
                annotator=user,
                position=pos,
                is_golden=is_golden,
                lease_expires_at=expires,
            )
            for pos, (item_id, is_golden) in enumerate(entries)
        )
    return batch, True


# The ORM's update above, raw: the same recheck of active_count < target, the same priority (selection.py).
ITEMS_LEASE_SQL = f"""
    WITH upd AS (
        UPDATE {Item._meta.db_table}
           SET active_count = active_count + 1, priority = {priority_sql("active_count + 1")}
         WHERE id = ANY(%(ids)s::bigint[]) AND (is_golden OR active_count < target)
        RETURNING 1
    )
    SELECT count(*) FROM upd"""

TASKS_INSERT_SQL = f"""
    INSERT INTO {Task._meta.db_table}
           (batch_id, item_id, annotator_id, position, is_golden, status, lease_expires_at, created_at)
    SELECT %(batch)s::bigint, x.item, %(user)s::bigint, x.pos - 1, x.golden, 'leased', %(expires)s::timestamptz,
           %(now)s::timestamptz
      FROM unnest(%(items)s::bigint[], %(golden)s::boolean[]) WITH ORDINALITY AS x(item, golden, pos)"""


def _open_batch_locked(*, campaign: Campaign, user) -> Batch | None:
    """The user's open batch in the campaign, locked (FOR NO KEY UPDATE), or None."""
    if fast_sql_enabled():
        where = "annotator_id = %(u)s::bigint AND campaign_id = %(c)s::bigint AND status = 'open'"
        found = sql_models(
            Batch, where, {"u": user.pk, "c": campaign.pk}, suffix="ORDER BY id LIMIT 1 FOR NO KEY UPDATE"
        )
        return found[0] if found else None
    return (
        Batch.objects.select_for_update(no_key=True)
        .filter(annotator=user, campaign=campaign, status=Batch.Status.OPEN)
        .first()
    )


def batch_total(campaign: Campaign) -> int:
    """Tasks in every annotation batch of the campaign (regular + golden)."""
    return campaign.batch_size + campaign.golden_per_batch


def golden_allocation(*, campaign: Campaign, user) -> int:
    """Golden items for the user's next batch: the campaign's golden_per_batch under the fixed method;
    under the calibrated method more until the evidence is conclusive, fewer for a long good record,
    never 0 (annotation/qc/allocation.py)."""
    base = campaign.golden_per_batch
    fixed_range = campaign.golden_min_per_batch == campaign.golden_max_per_batch == base
    if campaign.scrutiny_method != Campaign.Method.CALIBRATED or base <= 0 or fixed_range:
        return base
    evidence = evidence_get(campaign=campaign, annotator_id=user.pk)
    if evidence is None:  # a newcomer: the most golden items, and one query less
        return max(base, min(campaign.golden_max_per_batch, batch_total(campaign) - 1))
    recent = list(
        Batch.objects.filter(annotator=user, campaign=campaign, status=Batch.Status.CLOSED)
        .exclude(kind=Batch.Kind.EXPERT)
        .order_by("-created_at")
        .values_list("decision", flat=True)[:3]
    )
    return golden_for_next_batch(
        base=base,
        golden_min=campaign.golden_min_per_batch,
        golden_max=min(campaign.golden_max_per_batch, batch_total(campaign) - 1),
        p_genuine=evidence.p_genuine,
        n_golden=evidence.n_golden,
        recent_clean=all(d == Batch.Decision.APPROVED for d in recent),
        approve_probability=campaign.approve_probability,
    )


def _lease_regular(*, campaign: Campaign, user, n: int) -> list[int]:
    """Lease up to n regular items: round-robin across generators; within each generator and round the
    fullest first (highest active_count; selection_policy "fullest") or the most valuable first (highest
    priority; "value", services/selection.py), ties in random order (shuffle_key). Held items (waiting
    for an admin's check) are never leased. Returns the item ids, locked; the caller increments
    active_count."""
    if n <= 0:
        return []
    generators = _open_generators(campaign=campaign)
    if not generators:
        return []
    per_gen = max(1, math.ceil(n / len(generators)))
    candidates: list[tuple[int, int, float, int]] = []  # (item id, generator, rank value, shuffle_key), locked
    wanted = list(generators)
    for _ in range(3):  # refill from generators that still have items when others ran dry
        found = _locked_candidates(
            campaign=campaign, user=user, generators=wanted, k=per_gen, exclude=[c[0] for c in candidates]
        )
        candidates += found
        if len(candidates) >= n:
            break
        per_generator = Counter(c[1] for c in found)
        wanted = [g for g in wanted if per_generator[g] >= per_gen]  # not exhausted
        if not wanted:
            break
        per_gen = n - len(candidates)
    rank: Counter = Counter()
    ranked = []
    for item_id, gen, value, _key in sorted(candidates, key=lambda c: (c[1], -c[2], c[3])):
        ranked.append((rank[gen], -value, random.random(), item_id))
        rank[gen] += 1
    return [item_id for *_, item_id in sorted(ranked)[:n]]


def _open_generators(*, campaign: Campaign) -> list[int]:
    """Generators that still have regular items below target in the campaign."""
    if not fast_sql_enabled():
        return sorted(set(_open_pool(campaign).values_list("generator_id", flat=True).distinct()))
    # A loose index scan over item_open_pool_fullest: one index probe per generator, not per item.
    sql = f"""
        WITH RECURSIVE gens(gid) AS (
            (SELECT generator_id FROM {Item._meta.db_table}
              WHERE campaign_id = %(c)s::bigint AND active_count < target AND NOT is_golden AND NOT is_held
              ORDER BY generator_id LIMIT 1)
            UNION ALL
            SELECT (SELECT i.generator_id FROM {Item._meta.db_table} i
                     WHERE i.campaign_id = %(c)s::bigint AND i.active_count < i.target AND NOT i.is_golden
                       AND NOT i.is_held AND i.generator_id > gens.gid
                     ORDER BY i.generator_id LIMIT 1)
              FROM gens WHERE gens.gid IS NOT NULL
        )
        SELECT gid FROM gens WHERE gid IS NOT NULL"""
    return [row[0] for row in sql_rows(sql, {"c": campaign.pk})]


def _unseen(items, user):
    """Items the user has no task and no rating for. `NOT IN (uncorrelated subquery)` on purpose: the
    planner hashes the user's items once (an index scan on annotator) instead of choosing an anti join
    that may walk the whole task or rating table."""
    return items.exclude(pk__in=Task.objects.filter(annotator=user).values("item_id")).exclude(
        pk__in=Rating.objects.filter(annotator=user).values("item_id")
    )


def _open_pool(campaign: Campaign):
    return Item.objects.filter(campaign=campaign, is_golden=False, is_held=False, active_count__lt=F("target"))


# The column a generator's open items are taken by: one index per policy (item_open_pool_fullest,
# item_open_pool_value), both ending in the random shuffle_key.
RANK_COLUMN: dict[str, str] = {Campaign.Selection.FULLEST: "active_count", Campaign.Selection.VALUE: "priority"}


def _candidates_sql(rank: str) -> str:
    return f"""
    SELECT c.id, c.generator_id, c.rank_value, c.shuffle_key
      FROM unnest(%(gens)s::bigint[]) AS g(gid)
      CROSS JOIN LATERAL (
        SELECT i.id, i.generator_id, i.{rank}::float8 AS rank_value, i.shuffle_key FROM {Item._meta.db_table} i
         WHERE i.campaign_id = %(c)s::bigint AND i.generator_id = g.gid
           AND i.active_count < i.target AND NOT i.is_golden AND NOT i.is_held
           AND NOT (i.id = ANY(%(exclude)s::bigint[]))
           AND i.id NOT IN (SELECT t.item_id FROM {Task._meta.db_table} t WHERE t.annotator_id = %(u)s::bigint)
           AND i.id NOT IN (SELECT r.item_id FROM {Rating._meta.db_table} r WHERE r.annotator_id = %(u)s::bigint)
         ORDER BY i.{rank} DESC, i.shuffle_key
         LIMIT %(k)s::integer
         FOR NO KEY UPDATE OF i SKIP LOCKED
      ) c"""


CANDIDATES_SQL: dict[str, str] = {policy: _candidates_sql(column) for policy, column in RANK_COLUMN.items()}


def _locked_candidates(*, campaign: Campaign, user, generators: list[int], k: int, exclude: list[int]):
    """Up to k unseen open items per generator, by the campaign's selection policy then shuffle_key,
    locked FOR NO KEY UPDATE SKIP LOCKED."""
    rank = RANK_COLUMN.get(campaign.selection_policy, "active_count")
    if not fast_sql_enabled():
        out = []
        for gen in generators:
            qs = _unseen(_open_pool(campaign).filter(generator_id=gen).exclude(pk__in=exclude), user)
            qs = qs.order_by(f"-{rank}", "shuffle_key")
            out += [
                (pk, g, float(v), key)
                for pk, g, v, key in qs.select_for_update(skip_locked=True, no_key=True).values_list(
                    "pk", "generator_id", rank, "shuffle_key"
                )[:k]
            ]
        return out
    # One statement: a LATERAL index range scan of the policy's pool index per generator.
    sql = CANDIDATES_SQL.get(campaign.selection_policy, CANDIDATES_SQL[Campaign.Selection.FULLEST])
    return sql_rows(sql, {"gens": generators, "c": campaign.pk, "u": user.pk, "k": k, "exclude": exclude})


def _lease_golden(*, campaign: Campaign, user, n: int) -> list[int]:
    """Lease up to n golden items the annotator has never seen, starting at a random point of the golden
    sample (no ORDER BY RANDOM()). Golden slots ignore the target (see the module docstring). Returns
    the item ids, locked; the caller increments active_count."""
    if n <= 0:
        return []
    golden = Item.objects.filter(campaign=campaign, is_golden=True)
    bounds = _golden_bounds(campaign.pk)
    if bounds is None:
        return []
    pivot = random.randint(*bounds)
    if fast_sql_enabled():  # the same two scans, prepared: from the pivot up, then from the start
        params = {"c": campaign.pk, "u": user.pk, "lo": pivot, "hi": 2**62, "n": n}
        ids = [r[0] for r in sql_rows(GOLDEN_SQL, params)]
        if len(ids) < n:
            params.update(lo=0, hi=pivot, n=n - len(ids))
            ids += [r[0] for r in sql_rows(GOLDEN_SQL, params)]
        return ids
    unseen = _unseen(golden, user)
    ids = list(
        unseen.filter(pk__gte=pivot)
        .order_by("pk")
        .select_for_update(skip_locked=True, no_key=True)
        .values_list("pk", flat=True)[:n]
    )
    if len(ids) < n:  # wrap around the start of the sample
        ids += list(
            unseen.filter(pk__lt=pivot)
            .order_by("pk")
            .select_for_update(skip_locked=True, no_key=True)
            .values_list("pk", flat=True)[: n - len(ids)]
        )
    return ids


GOLDEN_SQL = f"""
    SELECT i.id FROM {Item._meta.db_table} i
     WHERE i.campaign_id = %(c)s::bigint AND i.is_golden AND i.id >= %(lo)s::bigint AND i.id < %(hi)s::bigint
       AND i.id NOT IN (SELECT t.item_id FROM {Task._meta.db_table} t WHERE t.annotator_id = %(u)s::bigint)
       AND i.id NOT IN (SELECT r.item_id FROM {Rating._meta.db_table} r WHERE r.annotator_id = %(u)s::bigint)
     ORDER BY i.id
     LIMIT %(n)s::integer
       FOR NO KEY UPDATE OF i SKIP LOCKED"""

_GOLDEN_BOUNDS: dict[int, tuple[float, tuple[int, int] | None]] = {}
GOLDEN_BOUNDS_TTL = 300.0


def _golden_bounds(campaign_id: int) -> tuple[int, int] | None:
    """(min, max) id of the campaign's golden sample, cached a few minutes per process: it only picks
    where the golden scan starts, so a stale value costs nothing but a little spread."""
    now = time.monotonic()
    cached = _GOLDEN_BOUNDS.get(campaign_id)
    if cached and now - cached[0] < GOLDEN_BOUNDS_TTL:
        return cached[1]
    agg = Item.objects.filter(campaign_id=campaign_id, is_golden=True).aggregate(lo=Min("pk"), hi=Max("pk"))
    if agg["lo"] is None:
        return None  # not cached: a golden sample drawn later must be used at once
    _GOLDEN_BOUNDS[campaign_id] = (now, (agg["lo"], agg["hi"]))
    return agg["lo"], agg["hi"]
