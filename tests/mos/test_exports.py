"""Exports: files parse, match the dataset version, carry the exact prompts; manifest; media; bad input."""

import json
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from annotation.models import ItemScore
from annotation.services.exports import dataset_export
from annotation.services.exports.manifest import file_sha256
from training.scorer.prompts import context_prompt, level_from_mos

ROOT = Path(__file__).resolve().parents[2]


def _expected(version):
    out = {}
    for s in ItemScore.objects.filter(version=version).select_related("item"):
        out[(s.item.item_id, s.dimension)] = s
    return out


@pytest.mark.parametrize(
    "fmt,reader",
    [
        ("mos-csv", lambda p: pd.read_csv(p / "mos.csv")),
        ("mos-jsonl", lambda p: pd.read_json(p / "mos.jsonl", lines=True)),
        ("mos-parquet", lambda p: pq.read_table(p / "mos.parquet").to_pandas()),
    ],
)
def test_mos_tables_parse_and_match_the_version(version, tmp_path, fmt, reader):
    manifest = dataset_export(version=version, fmt=fmt, out=tmp_path / "x", media="none")
    df = reader(tmp_path / "x")
    assert list(df.columns) == [
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
    ]
    expected = _expected(version)
    assert len(df) == 3 == manifest["counts"]["all"]
    for row in df.itertuples():
        for dim in ("quality", "alignment"):
            s = expected[(row.item_id, dim)]
            assert getattr(row, f"{dim}_mos") == pytest.approx(s.mos)
            assert getattr(row, f"{dim}_n") == s.n
            assert getattr(row, f"{dim}_ci95") == pytest.approx(s.ci95)
        assert re.fullmatch(r"media/[0-9a-f]{2}/[0-9a-f]{64}\.png", row.media_path)
    assert manifest["dataset_version"]["checksum"] == version.checksum


