"""Merge caller params over a method's defaults; reject unknown names and bad values with ValueError."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def resolve(method: str, defaults: Mapping[str, Any], params: Mapping[str, Any] | None) -> dict[str, Any]:
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise ValueError(f"params for method {method!r} must be a mapping or None, got {type(params).__name__}")
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        allowed = ", ".join(sorted(defaults)) or "(none)"
        raise ValueError(f"unknown parameter(s) {unknown} for method {method!r}; allowed: {allowed}")
    out = dict(defaults)
    out.update(params)
    return out


def number(
    method: str, name: str, value: Any, *, low: float | None = None, high: float | None = None, low_open: bool = False
) -> float:
    """A finite real within ``[low, high]`` (``(low, high]`` when ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{method}: parameter {name!r} must be a finite number, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        bound = f"> {low}" if low_open else f">= {low}"
        raise ValueError(f"{method}: parameter {name!r} must be {bound}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{method}: parameter {name!r} must be <= {high}, got {value!r}")
    return float(value)


def integer(method: str, name: str, value: Any, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{method}: parameter {name!r} must be an integer >= {low}, got {value!r}")
    return int(value)


def pair(method: str, name: str, value: Any) -> tuple[float, float]:
    """An increasing pair of finite numbers ``(low, high)``."""
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise ValueError(f"{method}: parameter {name!r} must be a pair (low, high), got {value!r}") from None
    lo = number(method, name, lo)
    hi = number(method, name, hi)
    if not lo < hi:
        raise ValueError(f"{method}: parameter {name!r} needs low < high, got {value!r}")
    return lo, hi


def boolean(method: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{method}: parameter {name!r} must be true or false, got {value!r}")
    return value
