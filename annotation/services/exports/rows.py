"""Stream the rows of a dataset version: one dict per item with its scores per dimension.

One query over ItemScore joined to Item, Generator and Prompt, ordered by (item, dimension) so the
unique index (version, item, dimension) serves it, read with .iterator() (a server-side cursor on
PostgreSQL): memory stays flat however many items the version holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath

from ...models import DatasetVersion, ItemScore

_FIELDS = (
    "item_id",
    "item__item_id",
    "item__media",
    "item__media_type",
    "item__sha256",
    "item__generator__name",
    "item__prompt_id",
    "item__prompt__text",
    "item__prompt__category",
    "item__prompt__subcategory",
    "item__prompt__word_count",
    "item__is_golden",
    "item__split",
    "dimension",
    "mos",
    "std",
    "n",
    "ci95",
)
DEFAULT_EXT = {"image": ".png", "video": ".mp4"}


def media_relpath(*, sha256: str, media_name: str, media_type: str) -> str:
    """Where an item's media lies inside an export: media/<sha[:2]>/<sha>.<ext> (content-addressed)."""
    ext = PurePosixPath(media_name).suffix.lower() or DEFAULT_EXT.get(media_type, "")
    return f"media/{sha256[:2]}/{sha256}{ext}"


def version_rows(*, version: DatasetVersion, chunk_size: int = 2000) -> Iterator[dict]:
    qs = ItemScore.objects.filter(version=version).order_by("item_id", "dimension").values_list(*_FIELDS)
    current: dict | None = None
    for (
        pk,
        item_id,
        media,
        media_type,
        sha,
        generator,
        prompt_id,
        prompt,
        category,
        subcategory,
        words,
        is_golden,
        given_split,
        dim,
        mos,
        std,
        n,
        ci95,
    ) in qs.iterator(chunk_size=chunk_size):
        if current is None or current["pk"] != pk:
            if current is not None:
                yield current
            current = {
                "pk": pk,
                "item_id": item_id,
                "media_name": media,
                "media_type": media_type,
                "sha256": sha,
                "media_path": media_relpath(sha256=sha, media_name=media, media_type=media_type),
                "generator": generator,
                "prompt_id": prompt_id,
                "prompt": prompt,
                "category": category,
                "subcategory": subcategory,
                "prompt_words": words or len(prompt.split()),
                "is_golden": bool(is_golden),
                "given_split": given_split or None,
                "scores": {},
            }
        current["scores"][dim] = {"mos": mos, "std": std, "n": n, "ci95": ci95}
    if current is not None:
        yield current


def version_given_splits(*, version: DatasetVersion) -> dict[str, int]:
    """Items of the version per given split ('' = none): checked before an export with split 'given'."""
    from django.db.models import Count

    from ...models import Item

    item_ids = ItemScore.objects.filter(version=version).values("item_id")
    rows = Item.objects.filter(pk__in=item_ids).values("split").annotate(n=Count("id")).order_by()
    return {r["split"]: r["n"] for r in rows}


def version_item_keys(*, version: DatasetVersion) -> list[tuple[int, int]]:
    """(prompt_id, generator_id) of every item in the version, for the split assignment."""
    from ...models import Item

    item_ids = ItemScore.objects.filter(version=version).values("item_id")
    return list(
        Item.objects.filter(pk__in=item_ids).values_list("prompt_id", "generator_id").iterator(chunk_size=50_000)
    )