def test_sft_records_carry_the_exact_prompt_and_level(version, tmp_path):
    dataset_export(version=version, fmt="sft", out=tmp_path / "sft", media="copy")
    lines = (tmp_path / "sft" / "sft.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    expected = _expected(version)
    assert len(records) == 6
    for rec in records:
        s = expected[(rec["item_id"], rec["dimension"])]
        assert set(rec) == {
            "item_id",
            "dimension",
            "media_type",
            "media",
            "generator",
            "prompt",
            "prompt_words",
            "word_count",
            "category",
            "subcategory",
            "is_golden",
            "messages",
            "level",
            "mos",
            "split",
        }
        user, assistant = rec["messages"]
        assert user == {
            "role": "user",
            "content": context_prompt(media_type="image", dimension=rec["dimension"], prompt=s.item.prompt.text),
        }
        assert user["content"].startswith("<image>")
        assert (
            assistant == {"role": "assistant", "content": level_from_mos(s.mos)}
            and rec["level"] == assistant["content"]
        )
        assert rec["mos"] == pytest.approx(s.mos)
        assert (tmp_path / "sft" / rec["media"]).read_bytes() == Path(s.item.media.path).read_bytes()


def _reference_prompts() -> dict:
    text = (ROOT.parent / "shared" / "REFERENCE.md").read_text()
    found = {}
    for media, dim, title in (
        ("image", "quality", "image / visual quality"),
        ("image", "alignment", "image / alignment"),
        ("video", "quality", "video / visual quality"),
        ("video", "alignment", "video / alignment"),
    ):
        block = text.split(f"### {title}", 1)[1].split("```text\n", 1)[1].split("\n```", 1)[0]
        found[(media, dim)] = block
    return found


@pytest.mark.skipif(not (ROOT.parent / "shared" / "REFERENCE.md").exists(), reason="../shared/REFERENCE.md not here")
def test_context_prompts_equal_the_reference_text(version, tmp_path):
    ref = _reference_prompts()
    for (media, dim), template in ref.items():
        assert context_prompt(media_type=media, dimension=dim, prompt="a red cube") == template.replace(
            "{prompt}", "a red cube"
        )
    dataset_export(version=version, fmt="sft", out=tmp_path / "s", media="none")
    for line in (tmp_path / "s" / "sft.jsonl").read_text().splitlines():
        rec = json.loads(line)
        assert rec["messages"][0]["content"] == ref[("image", rec["dimension"])].replace("{prompt}", rec["prompt"])


@pytest.mark.parametrize(
    "mos,word",
    [
        (1.0, "Bad"),
        (1.79, "Bad"),
        (1.8, "Poor"),
        (2.59, "Poor"),
        (2.6, "Fair"),
        (3.39, "Fair"),
        (3.4, "Good"),
        (4.19, "Good"),
        (4.2, "Excellent"),
        (5.0, "Excellent"),
    ],
)
def test_level_words_at_the_bin_edges(mos, word):
    assert level_from_mos(mos) == word


def test_manifest_lists_files_with_their_sha256(version, tmp_path):
    manifest = dataset_export(
        version=version, fmt="sft", out=tmp_path / "m", split="train=0.34,val=0.33,test=0.33", seed=3, media="link"
    )
    on_disk = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    assert {f["path"] for f in on_disk["files"]} == {"sft_train.jsonl", "sft_val.jsonl", "sft_test.jsonl"}
    for f in on_disk["files"]:
        path = tmp_path / "m" / f["path"]
        assert file_sha256(path) == f["sha256"]
        assert len(path.read_text().splitlines()) == f["rows"] == on_disk["counts"][f["split"]]
    assert sum(on_disk["counts"].values()) == 6
    assert on_disk["dataset_version"] | {} == {
        "id": version.pk,
        "campaign": version.campaign.slug,
        "number": 1,
        "method": "mean",
        "checksum": version.checksum,
        "source": "aggregation",
        "created_at": version.created_at.isoformat(),
    }
    assert on_disk["media"] == "link"
    assert len(list((tmp_path / "m" / "media").rglob("*.png"))) == 3


@pytest.mark.parametrize("fmt,stem,key", [("sft-sharegpt", "sharegpt", "images"), ("sft-swift", "swift", "images")])
def test_sharegpt_and_swift_records(version, tmp_path, fmt, stem, key):
    dataset_export(version=version, fmt=fmt, out=tmp_path / "o", media="none")
    recs = [json.loads(x) for x in (tmp_path / "o" / f"{stem}.jsonl").read_text().splitlines()]
    assert len(recs) == 6
    for rec in recs:
        assert rec["messages"][0]["content"].startswith("<image>")
        assert rec["messages"][1]["content"] in ("Excellent", "Good", "Fair", "Poor", "Bad")
        assert rec[key][0].startswith("media/")
    if fmt == "sft-sharegpt":
        info = json.loads((tmp_path / "o" / "dataset_info.json").read_text())
        assert info["qeval_all"]["formatting"] == "sharegpt" and info["qeval_all"]["file_name"] == "sharegpt.jsonl"


@pytest.mark.parametrize(
    "args,message",
    [
        (["--format", "xml"], "unknown export format"),
        (["--format", "sft", "--split", "train=0.8,val=0.1"], "sum to 1"),
        (["--format", "sft", "--split", "train:0.8"], "malformed split"),
        (["--format", "sft", "--split", "train=0.5,dev=0.5"], "unknown split name"),
        (["--format", "sft", "--version", "7"], "no dataset version 7"),
        (["--format", "sft", "--media", "teleport"], "unknown media mode"),
    ],
)
def test_bad_export_arguments_fail_with_a_clear_line_and_write_nothing(version, tmp_path, args, message):
    out = tmp_path / "out"
    with pytest.raises(CommandError, match=message):
        call_command("export_dataset", "--campaign", version.campaign.slug, "--out", str(out), *args)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_export_into_a_non_empty_folder_is_refused(version, tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(CommandError, match="not empty"):
        call_command("export_dataset", "--campaign", version.campaign.slug, "--out", str(tmp_path), "--format", "sft")
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_unknown_campaign_is_refused(db, tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("export_dataset", "--campaign", "nope", "--out", str(tmp_path / "o"), "--format", "sft")


def test_missing_media_fails_and_leaves_nothing(version, tmp_path):
    from django.core.files.storage import default_storage

    item = ItemScore.objects.filter(version=version).first().item
    default_storage.delete(item.media.name)
    from core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="missing"):
        dataset_export(version=version, fmt="sft", out=tmp_path / "o", media="copy")
    assert list(tmp_path.iterdir()) == []


def test_command_exports_the_latest_version(version, tmp_path, capsys):
    call_command(
        "export_dataset",
        "--campaign",
        version.campaign.slug,
        "--out",
        str(tmp_path / "c"),
        "--format",
        "mos-csv",
        "--split",
        "train=0.6,val=0.2,test=0.2",
        "--seed",
        "1",
        "--media",
        "none",
    )
    df = pd.read_csv(tmp_path / "c" / "mos.csv")
    assert set(df["split"]) <= {"train", "val", "test"} and len(df) == 3
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert manifest["counts"] == df["split"].value_counts().reindex(["train", "val", "test"], fill_value=0).to_dict()


def test_the_real_command_line_exits_1_with_one_line(db, tmp_path):
    """Through manage.py, as a researcher runs it: exit code 1, one line on stderr, nothing written."""
    import os
    import subprocess
    import sys

    from django.conf import settings

    db_ = settings.DATABASES["default"]
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://{db_['USER'] or 'postgres'}@{db_['HOST'] or '127.0.0.1'}:{db_['PORT'] or 5432}/{db_['NAME']}",
    )
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "export_dataset",
            "--campaign",
            "no-such-campaign",
            "--format",
            "sft",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == ["CommandError: campaign 'no-such-campaign' does not exist"]
    assert not (tmp_path / "o").exists()


def test_a_version_of_another_campaign_is_refused(version, tmp_path):
    from annotation.services.jobs import job_create, job_run
    from core.errors import NotFound
    from tests.factories import CampaignFactory

    other = CampaignFactory()
    job = job_create(
        kind="dataset_export",
        campaign=other,
        params={"version_id": version.pk, "format": "sft", "out": str(tmp_path / "o")},
    )
    with pytest.raises(NotFound, match="belongs to campaign"):
        job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "belongs to campaign" in job.error
    assert not (tmp_path / "o").exists()


def test_the_trainer_reads_the_sft_export(version, tmp_path):
    """The contract end to end: training/scorer/data.py reads what we write."""
    pytest.importorskip("torch")
    from training.scorer.data import read_records

    dataset_export(version=version, fmt="sft", out=tmp_path / "t", split="train=0.34,val=0.33,test=0.33", seed=2)
    records = [r for s in ("train", "val", "test") for r in read_records(tmp_path / "t", s)]
    assert len(records) == 6
    for rec in records:
        assert Path(rec["media"]).is_file()
        assert rec["user_text"] == context_prompt(media_type="image", dimension=rec["dimension"], prompt=rec["prompt"])
        assert rec["level"] == level_from_mos(rec["mos"])
