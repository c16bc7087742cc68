"""Importers for the paper's cross-dataset evaluation (Tables 6 and 8): T2VQA-DB, TIFA160 and GenAI-Bench, each on
a small sample written in its released layout with real media; bad files import nothing."""

import csv
import json

import pytest
from django.core.management import CommandError, call_command

from annotation.models import DatasetVersion, Item, ItemScore
from tests.factories import make_png
from training.scorer.media import write_test_video


def _scores(campaign):
    version = DatasetVersion.objects.get(campaign=campaign)
    return version, {
        (s.item.item_id, s.dimension): s for s in ItemScore.objects.filter(version=version).select_related("item")
    }


def test_t2vqa_db_annotation_file(campaign, tmp_path):
    for k in range(3):
        write_test_video(tmp_path / f"{k:05d}.mp4", frames=4, fps=8, seed=k)
    (tmp_path / "train.txt").write_text(
        "00000.mp4|a dog running on the beach|61.5\n"
        "00001.mp4|a red car | at night|12.25\n00002.mp4|fireworks over a city|88\n"
    )
    call_command(
        "import_mos_table",
        "--campaign",
        campaign.slug,
        "--file",
        str(tmp_path / "train.txt"),
        "--layout",
        "t2vqa-db",
        "--generator",
        "t2vqa-mix",
    )
    version, scores = _scores(campaign)
    assert version.params["scale"] == [0.0, 100.0]
    assert scores[("00000.mp4", "quality")].mos == pytest.approx(1 + 4 * 61.5 / 100)
    item = Item.objects.get(campaign=campaign, item_id="00001.mp4")
    assert item.media_type == "video" and item.prompt.text == "a red car | at night"
    assert not any(dim == "alignment" for _, dim in scores)


