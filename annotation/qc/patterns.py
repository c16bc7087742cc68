"""Spam patterns that correlation alone misses, found in one batch's ratings.

Each pattern is a conclusive sign of work not done (a batch showing one is rejected by the calibrated
method), so each test is deliberately strict: it must not fire on an honest rater who happens to see
many similar items. Where the campaign's own raters give a reference (how often they use one value,
how often they give both scales the same score), a pattern fires only if the batch is far outside it.

- ``constant``: every rating on a scale is the same value (at least MIN_RATINGS ratings).
- ``near_constant``: one value makes up NEAR_CONSTANT_SHARE of the scale's ratings (low entropy), while
  the campaign's raters use one value far less often.
- ``same_both``: quality and alignment get the same score on SAME_BOTH_SHARE of the items, while the
  campaign's raters do so far less often.
- ``repeating``: the ratings, in the order given, repeat with a short period (1-2-3-4-5-1-2-..., 1-5-1-5,
  ...): the value PERIOD items back matches on REPEAT_SHARE of the items.
- ``too_fast``: the batch's median time per item is below TOO_FAST_FRACTION of the campaign's typical
  time per item.

The evidence-based patterns (``inverted``: agreement conclusively negative; ``random``: conclusively
no better than chance) are found by :mod:`.decision`, which holds the evidence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

MIN_RATINGS = 8
MIN_PATTERN_RATINGS = 20
NEAR_CONSTANT_SHARE = 0.9
SAME_BOTH_SHARE = 0.95
REPEAT_SHARE = 0.9
MAX_PERIOD = 8
REPEAT_MAX_MODAL = 0.6
TOO_FAST_FRACTION = 0.2
MIN_TIMED = 10
# Used when the campaign has no reference of its own yet (a real lab set: raters give both scales the
# same score on roughly a third of the items and use their most frequent value on under half).
DEFAULT_SAME_BOTH = 0.4
DEFAULT_MODAL_SHARE = 0.5
# A pattern fires only when the campaign's own raters are clearly different.
REFERENCE_MARGIN = 0.75


@dataclass(frozen=True)
class Pattern:
    code: str  # constant, near_constant, same_both, repeating, too_fast, inverted, random
    dimension: str | None
    text: str  # for admins: the figure that shows it
    public: str  # for the annotator: plain words, nothing about golden items

    def as_dict(self) -> dict:
        return {"code": self.code, "dimension": self.dimension, "text": self.text}


@dataclass(frozen=True)
class CampaignHabits:
    """How the campaign's raters usually rate (None: not known yet, defaults apply)."""

    modal_share: dict[str, float] | None = None  # per dimension: median share of a rater's most used value
    same_both_share: float | None = None  # median share of items given the same score on both scales
    median_duration_ms: float | None = None  # typical time per item


def _modal(values: Sequence[int]) -> tuple[int, int]:
    value, count = Counter(values).most_common(1)[0]
    return value, count


def _period(values: Sequence[int]) -> tuple[int, float] | None:
    """The shortest period p (2..MAX_PERIOD) with values[i] == values[i - p] on REPEAT_SHARE of items."""
    arr = np.asarray(values)
    for p in range(2, min(MAX_PERIOD, len(arr) // 3) + 1):
        share = float(np.mean(arr[p:] == arr[:-p]))
        if share >= REPEAT_SHARE:
            return p, share
    return None


def find_patterns(
    ratings: Mapping[str, Sequence[int]],
    *,
    durations_ms: Sequence[int] = (),
    habits: CampaignHabits | None = None,
) -> list[Pattern]:
    """Patterns in a batch. ``ratings``: per dimension, the batch's ratings in the order they were
    given (regular and golden items alike: a straight-liner does not spare the regular ones);
    ``durations_ms``: the batch's times per item (those known)."""
    habits = habits or CampaignHabits()
    found: list[Pattern] = []
    flat = set()
    for dim, values in ratings.items():
        values = [v for v in values if v is not None]
        if len(values) < MIN_RATINGS:
            continue
        value, count = _modal(values)
        n = len(values)
        if count == n:
            flat.add(dim)
            found.append(
                Pattern(
                    "constant",
                    dim,
                    f"{dim}: all {n} ratings are {value}",
                    f"every item got the same {dim} score ({value})",
                )
            )
            continue
        share = count / n
        usual = (habits.modal_share or {}).get(dim, DEFAULT_MODAL_SHARE)
        if n >= MIN_PATTERN_RATINGS and share >= NEAR_CONSTANT_SHARE and usual <= REFERENCE_MARGIN:
            flat.add(dim)
            found.append(
                Pattern(
                    "near_constant",
                    dim,
                    f"{dim}: {count} of {n} ratings ({share:.0%}) are {value}; the campaign's raters use one value "
                    f"for {usual:.0%} of items",
                    f"almost every item got the same {dim} score ({value})",
                )
            )
            continue
        if n >= MIN_PATTERN_RATINGS and share <= REPEAT_MAX_MODAL:  # one dominant value repeats trivially
            period = _period(values)
            if period is not None:
                p, rep = period
                found.append(
                    Pattern(
                        "repeating",
                        dim,
                        f"{dim}: the ratings repeat every {p} items ({rep:.0%} match)",
                        f"the {dim} scores follow a repeating sequence rather than the items",
                    )
                )
    q, a = ratings.get("quality"), ratings.get("alignment")
    if q is not None and a is not None and not {"quality", "alignment"} & flat:
        pairs = [(x, y) for x, y in zip(q, a) if x is not None and y is not None]
        if len(pairs) >= MIN_PATTERN_RATINGS:
            same = sum(x == y for x, y in pairs) / len(pairs)
            usual = habits.same_both_share if habits.same_both_share is not None else DEFAULT_SAME_BOTH
            if same >= SAME_BOTH_SHARE and usual <= REFERENCE_MARGIN:
                found.append(
                    Pattern(
                        "same_both",
                        None,
                        f"quality and alignment are the same on {same:.0%} of {len(pairs)} items; the campaign's raters: "
                        f"{usual:.0%}",
                        "quality and alignment got the same score on almost every item: they are different questions",
                    )
                )
    timed = [d for d in durations_ms if d is not None]
    typical = habits.median_duration_ms
    if typical and len(timed) >= MIN_TIMED:
        median = float(np.median(timed))
        if median < TOO_FAST_FRACTION * typical:
            found.append(
                Pattern(
                    "too_fast",
                    None,
                    f"median {median / 1000:.1f} s per item; the campaign's typical is {typical / 1000:.1f} s",
                    f"items were rated in {median / 1000:.1f} s each, far faster than they can be looked at",
                )
            )
    return found
