"""Taxonomies: the paper's Table 7 built in (generation/taxonomies/qeval-table7.yaml), and campaigns' own.

A taxonomy file is YAML ({slug, name, description, entries: [{category, group, subcategory, keywords,
target}]}) or CSV (columns category, subcategory, optional group, keywords separated by ';', target).
Loading is all-or-nothing: a bad entry is refused with its position, and nothing is written.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction
from django.utils.text import slugify

from annotation.models import Campaign
from core.errors import Conflict, InvalidInput, NotFound

from ..models import Taxonomy, TaxonomyEntry

BUILTIN_DIR = Path(__file__).resolve().parents[1] / "taxonomies"
DEFAULT_SLUG = "qeval-table7"
MAX_LEN = 120


@dataclass
class TaxonomyData:
    slug: str
    name: str
    description: str = ""
    entries: list[dict[str, Any]] = field(default_factory=list)


def _keywords(value: Any, where: str) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [part for part in value.replace("|", ";").split(";")]
    if not isinstance(value, list):
        raise InvalidInput(f"{where}: keywords must be a list or a ';'-separated text")
    return [str(k).strip().lower() for k in value if str(k).strip()]


def _entries(raw: list[Any], label: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for n, entry in enumerate(raw, start=1):
        where = f"{label} entry {n}"
        if not isinstance(entry, dict):
            raise InvalidInput(f"{where}: each entry must be a mapping with category and subcategory")
        values = {k: str(entry.get(k) or "").strip() for k in ("category", "group", "subcategory")}
        for key in ("category", "subcategory"):
            if not values[key]:
                raise InvalidInput(f"{where}: empty {key}")
        for key, value in values.items():
            if len(value) > MAX_LEN:
                raise InvalidInput(f"{where}: {key} is longer than {MAX_LEN} characters")
        pair = (values["category"].casefold(), values["subcategory"].casefold())
        if pair in seen:
            raise InvalidInput(f"{where}: {values['category']} / {values['subcategory']} repeats entry {seen[pair]}")
        seen[pair] = n
        target = entry.get("target")
        if target not in (None, ""):
            try:
                target = int(target)
            except (TypeError, ValueError):
                raise InvalidInput(f"{where}: target must be a whole number, got {target!r}") from None
            if target < 0:
                raise InvalidInput(f"{where}: target must not be negative")
        else:
            target = None
        entries.append({**values, "keywords": _keywords(entry.get("keywords"), where), "target": target, "position": n})
    if not entries:
        raise InvalidInput(f"{label}: the taxonomy has no entries")
    return entries


def taxonomy_read(
    *, path: Path | str | None = None, text: str | None = None, name: str = "taxonomy.yaml", slug: str | None = None
) -> TaxonomyData:
    """Parse a taxonomy file (YAML or CSV, by its name's suffix). InvalidInput names the first problem."""
    label = Path(name if path is None else path).name
    if text is None:
        try:
            text = Path(path or "").read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise InvalidInput(f"taxonomy file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read {label}: {exc}") from None
    suffix = Path(label).suffix.lower()
    if suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{label}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
            raise InvalidInput(f"{label}: a YAML taxonomy is a mapping with a list under 'entries'")
        raw, meta = data["entries"], data
    elif suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        columns = [c.strip().lower() for c in reader.fieldnames or []]
        if "category" not in columns or "subcategory" not in columns:
            raise InvalidInput(f"{label} line 1: a CSV taxonomy needs the columns category and subcategory")
        raw = [{(k or "").strip().lower(): v for k, v in row.items()} for row in reader]
        meta = {}
    else:
        raise InvalidInput(f"{label}: a taxonomy file must be .yaml, .yml or .csv")
    slug = slugify(slug or meta.get("slug") or Path(label).stem)[:80]
    if not slug:
        raise InvalidInput(f"{label}: give the taxonomy a slug (letters, digits, dashes)")
    return TaxonomyData(
        slug=slug,
        name=str(meta.get("name") or slug)[:200],
        description=str(meta.get("description") or ""),
        entries=_entries(raw, label),
    )


def _write(taxonomy: Taxonomy, entries: list[dict[str, Any]]) -> None:
    TaxonomyEntry.objects.filter(taxonomy=taxonomy).delete()
    TaxonomyEntry.objects.bulk_create([TaxonomyEntry(taxonomy=taxonomy, **entry) for entry in entries])


@transaction.atomic
def taxonomy_sync_builtin() -> list[Taxonomy]:
    """Create or refresh the built-in taxonomies from generation/taxonomies/ (idempotent; migrations call it)."""
    out = []
    for path in sorted(BUILTIN_DIR.glob("*.yaml")):
        data = taxonomy_read(path=path)
        taxonomy, _ = Taxonomy.objects.update_or_create(
            slug=data.slug,
            defaults={"name": data.name, "description": data.description, "is_builtin": True, "campaign": None},
        )
        _write(taxonomy, data.entries)
        out.append(taxonomy)
    return out


@transaction.atomic
def taxonomy_import(*, campaign: Campaign, data: TaxonomyData) -> Taxonomy:
    """A campaign's own taxonomy. Re-importing the same slug for the same campaign replaces its entries,
    unless a prompt set already uses it with categories that would disappear (Conflict)."""
    existing = Taxonomy.objects.select_for_update().filter(slug=data.slug).first()
    if existing is not None and (existing.is_builtin or existing.campaign_id != campaign.pk):
        raise Conflict(f"taxonomy {data.slug!r} already exists (built in or another campaign's); choose another slug")
    if existing is not None and existing.prompt_sets.exists():
        kept = {(e["category"], e["subcategory"]) for e in data.entries}
        dropped = [
            f"{c} / {s}" for c, s in existing.entries.values_list("category", "subcategory") if (c, s) not in kept
        ]
        if dropped:
            raise Conflict(
                f"taxonomy {data.slug!r} is used by prompt sets; the new file drops {', '.join(dropped[:5])}"
            )
    taxonomy, _ = Taxonomy.objects.update_or_create(
        slug=data.slug,
        defaults={"name": data.name, "description": data.description, "campaign": campaign, "is_builtin": False},
    )
    _write(taxonomy, data.entries)
    return taxonomy


def taxonomy_get(*, slug: str | None = None, campaign: Campaign | None = None) -> Taxonomy:
    """A taxonomy by slug (default: the built-in one). A campaign's own taxonomy is usable in that campaign only."""
    slug = slug or DEFAULT_SLUG
    taxonomy = Taxonomy.objects.filter(slug=slug).first()
    if taxonomy is None and slug == DEFAULT_SLUG:
        taxonomy = next((t for t in taxonomy_sync_builtin() if t.slug == slug), None)
    if taxonomy is None:
        raise NotFound(f"taxonomy {slug!r} does not exist")
    if taxonomy.campaign_id is not None and campaign is not None and taxonomy.campaign_id != campaign.pk:
        raise InvalidInput(f"taxonomy {slug!r} belongs to another campaign")
    return taxonomy


class Leaves:
    """A taxonomy's leaves, for matching names as people write them (case and spacing do not matter)."""

    def __init__(self, taxonomy: Taxonomy):
        self.taxonomy = taxonomy
        self.entries = list(taxonomy.entries.order_by("position", "id"))
        self.categories: dict[str, str] = {}
        self.pairs: dict[tuple[str, str], TaxonomyEntry] = {}
        self.by_sub: dict[str, list[TaxonomyEntry]] = {}
        for e in self.entries:
            self.categories.setdefault(_key(e.category), e.category)
            self.pairs[(_key(e.category), _key(e.subcategory))] = e
            self.by_sub.setdefault(_key(e.subcategory), []).append(e)

    def resolve(self, category: str, subcategory: str) -> tuple[str, str]:
        """Canonical (category, subcategory); raises ValueError with a message naming the choices."""
        if not category and not subcategory:
            return "", ""
        if category and _key(category) not in self.categories:
            raise ValueError(
                f"category {category!r} is not in taxonomy {self.taxonomy.slug!r} "
                f"({', '.join(self.categories.values())})"
            )
        if not subcategory:
            return self.categories[_key(category)], ""
        if not category:
            matches = self.by_sub.get(_key(subcategory), [])
            if len(matches) == 1:
                return matches[0].category, matches[0].subcategory
            if not matches:
                raise ValueError(f"subcategory {subcategory!r} is not in taxonomy {self.taxonomy.slug!r}")
            raise ValueError(f"subcategory {subcategory!r} is in several categories; give the category too")
        entry = self.pairs.get((_key(category), _key(subcategory)))
        if entry is None:
            choices = [e.subcategory for e in self.entries if _key(e.category) == _key(category)]
            raise ValueError(
                f"subcategory {subcategory!r} is not under {self.categories[_key(category)]!r} ({', '.join(choices)})"
            )
        return entry.category, entry.subcategory


def _key(text: str) -> str:
    return " ".join(str(text).casefold().replace("_", " ").replace("-", " ").split())
