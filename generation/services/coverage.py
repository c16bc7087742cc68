"""Coverage of a campaign against its taxonomy: which parts have prompts, and which generators have content there.

Two tables, each one GROUP BY query (index-backed, no per-row work in Python):

- prompts: taxonomy leaf (category > subcategory) x prompt set: prompts, long prompts (> 25 words), the leaf's
  target; a gap is a leaf with no prompt (or below its target);
- items: taxonomy leaf x generator (those with items, and those registered for the campaign): items of the
  campaign (generated or imported) whose prompt has that leaf;
  a gap is a generator with no item in a leaf that has prompts.

Prompts whose category is not in the taxonomy (or empty) are a row of their own ("(unclassified)").
"""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any

from django.db.models import Count, Q

from annotation.models import Campaign, Item
from annotation.services import csv_safe

from ..models import LONG_PROMPT_WORDS, GeneratorSpec, PromptSet, PromptSetEntry, Taxonomy
from .taxonomy import taxonomy_get

UNCLASSIFIED = "(unclassified)"


def _leaves(taxonomy: Taxonomy) -> list[tuple[str, str, str, int | None]]:
    return list(taxonomy.entries.order_by("position", "id").values_list("category", "group", "subcategory", "target"))


def coverage_compute(
    *, campaign: Campaign, taxonomy: Taxonomy | None = None, by: str = "subcategory"
) -> dict[str, Any]:
    """Both tables for the campaign. `by` is "subcategory" (leaves) or "category" (top levels). The taxonomy is
    the one of the campaign's first prompt set, else the built-in one."""
    if taxonomy is None:
        first = PromptSet.objects.filter(campaign=campaign).select_related("taxonomy").order_by("id").first()
        taxonomy = first.taxonomy if first else taxonomy_get()
    leaves = _leaves(taxonomy)
    if by == "category":
        rows = list(dict.fromkeys((c, "") for c, _, _, _ in leaves))
        targets: dict[tuple[str, str], int | None] = {}
        for c, _, _, t in leaves:
            if t is not None:
                targets[(c, "")] = (targets.get((c, "")) or 0) + t
    else:
        rows = [(c, s) for c, _, s, _ in leaves]
        targets = {(c, s): t for c, _, s, t in leaves}
    groups = {(c, s): g for c, g, s, _ in leaves}
    known = set(rows)

    def key(category: str, subcategory: str) -> tuple[str, str]:
        k = (category, "" if by == "category" else subcategory)
        return k if k in known else (UNCLASSIFIED, "")

    sets = list(PromptSet.objects.filter(campaign=campaign).order_by("slug").values_list("id", "slug"))
    prompt_counts: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    long_counts: dict[tuple[str, str], int] = defaultdict(int)
    for set_id, category, subcategory, n, n_long in (
        PromptSetEntry.objects.filter(prompt_set__campaign=campaign)
        .values("prompt_set_id", "prompt__category", "prompt__subcategory")
        .annotate(n=Count("id"), n_long=Count("id", filter=Q(prompt__word_count__gt=LONG_PROMPT_WORDS)))
        .values_list("prompt_set_id", "prompt__category", "prompt__subcategory", "n", "n_long")
    ):
        k = key(category, subcategory)
        prompt_counts[k][set_id] += n
        long_counts[k] += n_long

    generators: dict[str, str] = {}
    item_counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    item_long: dict[tuple[str, str], int] = defaultdict(int)
    for name, media_type, category, subcategory, n, n_long in (
        Item.objects.filter(campaign=campaign)
        .values("generator__name", "generator__media_type", "prompt__category", "prompt__subcategory")
        .annotate(n=Count("id"), n_long=Count("id", filter=Q(prompt__word_count__gt=LONG_PROMPT_WORDS)))
        .values_list(
            "generator__name", "generator__media_type", "prompt__category", "prompt__subcategory", "n", "n_long"
        )
    ):
        generators[name] = media_type
        k = key(category, subcategory)
        item_counts[k][name] += n
        item_long[k] += n_long
    # Generators registered for the campaign count even before they have an item: all their cells are gaps.
    for name, media_type in GeneratorSpec.objects.filter(campaigns=campaign).values_list(
        "generator__name", "generator__media_type"
    ):
        generators.setdefault(name, media_type)
    if (UNCLASSIFIED, "") in prompt_counts or (UNCLASSIFIED, "") in item_counts:
        rows.append((UNCLASSIFIED, ""))
    gen_names = sorted(generators)

    prompt_rows: list[dict[str, Any]] = []
    item_rows: list[dict[str, Any]] = []
    for k in rows:
        total = sum(prompt_counts[k].values())
        target = targets.get(k)
        prompt_rows.append(
            {
                "category": k[0],
                "group": groups.get(k, ""),
                "subcategory": k[1],
                "by_set": {slug: prompt_counts[k].get(set_id, 0) for set_id, slug in sets},
                "prompts": total,
                "long": long_counts[k],
                "target": target,
                "gap": k[0] != UNCLASSIFIED and (total == 0 or (target is not None and total < target)),
            }
        )
        counts = {g: item_counts[k].get(g, 0) for g in gen_names}
        item_rows.append(
            {
                "category": k[0],
                "group": groups.get(k, ""),
                "subcategory": k[1],
                "by_generator": counts,
                "items": sum(counts.values()),
                "long": item_long[k],
                "prompts": total,
                "gaps": [g for g in gen_names if counts[g] == 0 and k[0] != UNCLASSIFIED],
            }
        )
    n_prompts = sum(r["prompts"] for r in prompt_rows)
    n_long = sum(r["long"] for r in prompt_rows)
    n_items = sum(r["items"] for r in item_rows)
    return {
        "campaign": campaign.slug,
        "taxonomy": taxonomy.slug,
        "by": by,
        "prompt_sets": [slug for _, slug in sets],
        "generators": [{"name": g, "media_type": generators[g]} for g in gen_names],
        "prompts": {
            "rows": prompt_rows,
            "total": n_prompts,
            "long": n_long,
            "long_share": round(n_long / n_prompts, 4) if n_prompts else None,
            "gaps": sum(r["gap"] for r in prompt_rows),
        },
        "items": {
            "rows": item_rows,
            "total": n_items,
            "long": sum(item_long.values()),
            "long_share": round(sum(item_long.values()) / n_items, 4) if n_items else None,
            "gaps": sum(len(r["gaps"]) for r in item_rows),
        },
    }


