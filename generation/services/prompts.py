"""Prompt sets: import prompts from CSV or JSONL into a campaign's set, all or nothing.

A file has a `text` column (or `prompt`), and optional `category`, `subcategory` and `tags` (separated by
';' or '|' in CSV; a list or a text in JSONL). Every row is checked before anything is written, and the
first bad row stops the import with one line naming it: empty text, text over QEVAL_MAX_PROMPT_CHARS, a
category or subcategory not in the set's taxonomy, or a category that contradicts the one an existing
prompt already has.

Deduplication (not an error, counted in the result): a row whose exact text (stripped) or normalised text
(Unicode NFKC, case folded, runs of spaces and punctuation collapsed) was seen on an earlier row or is
already in the set is skipped. Words are counted as imports count them (whitespace-separated); prompts of
more than 25 words are long (the paper's V2S cut), marked in every view.

Prompts are `annotation.Prompt` rows, shared platform-wide by the sha256 of their text (as imports share
them): an existing prompt keeps its category, and gets the given one when it had none.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.text import slugify

from annotation.models import Campaign, Job, Prompt
from annotation.services.campaigns import campaign_get
from annotation.services.jobs import Progress
from core.errors import NUL_IN_ROW, InvalidInput, contains_nul

from ..models import LONG_PROMPT_WORDS, PromptClassification, PromptSet, PromptSetEntry, Taxonomy
from ..selectors import prompt_set_get
from .classify import prompts_classify
from .taxonomy import Leaves, taxonomy_get

MAX_TAGS = 50
CHUNK = 2000
TEXT_COLUMNS = ("text", "prompt")
csv.field_size_limit(10 * 1024 * 1024)
_PUNCT_RE = re.compile(r"[\s\W_]+", re.UNICODE)


def text_sha256(text: str) -> str:
    """The key annotation.Prompt is unique on (imports use the same)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def text_normalize(text: str) -> str:
    """What makes two prompts "the same" beyond exact text: NFKC, case folded, every run of spaces and
    punctuation one space. "A red cube." and "a  red cube" are the same; "a red cube" and "a blue cube" not."""
    return _PUNCT_RE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def word_count(text: str) -> int:
    return len(text.split())


def is_long(words: int) -> bool:
    return words > LONG_PROMPT_WORDS


@dataclass(slots=True)
class PromptRow:
    line: int
    text: str
    category: str = ""
    subcategory: str = ""
    tags: list[str] = field(default_factory=list)


