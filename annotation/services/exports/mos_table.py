"""MOS tables: one row per item (csv, jsonl, parquet), written a chunk of items at a time (rows.py)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from .. import csv_safe
from .jsonlines import json_column, json_lines
from .manifest import HashedFile

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
# The chunk column behind each table column where the names differ.
_SOURCE = {"word_count": "prompt_words"}
TEXT_COLUMNS = ("item_id", "media_path", "media_type", "generator", "prompt", "category", "subcategory")


def column_kind(col: str) -> str:
    if col.endswith("_n") or col == "word_count":
        return "int"
    if col == "is_golden":
        return "bool"
    if col.endswith(("_mos", "_std", "_ci95")):
        return "float"
    return "str"


def table_columns(chunk: dict[str, list], splits: list, with_split: bool) -> dict[str, list]:
    """The table's columns of a chunk, in COLUMNS order (and `split` last when asked)."""
    out = {col: chunk[_SOURCE.get(col, col)] for col in COLUMNS}
    if with_split:
        out["split"] = splits
    return out


_NEEDS_QUOTES = re.compile(r'[,"\r\n]').search  # csv.writer's QUOTE_MINIMAL: delimiter, quote, line ends


def csv_fields(values: list) -> list:
    """A column's values as csv.writer (excel dialect) writes them, for %s: None as an empty field, a
    string with a comma, quote or line break quoted (its quotes doubled); numbers and booleans are left
    to %s, which gives str() as csv.writer does. A column with no such string is checked in one search."""
    if None in values:
        values = ["" if v is None else v for v in values]
    text = [v for v in values if isinstance(v, str)]
    if not text or not _NEEDS_QUOTES("\x00".join(text)):
        return values
    return ['"' + v.replace('"', '""') + '"' if isinstance(v, str) and _NEEDS_QUOTES(v) else v for v in values]


class TableWriter:
    """Base: one file, a row per item; `files()` reports what was written."""

    ext = ""

    def __init__(self, root: Path, with_split: bool):
        self.root, self.with_split = root, with_split
        self.columns = list(COLUMNS) + (["split"] if with_split else [])
        self.path = root / f"mos.{self.ext}"
        self.rows = 0

    def files(self) -> list[dict]:
        entry = {"path": self.path.name, "split": None, "rows": self.rows}
        sha = getattr(getattr(self, "_fh", None), "sha256", None)  # a HashedFile knows its own
        return [dict(entry, sha256=sha) if sha else entry]


class CsvWriter(TableWriter):
    ext = "csv"

    def __init__(self, root, with_split):
        super().__init__(root, with_split)
        self._fh = HashedFile(self.path)  # bytes: a text file's own encoding step costs as much as the write
        header = io.StringIO()
        csv.writer(header).writerow(self.columns)
        self._fh.write(header.getvalue().encode("utf-8"))

    def write_chunk(self, chunk: dict[str, list], splits: list) -> None:
        cols = table_columns(chunk, splits, self.with_split)
        for col in (*TEXT_COLUMNS, "split"):  # prompts can start with '=': csv_safe escapes formula cells
            if col in cols:
                cols[col] = csv_safe.cells(cols[col])
        # Each column turned into CSV fields once, then one %-format per row: what csv.writer writes
        # (tests/mos/test_bulk_portable.py compares), in 0.4 s per 100K items instead of 0.6 s.
        fields = [csv_fields(values) for values in cols.values()]
        template = ",".join(["%s"] * len(fields)) + "\r\n"
        self._fh.write("".join([template % row for row in zip(*fields)]).encode("utf-8"))
        self.rows += len(splits)

    def close(self) -> None:
        self._fh.close()


class JsonlWriter(TableWriter):
    ext = "jsonl"

    def __init__(self, root, with_split):
        super().__init__(root, with_split)
        self._fh = HashedFile(self.path)

    def write_chunk(self, chunk: dict[str, list], splits: list) -> None:
        cols = table_columns(chunk, splits, self.with_split)
        lines = json_lines([(col, json_column(values, column_kind(col))) for col, values in cols.items()])
        self._fh.write("".join(lines).encode("utf-8"))
        self.rows += len(splits)

    def close(self) -> None:
        self._fh.close()


class ParquetWriter(TableWriter):
    """pyarrow ParquetWriter, a row group per chunk of items (at most 10K): memory holds one chunk."""

    ext = "parquet"

    def __init__(self, root, with_split):
        import pyarrow as pa
        import pyarrow.parquet as pq

        super().__init__(root, with_split)
        arrow = {"int": pa.int64(), "bool": pa.bool_(), "float": pa.float64(), "str": pa.string()}
        self._schema = pa.schema([pa.field(col, arrow[column_kind(col)]) for col in self.columns])
        self._pa = pa
        self._w = pq.ParquetWriter(self.path, self._schema)

    def write_chunk(self, chunk: dict[str, list], splits: list) -> None:
        cols = table_columns(chunk, splits, self.with_split)
        self._w.write_table(self._pa.Table.from_pydict(cols, schema=self._schema), row_group_size=PARQUET_ROW_GROUP)
        self.rows += len(splits)

    def close(self) -> None:
        self._w.close()