def _tifa(tmp_path, answers):
    folder = tmp_path / "tifa160"
    folder.mkdir()
    meta = {}
    for k, (sid, model) in enumerate(
        [("coco_1", "mini_dalle"), ("coco_1", "stable_diffusion_v1_5"), ("drawbench_9", "vq_diffusion")]
    ):
        key = f"{sid}_{model}"
        meta[key] = {"text": f"prompt of {sid}", "text_id": sid, "image_path": f"{key}.jpg"}
        (folder / f"{key}.jpg").write_bytes(make_png(color=(40 * k, 90, 10)))
    (tmp_path / "tifa160.json").write_text(json.dumps(meta))
    with open(tmp_path / "dsg_tifa160_anns.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "source_id", "model_type", "answer"])
        for row in answers:
            w.writerow(row)
    return tmp_path / "dsg_tifa160_anns.csv"


def test_tifa160_with_dsg_likert_ratings(campaign, tmp_path):
    path = _tifa(
        tmp_path,
        [
            (1, "coco_1", "mini-dalle", 4),
            (2, "coco_1", "mini-dalle", 5),
            (3, "coco_1", "mini-dalle", 3),
            (4, "coco_1", "sd1dot5", 2),
            (5, "coco_1", "sd1dot5", 2),
            (6, "drawbench_9", "vq-diffusion", 1),
        ],
    )
    call_command("import_mos_table", "--campaign", campaign.slug, "--file", str(path), "--layout", "tifa160")
    _, scores = _scores(campaign)
    s = scores[("coco_1_mini_dalle", "alignment")]
    assert (s.mos, s.n) == (pytest.approx(4.0), 3) and s.std == pytest.approx(1.0) and s.ci95 is not None
    assert scores[("drawbench_9_vq_diffusion", "alignment")].n == 1
    item = Item.objects.select_related("generator", "prompt").get(
        campaign=campaign, item_id="coco_1_stable_diffusion_v1_5"
    )
    assert item.generator.name == "stable_diffusion_v1_5" and item.prompt.text == "prompt of coco_1"


def test_tifa160_unknown_image_imports_nothing(campaign, tmp_path):
    path = _tifa(tmp_path, [(1, "coco_1", "mini-dalle", 4), (2, "coco_9", "sd2dot1", 5)])
    with pytest.raises(CommandError, match="line 3: 'coco_9_stable_diffusion_v2_1' is not in tifa160.json"):
        call_command("import_mos_table", "--campaign", campaign.slug, "--file", str(path), "--layout", "tifa160")
    assert not Item.objects.exists() and not DatasetVersion.objects.exists()


def test_genai_bench_images_and_videos(campaign, tmp_path):
    data = {
        "00001": {
            "prompt": "three cats, none of them black",
            "basic_skills": ["counting"],
            "advanced_skills": ["negation", "counting"],
            "models": {"DALLE_3": [5, 4, 5], "SDXL_Turbo": [2, 3, 1]},
        },
        "00002": {
            "prompt": "a cup on a table",
            "basic_skills": ["spatial relation"],
            "advanced_skills": [],
            "models": {"DALLE_3": [4, 4, 4]},
        },
    }
    for model, pid in (("DALLE_3", "00001"), ("SDXL_Turbo", "00001"), ("DALLE_3", "00002")):
        (tmp_path / model).mkdir(exist_ok=True)
        (tmp_path / model / f"{pid}.jpeg").write_bytes(make_png(color=(len(model) * 9, int(pid) * 50, 3)))
    (tmp_path / "genai_image.json").write_text(json.dumps(data))
    call_command(
        "import_mos_table",
        "--campaign",
        campaign.slug,
        "--file",
        str(tmp_path / "genai_image.json"),
        "--layout",
        "genai-bench",
    )
    _, scores = _scores(campaign)
    assert scores[("DALLE_3/00001", "alignment")].mos == pytest.approx(14 / 3)
    assert scores[("SDXL_Turbo/00001", "alignment")].n == 3
    item = Item.objects.select_related("prompt", "generator").get(campaign=campaign, item_id="DALLE_3/00002")
    assert item.generator.name == "DALLE_3" and (item.prompt.category, item.prompt.subcategory) == (
        "basic",
        "spatial relation",
    )
    assert Item.objects.get(campaign=campaign, item_id="SDXL_Turbo/00001").prompt.category == "advanced"
    # the video file of the same release
    video_root = tmp_path / "video"
    (video_root / "Gen2").mkdir(parents=True)
    write_test_video(video_root / "Gen2" / "00003.mp4", frames=4, fps=8)
    (video_root / "genai_video.json").write_text(
        json.dumps({"00003": {"prompt": "a rocket launching", "models": {"Gen2": [3, 4, 2]}}})
    )
    from tests.factories import CampaignFactory

    other = CampaignFactory(slug="gb-video")
    call_command(
        "import_mos_table",
        "--campaign",
        other.slug,
        "--file",
        str(video_root / "genai_video.json"),
        "--layout",
        "genai-bench",
    )
    assert Item.objects.get(campaign=other, item_id="Gen2/00003").media_type == "video"


def test_genai_bench_bad_rating_imports_nothing(campaign, tmp_path):
    (tmp_path / "DALLE_3").mkdir()
    (tmp_path / "DALLE_3" / "00001.jpeg").write_bytes(make_png())
    (tmp_path / "genai_image.json").write_text(json.dumps({"00001": {"prompt": "x", "models": {"DALLE_3": ["good"]}}}))
    with pytest.raises(CommandError, match="prompt 00001, DALLE_3: ratings must be numbers"):
        call_command(
            "import_mos_table",
            "--campaign",
            campaign.slug,
            "--file",
            str(tmp_path / "genai_image.json"),
            "--layout",
            "genai-bench",
        )
    assert not Item.objects.exists()
    with pytest.raises(CommandError, match="--map is for the generic and agiqa3k layouts"):
        call_command(
            "import_mos_table",
            "--campaign",
            campaign.slug,
            "--file",
            str(tmp_path / "genai_image.json"),
            "--layout",
            "genai-bench",
            "--map",
            "a=prompt",
        )
