"""The rating's PostgreSQL path: one prepared statement locks the caller's task (with its batch and
campaign), checks it, inserts the rating, marks the task rated and counts the batch. ratings.py calls it
inside its transaction and turns a refusal into the same error, in the same order, as its ORM path.

The statement only writes when everything holds: the task is the caller's and still leased with a live
lease, the scores name exactly the campaign's dimensions, and the values passed the checks in Python
(`valid`, from ratings.py). Otherwise it writes nothing and returns what ratings.py needs to name the reason.

The counts read the statement's snapshot, from before its own UPDATE: this task still shows as leased
there, hence `rated + 1` and the `id <>` of the live count.

`alone`: the statement is the whole change (run outside a transaction, PostgreSQL's own single-statement
transaction; no BEGIN and COMMIT round trips). It then writes only when the rating needs nothing after it:
another live lease remains in the batch (so this rating does not close it) and the batch is not an expert's
(whose rating updates the item's golden scores). Otherwise it writes nothing, and ratings.py runs it again
inside a transaction with what must follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from core.sql import sql_row

from ..models import Batch, Campaign, Rating, Task

_T, _B, _C, _R = Task._meta.db_table, Batch._meta.db_table, Campaign._meta.db_table, Rating._meta.db_table

STORE_SQL = f"""
    WITH tk AS (
        SELECT t.id, t.item_id, t.batch_id, t.status, t.lease_expires_at, b.kind, b.status AS batch_status,
               c.rate_quality, c.rate_alignment
          FROM {_T} t JOIN {_B} b ON b.id = t.batch_id JOIN {_C} c ON c.id = b.campaign_id
         WHERE t.id = %(task)s::bigint AND t.annotator_id = %(user)s::bigint
           FOR NO KEY UPDATE OF t
    ), n AS (
        -- one pass over the batch's tasks for the three counts
        SELECT count(*) AS total, count(*) FILTER (WHERE x.status = 'rated') AS rated,
               count(*) FILTER (WHERE x.status = 'leased' AND x.lease_expires_at > %(now)s::timestamptz
                                  AND x.id <> tk.id) AS live
          FROM tk JOIN {_T} x ON x.batch_id = tk.batch_id
    ), ok AS (
        SELECT tk.* FROM tk CROSS JOIN n
         WHERE %(valid)s::boolean AND tk.status = 'leased' AND tk.lease_expires_at > %(now)s::timestamptz
           AND tk.rate_quality = %(has_q)s::boolean AND tk.rate_alignment = %(has_a)s::boolean
           AND NOT (%(alone)s::boolean AND (n.live = 0 OR tk.kind = 'expert'))
    ), ins AS (
        INSERT INTO {_R} (annotator_id, item_id, batch_id, task_id, quality, alignment, duration_ms, created_at)
        SELECT %(user)s::bigint, ok.item_id, ok.batch_id, ok.id, %(quality)s::smallint, %(alignment)s::smallint,
               %(duration)s::integer, %(now)s::timestamptz
          FROM ok
        RETURNING id
    ), upd AS (
        UPDATE {_T} SET status = 'rated' WHERE id = (SELECT id FROM ok) RETURNING id
    )
    SELECT tk.status, tk.lease_expires_at > %(now)s::timestamptz, tk.batch_id, tk.item_id, tk.kind, tk.batch_status,
           tk.rate_quality, tk.rate_alignment, (SELECT id FROM ins), (SELECT count(*) FROM upd),
           n.total, n.rated, n.live
      FROM tk CROSS JOIN n"""


@dataclass
class StoreResult:
    """The statement's answer: rating_id is None when nothing was written (see `refusal`)."""

    now: datetime
    found: bool
    status: str = ""
    live_lease: bool = False
    batch_id: int = 0
    item_id: int = 0
    kind: str = ""
    batch_status: str = ""
    dimensions: tuple[str, ...] = ()
    rating_id: int | None = None
    total: int = 0
    rated: int = 0
    live: int = 0

    @property
    def needs_transaction(self) -> bool:
        """Whether what follows this rating must commit with it, so that run `alone` it wrote nothing (the
        statement's `alone` condition): it takes the batch's last live lease, or the batch is an expert's."""
        return self.found and (not self.live or self.kind == Batch.Kind.EXPERT)

    def progress(self) -> dict[str, int]:
        return {"rated": self.rated, "total": self.total}

    def refusal(self) -> dict:
        """What ratings._refuse needs to name the reason nothing was written."""
        return {
            "found": self.found,
            "dimensions": list(self.dimensions),
            "status": self.status,
            "live_lease": self.live_lease,
        }


def rating_store_fast(*, task_id: int, user_id: int, scores, duration_ms, valid: bool, alone: bool) -> StoreResult:
    """Run the statement. `valid`: the input passed the checks that need no campaign (ratings.py); when it did
    not, the statement writes nothing. `alone`: run outside a transaction, writing only a rating that needs
    nothing after it (see the module docstring); else inside the caller's transaction."""
    now = timezone.now()
    row = sql_row(
        STORE_SQL,
        {
            "task": task_id,
            "user": user_id,
            "valid": valid,
            "alone": alone,
            "now": now,
            "has_q": valid and "quality" in scores,
            "has_a": valid and "alignment" in scores,
            "quality": scores.get("quality") if valid else None,
            "alignment": scores.get("alignment") if valid else None,
            "duration": duration_ms if valid else None,
        },
    )
    if row is None:
        return StoreResult(now=now, found=False)
    (
        status,
        live_lease,
        batch_id,
        item_id,
        kind,
        batch_status,
        rate_q,
        rate_a,
        rating_id,
        updated,
        total,
        rated,
        live,
    ) = row
    dims = tuple(d for d, on in (("quality", rate_q), ("alignment", rate_a)) if on)
    if rating_id is not None and updated != 1:  # cannot happen: the task row is locked by this transaction
        rating_id = None
    return StoreResult(
        now=now,
        found=True,
        status=status,
        live_lease=live_lease,
        batch_id=batch_id,
        item_id=item_id,
        kind=kind,
        batch_status=batch_status,
        dimensions=dims,
        rating_id=rating_id,
        total=total,
        rated=rated + (rating_id is not None),
        live=live,
    )
