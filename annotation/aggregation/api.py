"""``aggregate``: dispatch to one method, after validating the method name, params and ratings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ._input import code_ratings
from .methods import bt500, mean, mle, zscore
from .params import resolve
from .result import AggregationResult, annotators_frame, items_frame, jsonable

_MODULES = {m.NAME: m for m in (mean, zscore, bt500, mle)}

#: Names accepted by ``aggregate(method=...)``, default first.
METHODS: tuple[str, ...] = tuple(_MODULES)

#: Default parameters of each method (copies are handed out; ``info["params"]`` shows what was used).
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {name: dict(m.DEFAULT_PARAMS) for name, m in _MODULES.items()}


def aggregate(
    ratings: pd.DataFrame, method: str = "mean", params: Mapping[str, Any] | None = None
) -> AggregationResult:
    """Aggregate the ratings of ONE dimension into per-item scores and per-annotator diagnostics.

    Raises ``ValueError`` for an unknown method, unknown or invalid params, or malformed ratings.
    Empty ratings give empty ``items``/``annotators`` frames with the usual columns.
    """
    if not isinstance(method, str) or method not in _MODULES:
        raise ValueError(f"unknown aggregation method {method!r}; choose one of {list(METHODS)}")
    module = _MODULES[method]
    used = module.check(resolve(method, module.DEFAULT_PARAMS, params))
    data = code_ratings(ratings)
    if data.n_ratings == 0:
        result = AggregationResult(
            items_frame(data.item_ids, mos=[], std=[], ci95=[], n=[]),
            annotators_frame(data.annotator_ids, bias=[], inconsistency=[], n=[]),
            {"method": method, "params": used},
        )
    else:
        result = module.run(data, used)
    result.info.update(n_ratings=data.n_ratings, n_items=data.n_items, n_annotators=data.n_annotators)
    result.info = jsonable(result.info)
    return result
