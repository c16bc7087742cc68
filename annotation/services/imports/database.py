"""Phases B and E of an import, the database's part: B looks up, in bulk, item_ids already in the campaign and
generator names already used for the other media type; E writes generators, prompts and items in ONE
transaction with bulk_create in chunks (the caller has checked every row)."""

from __future__ import annotations

import hashlib
from typing import Any

from ...models import Campaign, Generator, Item, Job, MediaType, Prompt
from ..item_events import items_created
from ..media import media_name, thumbnail_name
from .manifest import Row, row_error

WRITE_CHUNK = 2000  # rows per bulk_create / IN (...) query
LOOKUP_CHUNK = 10000


def check_against_database(campaign: Campaign, rows: list[Row], label: str) -> None:
    existing: set[str] = set()
    ids = [row.item_id for row in rows]
    for start in range(0, len(ids), LOOKUP_CHUNK):
        existing.update(
            Item.objects.filter(campaign=campaign, item_id__in=ids[start : start + LOOKUP_CHUNK]).values_list(
                "item_id", flat=True
            )
        )
    names = {row.generator for row in rows}
    known_types = dict(Generator.objects.filter(name__in=names).values_list("name", "media_type"))
    for row in rows:
        if row.item_id in existing:
            raise row_error(label, row.line, row.item_id, f"item_id is already in campaign {campaign.slug!r}")
        known = known_types.get(row.generator)
        if known and known != row.media_type:
            raise row_error(
                label,
                row.line,
                row.item_id,
                f"generator {row.generator!r} already exists as a "
                f"{known} generator; a generator name must be used for one media type only",
            )


def prompt_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_rows(campaign: Campaign, rows: list[Row], job: Job | None, files_stored: int) -> dict[str, Any]:
    """Generators, prompts and items in one transaction. The caller has checked every row."""
    names = {row.generator: row.media_type for row in rows}
    generators = {g.name: g for g in Generator.objects.filter(name__in=names)}
    new_generators = [Generator(name=n, media_type=t) for n, t in names.items() if n not in generators]
    Generator.objects.bulk_create(new_generators)
    generators.update({g.name: g for g in Generator.objects.filter(name__in=[g.name for g in new_generators])})

    prompt_rows: dict[str, Row] = {}
    for row in rows:
        prompt_rows.setdefault(prompt_sha(row.prompt), row)
    shas = list(prompt_rows)
    prompt_ids: dict[str, int] = {}
    for start in range(0, len(shas), LOOKUP_CHUNK):
        prompt_ids.update(
            Prompt.objects.filter(text_sha256__in=shas[start : start + LOOKUP_CHUNK]).values_list("text_sha256", "id")
        )
    missing = [sha for sha in shas if sha not in prompt_ids]
    for start in range(0, len(missing), WRITE_CHUNK):
        chunk = missing[start : start + WRITE_CHUNK]
        Prompt.objects.bulk_create(
            [
                Prompt(
                    text=prompt_rows[sha].prompt,
                    text_sha256=sha,
                    category=prompt_rows[sha].category,
                    subcategory=prompt_rows[sha].subcategory,
                    word_count=len(prompt_rows[sha].prompt.split()),
                )
                for sha in chunk
            ]
        )
        prompt_ids.update(Prompt.objects.filter(text_sha256__in=chunk).values_list("text_sha256", "id"))

    created_ids: list[int] = []
    for start in range(0, len(rows), WRITE_CHUNK):
        created_ids += [
            item.pk
            for item in Item.objects.bulk_create(
                [
                    Item(
                        campaign=campaign,
                        item_id=row.item_id,
                        media_type=row.media_type,
                        media=media_name(row.probed.sha256, row.probed.ext),
                        thumbnail=thumbnail_name(row.probed.sha256),
                        width=row.probed.width,
                        height=row.probed.height,
                        duration=row.probed.duration,
                        fps=row.probed.fps,
                        sha256=row.probed.sha256,
                        prompt_id=prompt_ids[prompt_sha(row.prompt)],
                        split=row.split,
                        generator=generators[row.generator],
                        target=campaign.target_for(row.media_type),
                    )
                    for row in rows[start : start + WRITE_CHUNK]
                ]
            )
        ]
    items_created(campaign=campaign, item_ids=created_ids)
    result = {
        "campaign": campaign.slug,
        "items_created": len(rows),
        "images": sum(row.media_type == MediaType.IMAGE for row in rows),
        "videos": sum(row.media_type == MediaType.VIDEO for row in rows),
        "generators_created": len(new_generators),
        "prompts_created": len(missing),
        "files_stored": files_stored,
    }
    if job is not None:
        # Recorded in the same transaction: a job re-run after its worker died sees it and stops.
        Job.objects.filter(pk=job.pk).update(result=result)
    return result
