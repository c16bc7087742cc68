"""The exports as they were written before issue #19, one dict and one json.dumps / csv row per record:
the reference the chunked writers must match byte for byte (test_bulk_portable.py).

Deliberately plain: the ORM row by row, PurePosixPath for the media path, csv_safe.DictWriter, json.dumps.
"""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from annotation.models import ItemScore
from annotation.services import csv_safe
from annotation.services.exports.mos_table import COLUMNS
from training.scorer.prompts import context_prompt, level_from_mos

DEFAULT_EXT = {"image": ".png", "video": ".mp4"}


def reference_rows(version) -> list[dict]:
    rows: dict[int, dict] = {}
    for s in ItemScore.objects.filter(version=version).select_related("item__generator", "item__prompt"):
        item = s.item
        ext = PurePosixPath(str(item.media.name)).suffix.lower() or DEFAULT_EXT.get(item.media_type, "")
        row = rows.setdefault(
            item.pk,
            {
                "item_id": item.item_id,
                "media_type": item.media_type,
                "media_path": f"media/{item.sha256[:2]}/{item.sha256}{ext}",
                "generator": item.generator.name,
                "prompt_id": item.prompt_id,
                "prompt": item.prompt.text,
                "category": item.prompt.category,
                "subcategory": item.prompt.subcategory,
                "prompt_words": item.prompt.word_count or len(item.prompt.text.split()),
                "is_golden": bool(item.is_golden),
                "given_split": item.split or None,
                "scores": {},
            },
        )
        row["scores"][s.dimension] = {"mos": s.mos, "std": s.std, "n": s.n, "ci95": s.ci95}
    return [rows[pk] for pk in sorted(rows)]


def table_row(row: dict, split, with_split: bool) -> dict:
    out = {k: row[k] for k in ("item_id", "media_path", "media_type", "generator", "prompt", "category")}
    out["subcategory"] = row["subcategory"]
    out["word_count"] = row["prompt_words"]
    out["is_golden"] = row["is_golden"]
    for dim in ("quality", "alignment"):
        s = row["scores"].get(dim) or {}
        for key in ("mos", "std", "n", "ci95"):
            out[f"{dim}_{key}"] = s.get(key)
    if with_split:
        out["split"] = split
    return out


def csv_text(rows, splits, with_split: bool) -> str:
    buf = io.StringIO(newline="")
    w = csv_safe.DictWriter(buf, fieldnames=list(COLUMNS) + (["split"] if with_split else []))
    w.writeheader()
    for row, split in zip(rows, splits):
        w.writerow(table_row(row, split, with_split))
    return buf.getvalue()


def jsonl_text(rows, splits, with_split: bool) -> str:
    return "".join(
        json.dumps(table_row(row, split, with_split), ensure_ascii=False) + "\n" for row, split in zip(rows, splits)
    )


def sft_records(row: dict, split):
    for dim in ("quality", "alignment"):
        score = row["scores"].get(dim)
        if score is None:
            continue
        level = level_from_mos(score["mos"])
        yield {
            "item_id": row["item_id"],
            "dimension": dim,
            "media_type": row["media_type"],
            "media": row["media_path"],
            "generator": row["generator"],
            "prompt": row["prompt"],
            "prompt_words": row["prompt_words"],
            "word_count": row["prompt_words"],
            "category": row["category"],
            "subcategory": row["subcategory"],
            "is_golden": row["is_golden"],
            "messages": [
                {
                    "role": "user",
                    "content": context_prompt(media_type=row["media_type"], dimension=dim, prompt=row["prompt"]),
                },
                {"role": "assistant", "content": level},
            ],
            "level": level,
            "mos": score["mos"],
            "split": split,
        }


def tool_record(rec: dict, row: dict) -> dict:
    return {
        "messages": rec["messages"],
        ("videos" if row["media_type"] == "video" else "images"): [rec["media"]],
        **{k: rec[k] for k in ("item_id", "dimension", "mos", "category", "subcategory", "word_count", "is_golden")},
    }


def sft_texts(rows, splits, tool: bool) -> dict:
    """{split: file text} of the SFT layouts."""
    out: dict = {}
    for row, split in zip(rows, splits):
        for rec in sft_records(row, split):
            line = json.dumps(tool_record(rec, row) if tool else rec, ensure_ascii=False) + "\n"
            out.setdefault(split, []).append(line)
    return {split: "".join(lines) for split, lines in out.items()}


def assign_splits(keys, ratios, seed):
    """assign_splits as it was before issue #19 (Counters), the reference of the faster one."""
    names = list(ratios)
    per_prompt: dict[int, Counter] = defaultdict(Counter)
    gen_total: Counter = Counter()
    for prompt_id, generator_id in keys:
        per_prompt[prompt_id][generator_id] += 1
        gen_total[generator_id] += 1
    total = sum(gen_total.values())
    prompts = sorted(per_prompt)
    rng = np.random.default_rng(seed)
    tie = rng.permutation(len(prompts))
    sizes = np.array([sum(per_prompt[p].values()) for p in prompts], dtype=np.int64)
    order: Any = np.lexsort((tie, -sizes)) if prompts else []
    assigned: dict[str, Counter] = {s: Counter() for s in names}
    assigned_total = dict.fromkeys(names, 0)
    result: dict[int, str] = {}
    for idx in order:
        prompt_id = prompts[idx]
        counts = per_prompt[prompt_id]
        # Only splits still below their overall share compete (so tiny generators, whose own
        # deficits always favour the largest split, cannot starve the small splits).
        open_ = [s for s in names if ratios[s] * total - assigned_total[s] > 0] or names
        best, best_key = open_[0], None
        for s in open_:
            rank = names.index(s)
            r = ratios[s]
            need = sum(c * (r * gen_total[g] - assigned[s][g]) / gen_total[g] for g, c in counts.items())
            key = (need, r * total - assigned_total[s], -rank)
            if best_key is None or key > best_key:
                best, best_key = s, key
        result[prompt_id] = best
        for g, c in counts.items():
            assigned[best][g] += c
        assigned_total[best] += sum(counts.values())
    return result
