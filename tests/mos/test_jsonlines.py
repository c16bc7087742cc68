"""The export's column-wise JSON Lines, CSV rows and media paths are exactly what json.dumps, csv.writer and
pathlib give."""

from __future__ import annotations

import json
import math
from pathlib import PurePosixPath

import pytest

from annotation.services.exports.jsonlines import json_column, json_lines
from annotation.services.exports.rows import _media_paths, _suffix, media_relpath

STRINGS = ["", "plain", 'quo"te', "back\\slash", "ünïcödé 🎨", "tab\t nl\n cr\r nul\x00 bell\x07", "\u2028", None]
FLOATS = [0.0, -0.0, 1.5, 1 / 3, 1e-300, 1e300, 4.0, math.nan, math.inf, -math.inf, None, 2.675]
INTS = [0, -1, 10**15, None]


def test_lines_are_what_json_dumps_writes():
    n = max(len(STRINGS), len(FLOATS), len(INTS))
    records = [
        {
            "s": STRINGS[k % len(STRINGS)],
            "f": FLOATS[k % len(FLOATS)],
            "i": INTS[k % len(INTS)],
            "b": [True, False, None][k % 3],
            'key with "quotes" and %s': k,
        }
        for k in range(n)
    ]
    fields = [
        ("s", json_column([r["s"] for r in records], "str")),
        ("f", json_column([r["f"] for r in records], "float")),
        ("i", json_column([r["i"] for r in records], "int")),
        ("b", json_column([r["b"] for r in records], "bool")),
        ('key with "quotes" and %s', json_column([r['key with "quotes" and %s'] for r in records], "int")),
    ]
    assert json_lines(fields) == [json.dumps(r, ensure_ascii=False) + "\n" for r in records]


def test_a_member_whose_key_varies_by_row():
    lines = json_lines([("a", ["1", "2"]), (None, ['"images": ["x"]', '"videos": ["y"]'])])
    assert [json.loads(x) for x in lines] == [{"a": 1, "images": ["x"]}, {"a": 2, "videos": ["y"]}]


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown kind"):
        json_column([1], "decimal")


MEDIA_NAMES = [
    "media/ab/x.png",
    "x.PNG",
    "a/b.c/d",
    "a/.hidden",
    "a/b.",
    "a/b..",
    "a/b/",
    "a/b.tar.gz/",
    "a/.",
    "",
    "/",
    ".",
    "..",
    "a/..b",
    "noext",
    "a//b.mp4",
    "a/b.mp4/.",
    "./x.jpg",
]


@pytest.mark.parametrize("name", MEDIA_NAMES)
def test_media_suffix_is_pathlibs(name):
    assert _suffix(name) == PurePosixPath(name).suffix


def test_the_inlined_media_paths_are_media_relpaths():
    names = [*MEDIA_NAMES, "a/B.ÄPNG", "v.tar.MP4", "a/b.c/d.e", "x.\n", "dir.d/.e"]
    shas = [f"{k:02x}" + "f" * 62 for k in range(len(names))]
    types = ["video" if k % 2 else "image" for k in range(len(names))]
    want = [media_relpath(sha256=s, media_name=n, media_type=t) for s, n, t in zip(shas, names, types)]
    assert _media_paths(shas, names, types) == want


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_the_faster_split_assignment_gives_the_same_splits(seed):
    import numpy as np

    from annotation.services.exports.splits import assign_splits

    from .export_reference import assign_splits as reference

    rng = np.random.default_rng(seed)
    keys = list(zip(rng.integers(0, 800, 3000).tolist(), rng.choice([5, 9, 11, 40, 2], 3000).tolist()))
    for ratios in ({"train": 0.8, "val": 0.1, "test": 0.1}, {"train": 0.5, "test": 0.5}, {"val": 1.0}):
        assert assign_splits(keys, ratios, seed) == reference(keys, ratios, seed)


def test_csv_fields_rows_are_what_csv_writer_writes():
    import csv
    import io

    from annotation.services.exports.mos_table import csv_fields

    columns = [
        ["plain", 'a "quote"', "comma, here", "line\nbreak", "cr\rhere", "", None, "tab\tünï 🎨", "\x00,"],
        [1.5, float("nan"), None, 1e-7, 3.0, -0.0, 1e16, 2.5, 7.25],
        [1, None, 0, -3, 10**12, 5, 2, 3, 4],
        [True, False, None, True, False, True, False, True, False],
        ["x"] * 9,  # no field needs quotes: the column is used as it is
    ]
    buf = io.StringIO()
    csv.writer(buf).writerows(zip(*columns))
    fields = [csv_fields(col) for col in columns]
    assert fields[4] is columns[4]
    assert "".join(",".join(["%s"] * len(fields)) % row + "\r\n" for row in zip(*fields)) == buf.getvalue()
