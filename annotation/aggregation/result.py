"""The value ``aggregate`` returns, and builders that give every method the same frame layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

ITEM_COLUMNS = ("mos", "std", "ci95", "n")
ANNOTATOR_COLUMNS = ("bias", "inconsistency", "n", "rejected")


@dataclass
class AggregationResult:
    """Per-item scores, per-annotator diagnostics and a JSON-serialisable ``info`` dict.

    ``items``: indexed by ``item``; float ``mos``, ``std``, ``ci95``; int ``n``.
    ``annotators``: indexed by ``annotator``; float ``bias``, ``inconsistency``; int ``n``;
    bool ``rejected`` (plus method-specific extra columns, e.g. ``p``/``q`` for ``bt500``).
    """

    items: pd.DataFrame
    annotators: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)


def items_frame(ids: pd.Index, *, mos, std, ci95, n) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "mos": np.asarray(mos, dtype=np.float64),
            "std": np.asarray(std, dtype=np.float64),
            "ci95": np.asarray(ci95, dtype=np.float64),
            "n": np.asarray(n, dtype=np.int64),
        },
        index=pd.Index(ids, name="item"),
    )


def annotators_frame(ids: pd.Index, *, bias, inconsistency, n, rejected=None, **extra) -> pd.DataFrame:
    if rejected is None:
        rejected = np.zeros(len(ids), dtype=bool)
    data = {
        "bias": np.asarray(bias, dtype=np.float64),
        "inconsistency": np.asarray(inconsistency, dtype=np.float64),
        "n": np.asarray(n, dtype=np.int64),
        "rejected": np.asarray(rejected, dtype=bool),
    }
    data.update(extra)
    return pd.DataFrame(data, index=pd.Index(ids, name="annotator"))


def jsonable(value: Any) -> Any:
    """Plain Python types (for a JSONField): numpy scalars/arrays and tuples become int/float/list."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value
