"""Validate the ratings frame and turn ids into dense integer codes.

Every method works on integer codes (``0..n_items-1``, ``0..n_annotators-1``) so that per-item and
per-annotator sums are single ``np.bincount`` calls: no Python loop over items or annotators, which
is what keeps 1M ratings within seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

REQUIRED_COLUMNS = ("item", "annotator", "score")


@dataclass(frozen=True)
class CodedRatings:
    """Ratings as parallel arrays: ``item[k]`` and ``annotator[k]`` are codes, ``score[k]`` a float.

    ``item_ids[c]`` / ``annotator_ids[c]`` give the original id of code ``c`` (sorted ascending).
    """

    item: np.ndarray
    annotator: np.ndarray
    score: np.ndarray
    item_ids: pd.Index
    annotator_ids: pd.Index
    #: Per item code, the code of its group (``group`` column, e.g. the generator), -1 where none was given;
    #: None when the frame has no ``group`` column.
    item_group: np.ndarray | None = None

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_annotators(self) -> int:
        return len(self.annotator_ids)

    @property
    def n_ratings(self) -> int:
        return len(self.score)


def _empty_index(name: str) -> pd.Index:
    return pd.Index(np.empty(0, dtype=np.int64), name=name)


def code_ratings(ratings: pd.DataFrame) -> CodedRatings:
    """Check ``ratings`` and factorize its ids.

    Raises ``ValueError`` with a clear message when ``ratings`` is not a DataFrame, lacks a column,
    or holds a missing id or a missing/non-numeric/non-finite score. An empty frame (zero rows) is
    accepted even without the columns.
    """
    if not isinstance(ratings, pd.DataFrame):
        raise ValueError(
            f"ratings must be a pandas DataFrame with columns {list(REQUIRED_COLUMNS)}, got {type(ratings).__name__}"
        )
    if len(ratings) == 0:
        empty = np.empty(0, dtype=np.intp)
        return CodedRatings(
            empty,
            empty.copy(),
            np.empty(0, dtype=np.float64),
            _empty_index("item"),
            _empty_index("annotator"),
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in ratings.columns]
    if missing:
        raise ValueError(f"ratings is missing column(s) {missing}; expected {list(REQUIRED_COLUMNS)}")
    for col in ("item", "annotator"):
        if ratings[col].isna().any():
            raise ValueError(f"ratings column {col!r} contains missing ids")
    try:
        score = np.asarray(ratings["score"].to_numpy(dtype=np.float64, na_value=np.nan))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"ratings column 'score' must be numeric: {exc}") from None
    if not np.isfinite(score).all():
        raise ValueError("ratings column 'score' contains missing or non-finite values")

    item, item_ids = pd.factorize(ratings["item"], sort=True)
    annotator, annotator_ids = pd.factorize(ratings["annotator"], sort=True)
    item_ids = pd.Index(item_ids, name="item")
    annotator_ids = pd.Index(annotator_ids, name="annotator")
    item_group = _item_groups(ratings, item, len(item_ids)) if "group" in ratings.columns else None
    return CodedRatings(
        item.astype(np.intp, copy=False),
        annotator.astype(np.intp, copy=False),
        score,
        item_ids,
        annotator_ids,
        item_group,
    )


def _item_groups(ratings: pd.DataFrame, item: np.ndarray, n_items: int) -> np.ndarray:
    """One group code per item (-1: no group). An item whose ratings name two groups is an error."""
    group, _ = pd.factorize(ratings["group"], sort=True)  # missing -> -1
    out = np.full(n_items, -1, dtype=np.intp)
    out[item] = group
    if np.any(out[item] != group):
        raise ValueError("ratings column 'group' must give each item one group (an item's ratings name two)")
    return out