def _records(path: Path, label: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    label, suffix = label or path.name, path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise InvalidInput(f"{label}: a prompt file must be .csv or .jsonl")
    try:
        fh = open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InvalidInput(f"prompt file not found: {path}") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    line = 1
    try:
        with fh:
            if suffix == ".csv":
                reader = csv.reader(fh)
                header = next(reader, None)
                if header is None:
                    raise InvalidInput(f"{label}: the file is empty")
                columns = [h.strip().lower() for h in header]
                if not any(c in columns for c in TEXT_COLUMNS):
                    raise InvalidInput(
                        f"{label} line 1: no 'text' (or 'prompt') column; columns are text, category, subcategory, tags"
                    )
                line = reader.line_num
                for values in reader:
                    line, start = reader.line_num, line + 1
                    if not any(v.strip() for v in values):
                        continue
                    if len(values) != len(columns):
                        raise InvalidInput(f"{label} line {start}: expected {len(columns)} fields, found {len(values)}")
                    if contains_nul(values):
                        raise InvalidInput(f"{label} line {start}: {NUL_IN_ROW}")
                    yield start, dict(zip(columns, values))
            else:
                for line, text in enumerate(fh, start=1):
                    if not text.strip():
                        continue
                    try:
                        record = json.loads(text)
                    except json.JSONDecodeError as exc:
                        raise InvalidInput(f"{label} line {line}: not valid JSON ({exc.msg})") from None
                    if not isinstance(record, dict):
                        raise InvalidInput(f"{label} line {line}: each line must be a JSON object")
                    if contains_nul(record):
                        raise InvalidInput(f"{label} line {line}: {NUL_IN_ROW}")
                    yield line, {str(k).strip().lower(): v for k, v in record.items()}
    except UnicodeDecodeError:
        raise InvalidInput(f"{label} line {line + 1}: the file is not UTF-8 text") from None
    except csv.Error as exc:
        raise InvalidInput(f"{label} line {line + 1}: cannot parse CSV ({exc})") from None


def _tags(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, list):
        parts = value
    elif isinstance(value, str):
        parts = re.split(r"[;|]", value)
    else:
        raise ValueError("tags must be a list or a text separated by ';'")
    tags = []
    for part in parts:
        if isinstance(part, (dict, list)):
            raise ValueError("each tag must be a text")
        tag = str(part).strip()
        if tag and tag not in tags:
            if len(tag) > 60:
                raise ValueError(f"tag {tag[:20]!r}... is longer than 60 characters")
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ValueError(f"more than {MAX_TAGS} tags")
    return tags


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise ValueError(f"{name} must be text, not a JSON object or list")
    return str(value).strip()


def prompts_read(*, path: Path, leaves: Leaves, label: str | None = None) -> list[PromptRow]:
    """Every row of the file, checked against the taxonomy (InvalidInput names the first bad row, by `label`:
    the file's name as the researcher knows it, for uploads kept under another name)."""
    label, rows = label or path.name, []
    for line, record in _records(path, label):
        try:
            text = next((_text(record[c], c) for c in TEXT_COLUMNS if c in record), None)
            if text is None:
                raise ValueError("missing field 'text'")
            if not text:
                raise ValueError("empty text")
            if len(text) > settings.QEVAL_MAX_PROMPT_CHARS:
                raise ValueError(
                    f"text is {len(text)} characters, more than the limit of {settings.QEVAL_MAX_PROMPT_CHARS} "
                    "(QEVAL_MAX_PROMPT_CHARS)"
                )
            category, subcategory = leaves.resolve(
                _text(record.get("category"), "category"), _text(record.get("subcategory"), "subcategory")
            )
            rows.append(
                PromptRow(
                    line=line, text=text, category=category, subcategory=subcategory, tags=_tags(record.get("tags"))
                )
            )
        except ValueError as exc:
            raise InvalidInput(f"{label} line {line}: {exc}") from None
    if not rows:
        raise InvalidInput(f"{label}: the file has no prompts")
    return rows


def prompt_set_ensure(*, campaign: Campaign, name: str, taxonomy_slug: str | None = None, created_by=None) -> PromptSet:
    """The campaign's set named `name` (its slug), created with the taxonomy if new. An existing set keeps its
    taxonomy: naming a different one is an error."""
    slug = slugify(name)[:80]
    if not slug:
        raise InvalidInput(f"prompt set name {name!r} has no letters or digits")
    existing = PromptSet.objects.select_related("taxonomy").filter(campaign=campaign, slug=slug).first()
    if existing is not None:
        if taxonomy_slug and existing.taxonomy.slug != taxonomy_slug:
            raise InvalidInput(f"prompt set {slug!r} uses taxonomy {existing.taxonomy.slug!r}, not {taxonomy_slug!r}")
        return existing
    taxonomy = taxonomy_get(slug=taxonomy_slug, campaign=campaign)
    prompt_set, _ = PromptSet.objects.get_or_create(
        campaign=campaign, slug=slug, defaults={"name": name[:200], "taxonomy": taxonomy, "created_by": created_by}
    )
    return prompt_set


def prompts_import(
    *,
    prompt_set: PromptSet,
    path: Path,
    progress: Progress | None = None,
    job: Job | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """Import a prompt file into `prompt_set`: all rows or nothing. Returns the counts (see module doc)."""
    path = Path(path)
    label = label or path.name
    if progress:
        progress.update(0, "reading prompts", force=True)
    rows = prompts_read(path=path, leaves=Leaves(prompt_set.taxonomy), label=label)
    if progress:
        progress.set_total(len(rows), f"checking {len(rows)} prompts")

    kept: list[tuple[PromptRow, str, str]] = []
    exact_seen: dict[str, int] = {}
    norm_seen: dict[str, int] = {}
    dup_exact = dup_norm = 0
    examples: list[str] = []
    for row in rows:
        sha, nsha = text_sha256(row.text), text_sha256(text_normalize(row.text))
        if sha in exact_seen or nsha in norm_seen:
            first = exact_seen.get(sha) or norm_seen[nsha]
            if sha in exact_seen:
                dup_exact += 1
            else:
                dup_norm += 1
            if len(examples) < 5:
                examples.append(f"line {row.line} repeats line {first}")
            continue
        exact_seen[sha], norm_seen[nsha] = row.line, row.line
        kept.append((row, sha, nsha))

    with transaction.atomic():
        # Lock the set: two imports into one set must not both pass the "already in the set" check.
        PromptSet.objects.select_for_update().get(pk=prompt_set.pk)
        in_set: set[str] = set()
        nshas = [n for _, _, n in kept]
        for start in range(0, len(nshas), CHUNK):
            in_set.update(
                PromptSetEntry.objects.filter(
                    prompt_set=prompt_set, normalized_sha256__in=nshas[start : start + CHUNK]
                ).values_list("normalized_sha256", flat=True)
            )
        new = [(row, sha, nsha) for row, sha, nsha in kept if nsha not in in_set]

        shas = [sha for _, sha, _ in new]
        existing: dict[str, tuple[int, str, str]] = {}
        for start in range(0, len(shas), CHUNK):
            for pk, s, cat, sub in Prompt.objects.filter(text_sha256__in=shas[start : start + CHUNK]).values_list(
                "id", "text_sha256", "category", "subcategory"
            ):
                existing[s] = (pk, cat, sub)
        for row, sha, _ in new:  # a given category may not contradict an existing prompt's
            if sha in existing and row.category:
                _, cat, sub = existing[sha]
                if cat and (cat != row.category or (sub and row.subcategory and sub != row.subcategory)):
                    raise InvalidInput(
                        f"{label} line {row.line}: this prompt exists already with category "
                        f"{cat!r} / {sub!r}; leave its category empty or give the same one"
                    )
        missing = [(row, sha) for row, sha, _ in new if sha not in existing]
        Prompt.objects.bulk_create(
            [
                Prompt(
                    text=row.text,
                    text_sha256=sha,
                    category=row.category,
                    subcategory=row.subcategory,
                    word_count=word_count(row.text),
                )
                for row, sha in missing
            ],
            batch_size=CHUNK,
            ignore_conflicts=True,
        )  # an import may have created one meanwhile: keep it
        ids: dict[str, int] = {s: v[0] for s, v in existing.items()}
        for start in range(0, len(shas), CHUNK):
            ids.update(
                Prompt.objects.filter(text_sha256__in=shas[start : start + CHUNK]).values_list("text_sha256", "id")
            )
        # Prompts that had no category get the given one.
        fill = [(ids[sha], row) for row, sha, _ in new if row.category and sha in existing and not existing[sha][1]]
        for pk, row in fill:
            Prompt.objects.filter(pk=pk, category="").update(category=row.category, subcategory=row.subcategory)
        PromptSetEntry.objects.bulk_create(
            [
                PromptSetEntry(
                    prompt_set=prompt_set,
                    prompt_id=ids[sha],
                    normalized_sha256=nsha,
                    tags=row.tags,
                    source_line=row.line,
                )
                for row, sha, nsha in new
            ],
            batch_size=CHUNK,
        )
        given = {ids[sha]: row for row, sha, _ in new if row.category and (sha not in existing or not existing[sha][1])}
        PromptClassification.objects.filter(prompt_id__in=list(given)).delete()
        PromptClassification.objects.bulk_create(
            [
                PromptClassification(
                    prompt_id=pk,
                    method=PromptClassification.Method.GIVEN,
                    taxonomy=prompt_set.taxonomy,
                    detail={"file": label, "line": row.line},
                )
                for pk, row in given.items()
            ],
            batch_size=CHUNK,
        )
        result = {
            "prompt_set": prompt_set.slug,
            "campaign": prompt_set.campaign.slug,
            "rows": len(rows),
            "added": len(new),
            "duplicates_exact": dup_exact,
            "duplicates_normalised": dup_norm,
            "already_in_set": len(kept) - len(new),
            "duplicate_examples": examples,
            "prompts_created": len(missing),
            "long_prompts": sum(is_long(word_count(row.text)) for row, _, _ in new),
            "without_category": sum(not row.category for row, _, _ in new),
        }
        if job is not None:
            Job.objects.filter(pk=job.pk).update(result=result)  # a repeat of this job sees it and stops
    if progress:
        progress.update(len(rows), "done", force=True)
    return result


def prompts_import_job(*, job: Job, progress: Progress) -> dict[str, Any]:
    """Job runner for kind "prompts_import". params: {"campaign", "prompt_set", "taxonomy", "path", "classify",
    "remove_after"}: a file on a shared volume (or an upload kept in storage until the job ends)."""
    if job.result.get("added") is not None:
        return job.result
    params = job.params
    campaign = job.campaign or campaign_get(slug=params["campaign"])
    try:
        with transaction.atomic():  # a new set is kept only when its first import succeeds
            prompt_set = prompt_set_ensure(
                campaign=campaign,
                name=params["prompt_set"],
                taxonomy_slug=params.get("taxonomy"),
                created_by=job.created_by,
            )
            result = prompts_import(
                prompt_set=prompt_set, path=Path(params["path"]), progress=progress, job=job, label=params.get("label")
            )
        if params.get("classify"):
            result["classified"] = prompts_classify(prompt_set=prompt_set, method=params["classify"])
        return result
    finally:
        if params.get("remove_after"):
            Path(params["path"]).unlink(missing_ok=True)


def prompt_set_entries(
    *, prompt_set: PromptSet, category: str = "", subcategory: str = "", tag: str = "", long_only: bool = False
):
    """Entries of a set, filtered (the selection a generation job makes from)."""
    qs = PromptSetEntry.objects.filter(prompt_set=prompt_set)
    if category:
        qs = qs.filter(prompt__category__iexact=category)
    if subcategory:
        qs = qs.filter(prompt__subcategory__iexact=subcategory)
    if tag:
        from django.db import connection

        # JSON containment is PostgreSQL's; SQLite (the embedded default) matches the quoted tag in the text.
        qs = (
            qs.filter(tags__contains=[tag])
            if connection.vendor == "postgresql"
            else qs.filter(tags__icontains=json.dumps(tag))
        )
    if long_only:
        qs = qs.filter(prompt__word_count__gt=LONG_PROMPT_WORDS)
    return qs


__all__ = ["Taxonomy", "prompt_set_ensure", "prompt_set_get", "prompts_import", "text_normalize"]
