"""SFT conversations for the scorer: one record per item x dimension.

`sft` is the contract training/scorer/data.py reads (keep it exactly):
    {"item_id", "dimension", "media_type", "media": "media/<sha[:2]>/<sha>.<ext>", "generator", "prompt",
     "prompt_words", "word_count", "category", "subcategory", "is_golden",
     "messages": [{"role": "user", "content": <context prompt>}, {"role": "assistant", "content": <level word>}],
     "level", "mos", "split"}
(`word_count` = `prompt_words`, the name the MOS tables use; category/subcategory: the paper's Table 7.)
The user content is training.scorer.prompts.context_prompt (the released checkpoint's exact text, tag
<image>/<video> first) and the level word is level_from_mos (five equal bins on 1-5): the single
source of truth for both, shared with the trainer.

`sft-sharegpt` (LLaMA-Factory, sharegpt format with OpenAI-style role/content tags) and `sft-swift`
(ms-swift) carry the same conversation with `images`/`videos` lists instead of our extra fields.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from training.scorer.prompts import context_prompt, level_from_mos

DIMENSION_ORDER = ("quality", "alignment")


def sft_records(row: dict, split: str | None):
    for dim in DIMENSION_ORDER:
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


class _SplitFiles:
    """One JSONL file per split (or one file when no split was asked), opened lazily."""

    stem = "sft"

    def __init__(self, root: Path, splits: list[str] | None):
        self.root = root
        self.splits = splits
        self._fh: dict[str | None, TextIO] = {}
        self.rows: dict[str | None, int] = {}
        for s in list(splits) if splits else [None]:  # every asked split gets its file, even if it ends up empty
            self._open(s)

    def name(self, split: str | None) -> str:
        return f"{self.stem}.jsonl" if split is None else f"{self.stem}_{split}.jsonl"

    def _open(self, split):
        self._fh[split] = open(self.root / self.name(split), "w", encoding="utf-8")
        self.rows[split] = 0

    def emit(self, record: dict, split: str | None) -> None:
        self._fh[split].write(json.dumps(record, ensure_ascii=False) + "\n")
        self.rows[split] += 1

    def close(self) -> None:
        for fh in self._fh.values():
            fh.close()

    def files(self) -> list[dict]:
        return [{"path": self.name(s), "split": s, "rows": n} for s, n in self.rows.items()]


class SftWriter(_SplitFiles):
    stem = "sft"

    def write(self, row: dict, split: str | None) -> None:
        for rec in sft_records(row, split):
            self.emit(rec, split)


def _media_key(row: dict) -> str:
    return "videos" if row["media_type"] == "video" else "images"


def _tool_record(rec: dict, row: dict) -> dict:
    """LLaMA-Factory / ms-swift record: the conversation and media, plus our analysis fields (both tools read
    only the columns they know)."""
    return {
        "messages": rec["messages"],
        _media_key(row): [rec["media"]],
        **{k: rec[k] for k in ("item_id", "dimension", "mos", "category", "subcategory", "word_count", "is_golden")},
    }


class SharegptWriter(_SplitFiles):
    """LLaMA-Factory: {"messages": [...], "images"|"videos": [path]} plus dataset_info.json."""

    stem = "sharegpt"

    def write(self, row: dict, split: str | None) -> None:
        for rec in sft_records(row, split):
            self.emit(_tool_record(rec, row), split)

    def close(self) -> None:
        super().close()
        info = {}
        for split in self.rows:
            info[f"qeval_{split or 'all'}"] = {
                "file_name": self.name(split),
                "formatting": "sharegpt",
                "columns": {"messages": "messages", "images": "images", "videos": "videos"},
                "tags": {
                    "role_tag": "role",
                    "content_tag": "content",
                    "user_tag": "user",
                    "assistant_tag": "assistant",
                },
            }
        (self.root / "dataset_info.json").write_text(json.dumps(info, indent=2) + "\n")

    def files(self) -> list[dict]:
        return super().files() + [{"path": "dataset_info.json", "split": None, "rows": len(self.rows)}]


class SwiftWriter(_SplitFiles):
    """ms-swift: {"messages": [...], "images"|"videos": [path]}; the <image>/<video> tag is in the user turn."""

    stem = "swift"

    def write(self, row: dict, split: str | None) -> None:
        for rec in sft_records(row, split):
            self.emit(_tool_record(rec, row), split)
