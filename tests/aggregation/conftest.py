"""Synthetic ratings with planted truth, shared by the aggregation tests (no Django needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def planted_ratings(
    *,
    n_items: int,
    n_annotators: int,
    per_item: int,
    bias_sd: float = 0.0,
    noise: float | np.ndarray = 0.5,
    seed: int = 0,
    round_scores: bool = True,
):
    """Each item rated by ``per_item`` distinct random annotators: truth + bias + noise, 1..5.

    Returns ``(ratings, truth, bias)``; ids are offset so they are not the codes.
    """
    rng = np.random.default_rng(seed)
    truth = rng.uniform(1.5, 4.5, n_items)
    bias = rng.normal(0.0, bias_sd, n_annotators) if bias_sd > 0 else np.zeros(n_annotators)
    noise = np.broadcast_to(np.asarray(noise, dtype=float), (n_annotators,))
    rows = []
    for j in range(n_items):
        for a in rng.choice(n_annotators, size=per_item, replace=False):
            rows.append((j, a, truth[j] + bias[a] + noise[a] * rng.standard_normal()))
    item, ann, raw = (np.array(c) for c in zip(*rows))
    score = np.clip(np.rint(raw), 1, 5) if round_scores else raw
    df = pd.DataFrame({"item": item + 100, "annotator": ann + 5000, "score": score})
    return df, truth, bias


@pytest.fixture
def make_ratings():
    return planted_ratings


@pytest.fixture
def small_ratings() -> pd.DataFrame:
    """Hand-made: 4 items, 4 annotators, unequal n per item, one item with a single rating."""
    return pd.DataFrame(
        {
            "item": [1, 1, 1, 1, 2, 2, 2, 3, 3, 4],
            "annotator": [10, 11, 12, 13, 10, 11, 13, 12, 13, 11],
            "score": [5, 4, 4, 3, 2, 3, 1, 4, 5, 2],
        }
    )
