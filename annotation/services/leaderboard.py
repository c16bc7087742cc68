"""A live leaderboard (beyond the paper): generators ranked by MOS per dimension and media type, with
95% intervals, from the approved ratings as they are now (updated as batches are approved), marking
which neighbours are not yet separated and about how many more ratings would separate them.

A generator's score is the mean over its rated items of the item's MOS; its interval treats the rated
items as a sample of the generator's items (Student's t over items), so it narrows as more of its items
get rated. Two neighbours are separated when their difference is at least 1.96 standard errors of the
difference (Welch). The ratings that would separate them: the items each would need for that, at
ratings per item as now, minus what they have; "not with these items" when even every item of both
would not do.

One query (approved ratings grouped by item), then pandas; cached for CACHE_SECONDS per campaign.
"""

from __future__ import annotations

import math

from django.core.cache import cache
from django.db.models import Avg, Count

from ..models import Batch, Campaign, Item, Rating

CACHE_SECONDS = 30
Z = 1.96


def leaderboard(*, campaign: Campaign, use_cache: bool = True) -> dict:
    key = f"qeval:leaderboard:{campaign.pk}"
    if use_cache:
        hit = cache.get(key)
        if hit is not None:
            return hit
    board = _compute(campaign)
    cache.set(key, board, CACHE_SECONDS)
    return board


def _compute(campaign: Campaign) -> dict:
    import pandas as pd
    from scipy.stats import t

    dims = campaign.dimensions
    rows = list(
        Rating.objects.filter(
            item__campaign=campaign,
            item__is_golden=False,
            batch__decision=Batch.Decision.APPROVED,
            batch__kind__in=(Batch.Kind.ANNOTATION, Batch.Kind.IMPORTED),
        )
        .values("item_id", "item__generator__name", "item__media_type")
        .annotate(n=Count("pk"), **{f"mos_{d}": Avg(d) for d in dims})
    )
    totals = dict(
        Item.objects.filter(campaign=campaign, is_golden=False)
        .values_list("generator__name")
        .annotate(n=Count("pk"))
        .values_list("generator__name", "n")
    )
    out: dict = {"campaign": campaign.slug, "ratings": int(sum(r["n"] for r in rows)), "boards": []}
    if not rows:
        return out
    df = pd.DataFrame(rows).rename(columns={"item__generator__name": "generator", "item__media_type": "media_type"})
    for media_type, part in df.groupby("media_type", sort=True):
        for dim in dims:
            col = f"mos_{dim}"
            g = part.dropna(subset=[col]).groupby("generator")
            stats = (
                pd.DataFrame(
                    {"mos": g[col].mean(), "sd": g[col].std(ddof=1), "items": g[col].count(), "ratings": g["n"].sum()}
                )
                .reset_index()
                .sort_values(["mos", "generator"], ascending=[False, True])
            )
            entries = []
            for r in stats.itertuples(index=False):
                n = int(r.items)
                se = float(r.sd) / math.sqrt(n) if n >= 2 and not math.isnan(r.sd) else None
                half = float(t.ppf(0.975, n - 1)) * se if se is not None else None
                entries.append(
                    {
                        "generator": r.generator,
                        "mos": round(float(r.mos), 4),
                        "items": n,
                        "items_total": int(totals.get(r.generator, n)),
                        "ratings": int(r.ratings),
                        "sd": None if se is None else round(float(r.sd), 4),
                        "se": None if se is None else round(se, 4),
                        "ci95": None if half is None else [round(r.mos - half, 4), round(r.mos + half, 4)],
                    }
                )
            for a, b in zip(entries, entries[1:]):
                a["next"] = _separation(a, b)
            out["boards"].append({"media_type": media_type, "dimension": dim, "generators": entries})
    return out


def _separation(a: dict, b: dict) -> dict:
    """Is `a` (ranked above) separated from `b`, and if not, about how many more ratings would do it."""
    diff = a["mos"] - b["mos"]
    if a["se"] is None or b["se"] is None:
        return {"separated": False, "z": None, "more_ratings": None, "why": "too few rated items"}
    se = math.hypot(a["se"], b["se"])
    z = diff / se if se > 0 else math.inf
    if z >= Z:
        return {"separated": True, "z": round(z, 2), "more_ratings": 0}
    if diff <= 0:
        return {"separated": False, "z": round(z, 2), "more_ratings": None, "why": "no difference yet"}
    # Items each would need for z = 1.96 with their item-to-item spread as now.
    need = math.ceil(Z**2 * (a["sd"] ** 2 + b["sd"] ** 2) / diff**2)
    if need > min(a["items_total"], b["items_total"]):
        return {"separated": False, "z": round(z, 2), "more_ratings": None, "why": "not with these items"}
    more = sum(max(0, need - x["items"]) * (x["ratings"] / max(x["items"], 1)) for x in (a, b))
    return {"separated": False, "z": round(z, 2), "more_ratings": int(math.ceil(more))}


def board_rankings(board: dict) -> dict[tuple[str, str], list[str]]:
    """(media type, dimension) -> generators best first: what the benchmark compares with the truth."""
    return {(b["media_type"], b["dimension"]): [g["generator"] for g in b["generators"]] for b in board["boards"]}


__all__ = ["board_rankings", "leaderboard"]
