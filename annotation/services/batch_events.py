"""What happens when a batch closes: its scrutiny is queued (after the closing transaction commits)."""
from __future__ import annotations

from django.db import transaction

from ..models import Batch


def batch_closed_notify(*, batch: Batch) -> None:
    """Call inside the transaction that closed `batch`; scrutiny runs on the workers after commit."""
    from ..tasks.scrutiny import scrutinize_batch

    batch_id = batch.pk
    # robust: a broker hiccup must not fail the annotator's request; `scrutinize` sweeps up missed batches.
    transaction.on_commit(lambda: scrutinize_batch.delay(batch_id), robust=True)