def coverage_csv(*, coverage: dict[str, Any], table: str = "items") -> str:
    """One table as CSV text: leaf columns, then one column per prompt set (prompts) or generator (items)."""
    buf = io.StringIO()
    writer = csv_safe.Writer(buf)  # names and categories are researchers' text: no spreadsheet formulas
    if table == "prompts":
        sets = coverage["prompt_sets"]
        writer.writerow(["category", "group", "subcategory", *sets, "prompts", "long", "long_share", "target", "gap"])
        for r in coverage["prompts"]["rows"]:
            writer.writerow(
                [
                    r["category"],
                    r["group"],
                    r["subcategory"],
                    *[r["by_set"][s] for s in sets],
                    r["prompts"],
                    r["long"],
                    round(r["long"] / r["prompts"], 4) if r["prompts"] else "",
                    "" if r["target"] is None else r["target"],
                    int(r["gap"]),
                ]
            )
    else:
        names = [g["name"] for g in coverage["generators"]]
        writer.writerow(["category", "group", "subcategory", *names, "items", "long", "long_share", "prompts", "gaps"])
        for r in coverage["items"]["rows"]:
            writer.writerow(
                [
                    r["category"],
                    r["group"],
                    r["subcategory"],
                    *[r["by_generator"][g] for g in names],
                    r["items"],
                    r["long"],
                    round(r["long"] / r["items"], 4) if r["items"] else "",
                    r["prompts"],
                    ";".join(r["gaps"]),
                ]
            )
    return buf.getvalue()
