"""Exports keep a given (imported) split exactly, leave golden items out on request and carry the analysis
fields (is_golden, category, subcategory, word_count) in every MOS table and SFT record."""

import json

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from annotation.models import Item, Prompt
from annotation.services.exports import dataset_export
from core.errors import InvalidInput


@pytest.fixture
def given(version):
    """The version's three items with given splits, one of them golden and categorised."""
    items = list(Item.objects.filter(scores__version=version).distinct().order_by("item_id"))
    for item, split in zip(items, ("train", "test", "train")):
        item.split = split
        item.save(update_fields=["split"])
    items[2].is_golden = True
    items[2].save(update_fields=["is_golden"])
    Prompt.objects.filter(pk=items[0].prompt_id).update(category="Entity Generation", subcategory="object")
    return version, items


def test_given_split_is_exported_exactly(given, tmp_path):
    version, items = given
    manifest = dataset_export(version=version, fmt="sft", out=tmp_path / "s", split="given", media="none")
    assert manifest["split"] == "given" and manifest["counts"] == {"train": 4, "test": 2}
    assert not (tmp_path / "s" / "sft_val.jsonl").exists()  # no item was given val
    test = [json.loads(x) for x in (tmp_path / "s" / "sft_test.jsonl").read_text().splitlines()]
    assert {r["item_id"] for r in test} == {items[1].item_id} and {r["split"] for r in test} == {"test"}
    dataset_export(version=version, fmt="mos-csv", out=tmp_path / "t", split="given", media="none")
    df = pd.read_csv(tmp_path / "t" / "mos.csv")
    assert dict(zip(df["item_id"], df["split"])) == {i.item_id: i.split for i in items}


def test_given_split_refused_when_an_item_has_none(version, tmp_path):
    with pytest.raises(InvalidInput, match="have no imported split"):
        dataset_export(version=version, fmt="sft", out=tmp_path / "s", split="given", media="none")
    assert not (tmp_path / "s").exists()


def test_golden_items_kept_out_of_training_or_everything(given, tmp_path):
    version, items = given
    golden_id = items[2].item_id
    m = dataset_export(
        version=version, fmt="sft", out=tmp_path / "a", split="given", media="none", golden="exclude-train"
    )
    train = [json.loads(x) for x in (tmp_path / "a" / "sft_train.jsonl").read_text().splitlines()]
    assert golden_id not in {r["item_id"] for r in train} and m["counts"] == {"train": 2, "test": 2}
    assert m["golden"] == {"mode": "exclude-train", "items_left_out": 1}
    m = dataset_export(version=version, fmt="mos-csv", out=tmp_path / "b", media="none", golden="exclude")
    assert golden_id not in set(pd.read_csv(tmp_path / "b" / "mos.csv")["item_id"]) and m["counts"] == {"all": 2}
    with pytest.raises(InvalidInput, match="unknown golden mode"):
        dataset_export(version=version, fmt="sft", out=tmp_path / "c", golden="drop")


def test_fields_in_tables_and_sft_records(given, tmp_path):
    version, items = given
    dataset_export(version=version, fmt="mos-parquet", out=tmp_path / "p", media="none")
    df = pd.read_parquet(tmp_path / "p" / "mos.parquet").set_index("item_id")
    first = df.loc[items[0].item_id]
    assert (first["category"], first["subcategory"]) == ("Entity Generation", "object")
    assert first["word_count"] == len(items[0].prompt.text.split())
    assert df["is_golden"].to_dict() == {items[0].item_id: False, items[1].item_id: False, items[2].item_id: True}
    for fmt, name in (("sft", "sft.jsonl"), ("sft-swift", "swift.jsonl")):
        dataset_export(version=version, fmt=fmt, out=tmp_path / fmt, media="none")
        recs = [json.loads(x) for x in (tmp_path / fmt / name).read_text().splitlines()]
        golden = {r["item_id"]: r["is_golden"] for r in recs}
        assert golden[items[2].item_id] is True and golden[items[0].item_id] is False
        assert all(
            r["word_count"] == len(i.prompt.text.split()) for r in recs for i in items if i.item_id == r["item_id"]
        )
        assert {r["subcategory"] for r in recs if r["item_id"] == items[0].item_id} == {"object"}


def test_command_takes_given_split_and_golden(given, tmp_path):
    version, _ = given
    call_command(
        "export_dataset",
        "--campaign",
        version.campaign.slug,
        "--format",
        "mos-jsonl",
        "--out",
        str(tmp_path / "j"),
        "--split",
        "given",
        "--golden",
        "exclude",
        "--media",
        "none",
    )
    manifest = json.loads((tmp_path / "j" / "manifest.json").read_text())
    assert manifest["counts"] == {"train": 1, "test": 1} and manifest["golden"]["items_left_out"] == 1
    with pytest.raises(CommandError, match="unknown golden mode"):
        call_command(
            "export_dataset",
            "--campaign",
            version.campaign.slug,
            "--format",
            "sft",
            "--out",
            str(tmp_path / "k"),
            "--golden",
            "nope",
        )
