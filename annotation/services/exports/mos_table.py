"""MOS tables: one row per item (csv, jsonl, parquet), written as the rows stream in."""

from __future__ import annotations

import json
from pathlib import Path

from .. import csv_safe

COLUMNS = (
    "item_id",
    "media_path",
    "media_type",
    "generator",
    "prompt",
    "category",
    "subcategory",
    "word_count",
    "is_golden",
    "quality_mos",
    "quality_std",
    "quality_n",
    "quality_ci95",
    "alignment_mos",
    "alignment_std",
    "alignment_n",
    "alignment_ci95",
)
PARQUET_ROW_GROUP = 10_000


def table_row(row: dict, split: str | None, with_split: bool) -> dict:
    out = {
        "item_id": row["item_id"],
        "media_path": row["media_path"],
        "media_type": row["media_type"],
        "generator": row["generator"],
        "prompt": row["prompt"],
        "category": row["category"],
        "subcategory": row["subcategory"],
        "word_count": row["prompt_words"],
        "is_golden": row["is_golden"],
    }
    for dim in ("quality", "alignment"):
        s = row["scores"].get(dim) or {}
        for key in ("mos", "std", "n", "ci95"):
            out[f"{dim}_{key}"] = s.get(key)
    if with_split:
        out["split"] = split
    return out


class TableWriter:
    """Base: one file, a row per item; `files()` reports what was written."""

    ext = ""

    def __init__(self, root: Path, with_split: bool):
        self.root, self.with_split = root, with_split
        self.columns = list(COLUMNS) + (["split"] if with_split else [])
        self.path = root / f"mos.{self.ext}"
        self.rows = 0

    def files(self) -> list[dict]:
        return [{"path": self.path.name, "split": None, "rows": self.rows}]


class CsvWriter(TableWriter):
    ext = "csv"

    def __init__(self, root, with_split):
        super().__init__(root, with_split)
        self._fh = open(self.path, "w", newline="", encoding="utf-8")
        self._w = csv_safe.DictWriter(self._fh, fieldnames=self.columns)  # prompts can start with '='
        self._w.writeheader()

    def write(self, row: dict, split: str | None) -> None:
        self._w.writerow(table_row(row, split, self.with_split))
        self.rows += 1

    def close(self) -> None:
        self._fh.close()


class JsonlWriter(TableWriter):
    ext = "jsonl"

    def __init__(self, root, with_split):
        super().__init__(root, with_split)
        self._fh = open(self.path, "w", encoding="utf-8")

    def write(self, row: dict, split: str | None) -> None:
        self._fh.write(json.dumps(table_row(row, split, self.with_split), ensure_ascii=False) + "\n")
        self.rows += 1

    def close(self) -> None:
        self._fh.close()


class ParquetWriter(TableWriter):
    """pyarrow ParquetWriter, one row group per 10K items: memory holds one group at most."""

    ext = "parquet"

    def __init__(self, root, with_split):
        import pyarrow as pa
        import pyarrow.parquet as pq

        super().__init__(root, with_split)
        fields = []
        for col in self.columns:
            if col.endswith("_n") or col == "word_count":
                typ = pa.int64()
            elif col == "is_golden":
                typ = pa.bool_()
            elif col.endswith(("_mos", "_std", "_ci95")):
                typ = pa.float64()
            else:
                typ = pa.string()
            fields.append(pa.field(col, typ))
        self._schema = pa.schema(fields)
        self._pa = pa
        self._w = pq.ParquetWriter(self.path, self._schema)
        self._buf: dict[str, list] = {c: [] for c in self.columns}
        self._n = 0

    def write(self, row: dict, split: str | None) -> None:
        for key, value in table_row(row, split, self.with_split).items():
            self._buf[key].append(value)
        self._n += 1
        self.rows += 1
        if self._n >= PARQUET_ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._n:
            self._w.write_table(self._pa.Table.from_pydict(self._buf, schema=self._schema))
            self._buf = {c: [] for c in self.columns}
            self._n = 0

    def close(self) -> None:
        self._flush()
        self._w.close()
