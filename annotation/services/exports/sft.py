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
import operator
from pathlib import Path

from training.scorer.prompts import context_prompt, level_from_mos

from .jsonlines import encode_basestring, json_column, json_lines, json_members, line_template
from .manifest import HashedFile

DIMENSION_ORDER = ("quality", "alignment")
WRITE_ITEMS = 2000  # items' lines joined, encoded and written at once (about 5 MB)


_SENTINEL = "\x00"  # stands for the prompt when the context prompt's template is split around it


def _messages_template(media_type: str, dim: str) -> tuple[str, int]:
    """The `messages` member as a %-template with the JSON-escaped prompt for each %s of the context
    prompt and the level word last, and how many times the prompt occurs (escaping is per character, so
    the escaped parts around the escaped prompt are the escaped whole)."""
    parts = context_prompt(media_type=media_type, dimension=dim, prompt=_SENTINEL).split(_SENTINEL)
    text = "%s".join(encode_basestring(part)[1:-1].replace("%", "%%") for part in parts)
    return '[{"role": "user", "content": "' + text + '"}, {"role": "assistant", "content": %s}]', len(parts) - 1


def _messages(media_types: list[str], dim: str, prompts_escaped: list[str], levels: list[str]) -> list[str]:
    """The `messages` member of each record as JSON text: the user turn (the scorer's own context prompt,
    training.scorer.prompts.context_prompt) and the assistant's level word."""
    templates = {mt: _messages_template(mt, dim) for mt in set(media_types)}
    words = {level: encode_basestring(level) for level in set(levels)}
    if all(k == 1 for _, k in templates.values()):  # the prompt once in each template: one %-format a record
        single = {mt: template for mt, (template, _) in templates.items()}
        return [single[mt] % (p, words[level]) for mt, p, level in zip(media_types, prompts_escaped, levels)]
    return [
        templates[mt][0] % ((p,) * templates[mt][1] + (words[level],))
        for mt, p, level in zip(media_types, prompts_escaped, levels)
    ]


def _sft_dimension_lines(
    dim: str,
    media_types: list[str],
    item_ids: list[str],
    shared: list[str],
    prompts_escaped: list[str],
    levels: list[str],
    mos: list[str],
    splits: list[str],
) -> list[str]:
    """The `sft` lines of one dimension, one %-format a record: the line's template holds the dimension and
    the `messages` template of the item's media type (one format instead of two: the user turn is most of
    the 256 MB of a 100K-item export). Members in the order of the record: item_id, dimension, the shared
    item members, messages, level, mos, split."""
    head = line_template(["item_id", "dimension", None])[:-2] % ("%s", encode_basestring(dim).replace("%", "%%"), "%s")
    tail = line_template(["level", "mos", "split"])[1:]
    lines_by_type = {}
    for media_type in set(media_types):
        messages, times = _messages_template(media_type, dim)
        lines_by_type[media_type] = (head + ', "messages": ' + messages + ", " + tail, times)
    words = {level: encode_basestring(level) for level in set(levels)}
    if all(times == 1 for _, times in lines_by_type.values()):  # the prompt once in each template
        single = {mt: template for mt, (template, _) in lines_by_type.items()}
        return [
            single[mt] % (iid, sh, p, words[lv], words[lv], m, sp)
            for mt, iid, sh, p, lv, m, sp in zip(media_types, item_ids, shared, prompts_escaped, levels, mos, splits)
        ]
    return [
        lines_by_type[mt][0] % (iid, sh, *((p,) * lines_by_type[mt][1]), words[lv], words[lv], m, sp)
        for mt, iid, sh, p, lv, m, sp in zip(media_types, item_ids, shared, prompts_escaped, levels, mos, splits)
    ]


# The item's members of a record, JSON text computed once per chunk for both dimensions: (key, column, kind).
_ITEM_JSON = (
    ("item_id", "item_id", "str"),
    ("media_type", "media_type", "str"),
    ("media", "media_path", "str"),
    ("generator", "generator", "str"),
    ("prompt", "prompt", "str"),
    ("prompt_words", "prompt_words", "int"),
    ("category", "category", "str"),
    ("subcategory", "subcategory", "str"),
    ("is_golden", "is_golden", "bool"),
)


