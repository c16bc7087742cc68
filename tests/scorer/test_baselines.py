"""Baseline scorers on tiny models built from configs: each writes the predictions CSV that ``evaluate`` and the
benchmark read; the CLIP-style ones take a fitted head; libraries that cannot import here say so."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training.scorer.baselines import (  # noqa: E402
    BaselineUnavailable,
    finetune_baseline,
    load_baseline,
    run_baseline,
)
from training.scorer.data import read_records  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    from training.scorer.baselines.tiny import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("clip") / "clip")


@pytest.fixture(scope="module")
def tiny_blip2(tmp_path_factory):
    from training.scorer.baselines.tiny import build_tiny_blip2

    return build_tiny_blip2(tmp_path_factory.mktemp("blip2") / "blip2")


def _items(export_dir, dimension="alignment"):
    return read_records(export_dir, "train", dimensions=[dimension])


@pytest.mark.parametrize(
    "name,dimension",
    [("clipscore", "alignment"), ("pickscore", "alignment"), ("hpsv2", "alignment"), ("clip-iqa", "quality")],
)
def test_clip_style_zero_shot(tiny_clip, export_dir, name, dimension):
    from training.scorer.baselines.clip import IQA_PROMPTS

    b = load_baseline(name, tiny_clip, device="cpu")
    assert b.dimension == dimension
    items = _items(export_dir, dimension)
    scores = b.score(items, batch_size=5)
    assert len(scores) == len(items) and all(np.isfinite(scores))
    img, txt = b.embed(items[:3])
    cos = (img * txt).sum(axis=1)
    expected = {
        "clipscore": 2.5 * np.maximum(cos, 0),
        "hpsv2": cos,
        "pickscore": float(b.model.logit_scale.detach().exp()) * cos,
    }
    if name in expected:
        assert np.allclose(scores[:3], expected[name], atol=1e-5)
    else:
        anchors = b._text_embeds(list(IQA_PROMPTS))
        logits = 100 * img @ anchors.T
        p = np.exp(logits - logits.max(1, keepdims=True))
        assert np.allclose(scores[:3], p[:, 0] / p.sum(1), atol=1e-5) and all(0 <= s <= 1 for s in scores)


def test_videos_are_scored_as_the_mean_of_their_frames(tiny_clip, export_dir):
    b = load_baseline("clipscore", tiny_clip, device="cpu")
    video = next(r for r in _items(export_dir) if r["media_type"] == "video")
    from training.scorer.baselines.base import item_frames

    frames = item_frames(video, b.video_frames)
    assert 2 <= len(frames) <= 8
    img, txt = b.embed([video])
    per_frame = b._image_embeds(frames)
    mean = per_frame.mean(0)
    assert np.allclose(img[0], mean / np.linalg.norm(mean), atol=1e-6)


def test_fitted_head_beats_the_mean_on_its_training_split(tiny_clip, export_dir, tmp_path):
    path = finetune_baseline("clipscore", tiny_clip, export_dir, dimension="alignment", out_dir=tmp_path, alpha=1e-3)
    head = json.loads(path.read_text())
    assert head["dimension"] == "alignment" and head["n_train"] == len(_items(export_dir))
    ft = load_baseline("clipscore", tiny_clip, head=path, device="cpu")
    items = _items(export_dir)
    mos = np.array([r["mos"] for r in items])
    pred = np.array(ft.score(items))
    assert np.mean((pred - mos) ** 2) < 0.5 * np.var(mos)
    with pytest.raises(ValueError, match="CLIP-style"):
        finetune_baseline("blip2-itm", tiny_clip, export_dir, dimension="alignment", out_dir=tmp_path)


def test_blip2_itm_is_a_match_probability(tiny_blip2, export_dir):
    b = load_baseline("blip2-itm", tiny_blip2, device="cpu")
    scores = b.score(_items(export_dir)[:4], batch_size=2)
    assert len(scores) == 4 and all(0 < s < 1 for s in scores)


def test_vqascore_and_q_align_on_a_tiny_vlm(tiny_model_dir, export_dir):
    vqa = load_baseline("vqascore", tiny_model_dir, device="cpu")
    items = _items(export_dir)[:3]
    p_yes = vqa.score(items, batch_size=2)
    assert all(0 < p < 1 for p in p_yes)
    qa = load_baseline("q-align", tiny_model_dir, device="cpu")
    q = qa.score(_items(export_dir, "quality")[:3], batch_size=3)
    assert all(1 <= s <= 5 for s in q)
    text = qa.texts({"media_type": "image", "prompt": "x"})
    assert "How would you rate the quality of this image?" in text and text.endswith("The quality of the image is")


def test_run_baseline_writes_the_evaluate_csv(tiny_clip, export_dir, tmp_path):
    from training.scorer.metrics import PREDICTION_COLUMNS, read_predictions

    res = run_baseline(
        load_baseline("clipscore", tiny_clip, device="cpu"), export_dir, split="test", out_dir=tmp_path, batch_size=4
    )
    rows = read_predictions(res.predictions_path)
    assert list(rows[0])[: len(PREDICTION_COLUMNS)] == list(PREDICTION_COLUMNS)
    assert {r["dimension"] for r in rows} == {"alignment"} and {r["method"] for r in rows} == {"clipscore"}
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["_meta"]["baseline"]["name"] == "clipscore" and report["alignment"]["all"]["instance"]["n"] == len(
        rows
    )


@pytest.mark.parametrize("name,needs", [("niqe", "pyiqa"), ("brisque", "pyiqa"), ("imagereward", "ImageReward")])
def test_library_baselines_say_what_they_need(name, needs, tmp_path):
    try:
        load_baseline(name, tmp_path / "ImageReward.pt", device="cpu")
    except BaselineUnavailable as exc:
        assert needs in str(exc) and "install" in str(exc)
    else:  # pragma: no cover - only where pyiqa / image-reward import
        pytest.skip(f"{needs} imports here")


def test_hpsv2_open_clip_checkpoint_needs_open_clip(tmp_path):
    pt = tmp_path / "HPS_v2_compressed.pt"
    pt.write_bytes(b"not really")
    try:
        import open_clip  # noqa: F401
    except Exception:  # noqa: BLE001
        with pytest.raises(BaselineUnavailable, match="open_clip"):
            load_baseline("hpsv2", pt, device="cpu")
    with pytest.raises(BaselineUnavailable, match="no local model"):
        load_baseline("clipscore", tmp_path / "missing", device="cpu")
    with pytest.raises(ValueError, match="unknown baseline"):
        load_baseline("fid", tmp_path)


def test_benchmark_cli_runs_scorers_and_writes_the_report(tiny_model_dir, tiny_clip, export_dir, tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "training.scorer",
            "benchmark",
            "--data",
            str(export_dir),
            "--split",
            "train",
            "--out",
            str(tmp_path / "bench"),
            "--bootstrap",
            "50",
            "--batch-size",
            "4",
            "--method",
            f"qeval-tiny=qeval:{tiny_model_dir}",
            "--method",
            f"clip=clipscore:{tiny_clip}",
            "--method",
            f"iqa=clip-iqa:{tiny_clip}",
            "--method",
            f"clip-ft=clipscore:{tiny_clip}:fit",
            "video_max_frames=4",
            "video_max_pixels=3136",
            "video_min_pixels=784",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = json.loads((tmp_path / "bench" / "benchmark.json").read_text())
    assert rep["tables"]["alignment"]["methods"] == ["qeval-tiny", "clip", "clip-ft"]
    head = json.loads((tmp_path / "bench" / "methods" / "clip-ft" / "head" / "head.json").read_text())
    assert head["dimension"] == "alignment" and head["n_train"] > 0  # fitted on the export's train split
    assert rep["tables"]["quality"]["methods"] == ["qeval-tiny", "iqa"]
    assert (tmp_path / "bench" / "methods" / "clip" / "predictions.csv").exists()
    assert "<svg" in (tmp_path / "bench" / "benchmark.html").read_text()
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "training.scorer",
            "benchmark",
            "--data",
            str(export_dir),
            "--out",
            str(tmp_path / "b2"),
            "--method",
            "x=niqe:/nowhere",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 1 and bad.stderr.strip().startswith("benchmark: needs 'pyiqa'")
