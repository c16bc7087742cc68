"""Exports, database-neutral: the chunked writers give byte for byte what the row-by-row writers gave
(export_reference.py), on awkward data. These tests run here on PostgreSQL and on SQLite (the embedded
default) through test_bulk_sqlite.py."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from annotation.models import Item, Prompt
from annotation.services.exports import dataset_export
from annotation.services.exports.manifest import file_sha256
from annotation.services.exports.rows import version_item_keys
from annotation.services.exports.splits import assign_splits, parse_split
from annotation.services.mos import mos_aggregate
from tests.factories import GeneratorFactory, ItemFactory, PromptFactory, UserFactory

from . import export_reference as ref
from .conftest import rate

pytestmark = pytest.mark.django_db

AWKWARD_PROMPT = '=HYPERLINK("x") a "quoted" ünïcödé 🎨 prompt\twith a tab\nand a second line \\ back'


@pytest.fixture
def awkward(rated):
    """The `rated` campaign plus: a formula-like unicode prompt scored on quality only by one annotator
    (n=1: no std), a golden video with an upper-case extension and a '+' prompt, categories, given splits."""
    campaign, items, annotators, _ = rated
    odd = ItemFactory(
        campaign=campaign,
        prompt=PromptFactory(text=AWKWARD_PROMPT, category="Entity Generation", subcategory="=sum"),
        generator=GeneratorFactory(name='gen "quoted", ünï'),
    )
    video = ItemFactory(
        campaign=campaign,
        media_type="video",
        media="media/clips/v.tar.MP4",
        is_golden=True,
        prompt=PromptFactory(text="+plus a dog running"),
    )
    rate(campaign, UserFactory(role="annotator"), {odd: (4, None)})
    rate(campaign, annotators[0], {video: (2, 5)})
    rate(campaign, annotators[1], {video: (3, 4)})
    for item, split in zip([*items, odd, video], ("train", "test", "train", "val", "test")):
        Item.objects.filter(pk=item.pk).update(split=split)
    Prompt.objects.filter(pk=items[0].prompt_id).update(word_count=0)  # counted from the text
    return mos_aggregate(campaign=campaign, method="mean")


def _reference(version, split, seed, golden):
    rows = ref.reference_rows(version)
    ratios = parse_split(split)
    if ratios == "given":
        splits = [r["given_split"] for r in rows]
    elif ratios:
        by_prompt = assign_splits(version_item_keys(version=version), ratios, seed)
        splits = [by_prompt[r["prompt_id"]] for r in rows]
    else:
        splits = [None] * len(rows)
    keep = [
        not (r["is_golden"] and (golden == "exclude" or (golden == "exclude-train" and s in (None, "train"))))
        for r, s in zip(rows, splits)
    ]
    return [r for r, k in zip(rows, keep) if k], [s for s, k in zip(splits, keep) if k]


CASES = [(None, "keep"), ("train=0.5,val=0.25,test=0.25", "keep"), ("given", "exclude-train"), (None, "exclude")]


@pytest.mark.parametrize("split,golden", CASES)
@pytest.mark.parametrize("fmt", ["mos-csv", "mos-jsonl", "mos-parquet"])
def test_mos_tables_match_the_row_by_row_reference(awkward, tmp_path, fmt, split, golden):
    out = tmp_path / "x"
    manifest = dataset_export(version=awkward, fmt=fmt, out=out, split=split, seed=3, media="none", golden=golden)
    rows, splits = _reference(awkward, split, 3, golden)
    with_split = split is not None
    assert all(f["sha256"] == file_sha256(out / f["path"]) for f in manifest["files"])  # hashed while written
    assert len(rows) >= 3 and sum(manifest["counts"].values()) == len(rows)
    if fmt == "mos-csv":
        text = (out / "mos.csv").read_bytes().decode("utf-8")  # as written: \r\n line ends
        assert text == ref.csv_text(rows, splits, with_split)
        assert "'=HYPERLINK" in text and "'=sum" in text  # formula cells escaped
    elif fmt == "mos-jsonl":
        assert (out / "mos.jsonl").read_bytes().decode("utf-8") == ref.jsonl_text(rows, splits, with_split)
    else:
        got = pq.read_table(out / "mos.parquet").to_pylist()
        want = [ref.table_row(r, s, with_split) for r, s in zip(rows, splits)]
        assert got == want


@pytest.mark.parametrize("split,golden", CASES)
@pytest.mark.parametrize(
    "fmt,stem,tool", [("sft", "sft", False), ("sft-sharegpt", "sharegpt", True), ("sft-swift", "swift", True)]
)
def test_sft_files_match_the_row_by_row_reference(awkward, tmp_path, fmt, stem, tool, split, golden):
    out = tmp_path / "x"
    manifest = dataset_export(version=awkward, fmt=fmt, out=out, split=split, seed=3, media="none", golden=golden)
    rows, splits = _reference(awkward, split, 3, golden)
    want = ref.sft_texts(rows, splits, tool)
    assert all(f["sha256"] == file_sha256(out / f["path"]) for f in manifest["files"])  # hashed while written
    for f in manifest["files"]:
        if not f["path"].endswith(".jsonl"):
            continue
        text = (out / f["path"]).read_bytes().decode("utf-8")
        assert text == want.get(f["split"], ""), f["path"]
        assert f["rows"] == text.count("\n")
    records = [json.loads(line) for text in want.values() for line in text.splitlines()]
    odd_id = Item.objects.get(prompt__text=AWKWARD_PROMPT).item_id
    assert [r["dimension"] for r in records if r["item_id"] == odd_id] == ["quality"]  # no alignment score


def test_aggregation_orm_path_writes_the_same_version(rated):
    """The ORM paths (the only ones on SQLite) give the same version as the default paths."""
    campaign = rated[0]
    for method in ("mean", "mle"):
        default = mos_aggregate(campaign=campaign, method=method)
        orm = mos_aggregate(campaign=campaign, method=method, bulk=False)
        assert default.checksum == orm.checksum
        fields = ("item_id", "dimension", "mos", "std", "n", "ci95")
        assert list(default.scores.order_by("item_id", "dimension").values_list(*fields)) == list(
            orm.scores.order_by("item_id", "dimension").values_list(*fields)
        )
        fields = ("annotator_id", "dimension", "bias", "inconsistency", "n", "rejected")
        assert list(default.annotator_stats.order_by("annotator_id", "dimension").values_list(*fields)) == list(
            orm.annotator_stats.order_by("annotator_id", "dimension").values_list(*fields)
        )


def test_deleting_an_item_deletes_its_scores(awkward):
    """ItemScore has no database foreign key (migration 0008): the ORM's cascade removes the scores."""
    item = Item.objects.get(prompt__text=AWKWARD_PROMPT)
    assert awkward.scores.filter(item=item).count() == 1
    item.ratings.all().delete()
    item.delete()
    assert not awkward.scores.filter(item_id=item.pk).exists() and awkward.scores.count() > 0


def test_both_shapes_of_the_export_query_give_the_same_rows(awkward):
    """version_query by the version's score rows or by the items' score joins (the shape a version covering
    much of the item table is read with): the same rows, the unscored item in neither, the item scored on
    one dimension only in both."""
    from django.db import connection

    from annotation.services.exports.rows import version_query

    unscored = ItemFactory(campaign=awkward.campaign)
    rows = {}
    for by_items in (False, True):
        names, sql, params = version_query(version=awkward, by_items=by_items)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows[by_items] = cursor.fetchall()
    assert rows[True] == rows[False]
    pks = [row[names.index("pk")] for row in rows[True]]
    assert len(pks) == awkward.counts["items"] and unscored.pk not in pks
    odd = Item.objects.get(prompt__text=AWKWARD_PROMPT)
    assert odd.pk in pks and awkward.scores.filter(item=odd).count() == 1
