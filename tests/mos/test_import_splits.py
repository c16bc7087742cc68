"""A split column imported with the items (manifest) or with a public MOS table lands on Item.split, and an
export with split 'given' keeps exactly it; a bad split value imports nothing."""

import csv
import json

import pytest
from django.core.management import CommandError, call_command

from annotation.models import DatasetVersion, Item
from tests.factories import make_png


def _table(tmp_path, rows, name="table.csv"):
    (tmp_path / "img").mkdir(exist_ok=True)
    with open(tmp_path / name, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "text", "q", "a", "part"])
        for k, (file, text, q, a, part) in enumerate(rows):
            if not (tmp_path / "img" / file).exists():
                (tmp_path / "img" / file).write_bytes(make_png(color=(30 * k, 60, 90)))
            w.writerow([file, text, q, a, part])
    return tmp_path / name


MAP = [
    "--map",
    "file=item_id",
    "--map",
    "text=prompt",
    "--map",
    "q=quality_mos",
    "--map",
    "a=alignment_mos",
    "--map",
    "part=split",
]


def test_mos_table_split_column_is_kept_by_the_export(campaign, tmp_path):
    path = _table(
        tmp_path,
        [
            ("a.png", "a red cube", 4, 3, "train"),
            ("b.png", "a blue cat", 2, 5, "test"),
            ("c.png", "a green dog", 3, 3, "train"),
        ],
    )
    call_command(
        "import_mos_table",
        "--campaign",
        campaign.slug,
        "--file",
        str(path),
        "--layout",
        "generic",
        "--generator",
        "g1",
        "--media-root",
        str(tmp_path / "img"),
        *MAP,
    )
    assert dict(Item.objects.filter(campaign=campaign).values_list("item_id", "split")) == {
        "a.png": "train",
        "b.png": "test",
        "c.png": "train",
    }
    call_command(
        "export_dataset",
        "--campaign",
        campaign.slug,
        "--format",
        "sft",
        "--out",
        str(tmp_path / "o"),
        "--split",
        "given",
        "--media",
        "none",
    )
    test = [json.loads(x) for x in (tmp_path / "o" / "sft_test.jsonl").read_text().splitlines()]
    assert {(r["item_id"], r["split"]) for r in test} == {("b.png", "test")}
    # a re-import with another split moves existing items into it (a public split revised)
    path = _table(
        tmp_path,
        [
            ("a.png", "a red cube", 4, 3, "val"),
            ("b.png", "a blue cat", 2, 5, ""),
            ("c.png", "a green dog", 3, 3, "train"),
        ],
        name="t2.csv",
    )
    call_command(
        "import_mos_table",
        "--campaign",
        campaign.slug,
        "--file",
        str(path),
        "--layout",
        "generic",
        "--generator",
        "g1",
        "--media-root",
        str(tmp_path / "img"),
        *MAP,
    )
    assert dict(Item.objects.filter(campaign=campaign).values_list("item_id", "split")) == {
        "a.png": "val",
        "b.png": "test",
        "c.png": "train",
    }


def test_bad_split_value_imports_nothing(campaign, tmp_path):
    path = _table(tmp_path, [("a.png", "a red cube", 4, 3, "train"), ("b.png", "a blue cat", 2, 5, "holdout")])
    with pytest.raises(CommandError, match="line 3: unknown split 'holdout'"):
        call_command(
            "import_mos_table",
            "--campaign",
            campaign.slug,
            "--file",
            str(path),
            "--layout",
            "generic",
            "--generator",
            "g1",
            "--media-root",
            str(tmp_path / "img"),
            *MAP,
        )
    assert not Item.objects.filter(campaign=campaign).exists() and not DatasetVersion.objects.exists()


def test_items_manifest_split_column(campaign, tmp_path):
    from annotation.services.imports import items_import

    for name in ("x.png", "y.png"):
        (tmp_path / name).write_bytes(make_png(color=(10, 20, 30) if name == "x.png" else (90, 20, 30)))
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "item_id,media_path,media_type,prompt,generator,split\nx,x.png,image,a cat,gen,test\ny,y.png,image,a dog,gen,\n"
    )
    items_import(campaign=campaign, manifest=manifest)
    assert dict(Item.objects.filter(campaign=campaign).values_list("item_id", "split")) == {"x": "test", "y": ""}
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,media_path,media_type,prompt,generator,split\nz,x.png,image,a cat,gen,dev\n")
    from core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="unknown split 'dev'"):
        items_import(campaign=campaign, manifest=bad)