def sft_lines(chunk: dict[str, list], splits: list, tool: bool = False) -> list[str]:
    """The JSON lines of each item of a chunk (its records, its dimensions in DIMENSION_ORDER, joined;
    '' when it has no score). A dimension the item has no score on gives no record. tool: the
    LLaMA-Factory / ms-swift layout instead of ours. Each line is json.dumps(record, ensure_ascii=False)."""
    n = len(splits)
    item = {key: json_column(chunk[col], kind) for key, col, kind in _ITEM_JSON}
    # The members every dimension's record of an item shares, laid out once per item.
    shared = [] if tool else json_members([(key, item[col]) for key, col in _SHARED])
    split_json = json_column(splits, "str")
    prompts_all = [p[1:-1] for p in item["prompt"]]  # the escaped prompt without its quotes, for the user turn
    per_dim: list[list[str]] = []
    for dim in DIMENSION_ORDER:
        mos_all = chunk.get(f"{dim}_mos") or [None] * n
        rows = [i for i, m in enumerate(mos_all) if m is not None]
        if not rows:
            continue

        def pick(col: list, rows: list[int] = rows) -> list:
            return col if len(rows) == n else [col[i] for i in rows]

        mos = pick(mos_all)
        levels = [level_from_mos(m) for m in mos]
        prompts = pick(prompts_all)
        if tool:
            messages = _messages(pick(chunk["media_type"]), dim, prompts, levels)
            dimension = [encode_basestring(dim)] * len(rows)
            cols = {key: pick(values) for key, values in item.items()}
            lines = json_lines(_tool_fields(cols, dimension, mos, messages, pick(chunk["media_type"])))
        else:
            lines = _sft_dimension_lines(
                dim,
                pick(chunk["media_type"]),
                pick(item["item_id"]),
                pick(shared),
                prompts,
                levels,
                json_column(mos, "float"),
                pick(split_json),
            )
        if len(rows) < n:
            full = [""] * n
            for i, line in zip(rows, lines):
                full[i] = line
            lines = full
        per_dim.append(lines)
    if not per_dim:
        return [""] * n
    texts = per_dim[0]
    for lines in per_dim[1:]:
        texts = list(map(operator.add, texts, lines))
    return texts


# The members between `dimension` and `messages` in an `sft` record, the same for every dimension of an
# item: (key, the item's JSON column).
_SHARED = (
    ("media_type", "media_type"),
    ("media", "media"),
    ("generator", "generator"),
    ("prompt", "prompt"),
    ("prompt_words", "prompt_words"),
    ("word_count", "prompt_words"),
    ("category", "category"),
    ("subcategory", "subcategory"),
    ("is_golden", "is_golden"),
)


def _tool_fields(cols: dict, dimension: list, mos: list, messages: list, media_types: list) -> list:
    """LLaMA-Factory / ms-swift record: the conversation and media, plus our analysis fields (both tools read
    only the columns they know)."""
    media = [
        ('"videos": [' if mt == "video" else '"images": [') + path + "]" for mt, path in zip(media_types, cols["media"])
    ]
    return [
        ("messages", messages),
        (None, media),
        ("item_id", cols["item_id"]),
        ("dimension", dimension),
        ("mos", json_column(mos, "float")),
        ("category", cols["category"]),
        ("subcategory", cols["subcategory"]),
        ("word_count", cols["prompt_words"]),
        ("is_golden", cols["is_golden"]),
    ]


class _SplitFiles:
    """One JSONL file per split (or one file when no split was asked), opened lazily."""

    stem = "sft"
    tool = False

    def __init__(self, root: Path, splits: list[str] | None):
        self.root = root
        self.splits = splits
        self._fh: dict[str | None, HashedFile] = {}
        self.rows: dict[str | None, int] = {}
        for s in list(splits) if splits else [None]:  # every asked split gets its file, even if it ends up empty
            self._open(s)

    def name(self, split: str | None) -> str:
        return f"{self.stem}.jsonl" if split is None else f"{self.stem}_{split}.jsonl"

    def _open(self, split):
        # bytes, encoded a chunk at a time: a text file's own encoding step costs as much as the write
        self._fh[split] = HashedFile(self.root / self.name(split))
        self.rows[split] = 0

    def write_chunk(self, chunk: dict[str, list], splits: list) -> None:
        texts = sft_lines(chunk, splits, tool=self.tool)
        for split in set(splits):
            mine = texts if len(self._fh) == 1 else [t for t, s in zip(texts, splits) if s == split]
            for k in range(0, len(mine), WRITE_ITEMS):  # a slice at a time: the joined text is not held twice
                block = "".join(mine[k : k + WRITE_ITEMS])
                # one record a line: JSON text holds no raw line break (json.dumps escapes them)
                self.rows[split] += block.count("\n")
                self._fh[split].write(block.encode("utf-8"))

    def close(self) -> None:
        for fh in self._fh.values():
            fh.close()

    def files(self) -> list[dict]:
        return [
            {"path": self.name(s), "split": s, "rows": n, "sha256": self._fh[s].sha256} for s, n in self.rows.items()
        ]


class SftWriter(_SplitFiles):
    stem = "sft"


class SharegptWriter(_SplitFiles):
    """LLaMA-Factory: {"messages": [...], "images"|"videos": [path]} plus dataset_info.json."""

    stem = "sharegpt"
    tool = True

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
    tool = True
