"""How many hidden golden items an annotator's next batch carries (beyond the paper).

Golden items are spent where the evidence is still thin: a new annotator, or one whose record is not
conclusive, gets ``golden_max`` per batch until the evidence decides; an annotator with a long good
record (P(genuine) >= approve probability over at least LONG_RECORD golden items, and no batch of
theirs rejected or waiting for review among the last few) gets ``golden_min``, a floor that is never
zero, so a rater who turns careless is still caught; everyone else gets the campaign's
``golden_per_batch``.

The batch's total size never changes (regular items make up the rest), so annotators cannot count
their way to the golden items.
"""

from __future__ import annotations

LONG_RECORD = 60


def golden_for_next_batch(
    *,
    base: int,
    golden_min: int,
    golden_max: int,
    p_genuine: float | None,
    n_golden: int,
    recent_clean: bool,
    approve_probability: float = 0.95,
) -> int:
    """Golden items for the next batch. ``p_genuine``/``n_golden``: the annotator's current evidence
    (None/0 for a newcomer); ``recent_clean``: none of their latest batches was rejected or held."""
    golden_min = max(1, min(golden_min, base)) if base > 0 else 0
    golden_max = max(golden_max, base)
    if base <= 0:
        return 0
    if p_genuine is None or p_genuine < approve_probability or not recent_clean:
        return golden_max
    if n_golden >= LONG_RECORD:
        return golden_min
    return base
