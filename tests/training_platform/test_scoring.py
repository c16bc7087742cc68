"""The scoring API and the scorer registration command, with the tiny model on the CPU."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.factories import make_mp4, make_png
from training.models import Scorer
from training.services.scorers import scorer_register

pytest.importorskip("torch")


@pytest.fixture
def tiny_scorer(db, tiny_model_dir):
    return scorer_register(name="tiny", path=tiny_model_dir)


@pytest.mark.django_db
def test_score_api_returns_quality_and_alignment_for_an_image_and_a_video(client_as, tiny_scorer, tmp_path):
    client, _ = client_as("researcher")
    make_mp4(tmp_path / "clip.mp4", frames=8, fps=4)
    files = [
        SimpleUploadedFile("red.png", make_png(64, 48), content_type="image/png"),
        SimpleUploadedFile("clip.mp4", (tmp_path / "clip.mp4").read_bytes(), content_type="video/mp4"),
    ]
    resp = client.post(
        f"/api/v1/scorers/{tiny_scorer.pk}/score/", {"media": files, "prompt": "a red square"}, format="multipart"
    )
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert [r["filename"] for r in body] == ["red.png", "clip.mp4"]
    assert [r["media_type"] for r in body] == ["image", "video"]
    for r in body:
        assert 1.0 <= r["quality"] <= 5.0 and 1.0 <= r["alignment"] <= 5.0


@pytest.mark.django_db
def test_score_api_rejects_a_text_file_with_a_reason(client_as, tiny_scorer):
    client, _ = client_as("researcher")
    bad = SimpleUploadedFile("notes.txt", b"just some text, not an image", content_type="text/plain")
    resp = client.post(f"/api/v1/scorers/{tiny_scorer.pk}/score/", {"media": [bad], "prompt": "x"}, format="multipart")
    assert resp.status_code == 400
    assert "notes.txt" in resp.json()["detail"] and "not a readable image or video" in resp.json()["detail"]


@pytest.mark.django_db
def test_score_api_needs_a_prompt_and_a_file(client_as, tiny_scorer):
    client, _ = client_as("researcher")
    png = SimpleUploadedFile("a.png", make_png(), content_type="image/png")
    resp = client.post(f"/api/v1/scorers/{tiny_scorer.pk}/score/", {"media": [png]}, format="multipart")
    assert resp.status_code == 400 and "prompt is required" in resp.json()["detail"]
    resp = client.post(f"/api/v1/scorers/{tiny_scorer.pk}/score/", {"prompt": "x"}, format="multipart")
    assert resp.status_code == 400 and "media" in resp.json()["detail"]


@pytest.mark.django_db
def test_score_batch_task_writes_jsonl(tiny_scorer, tmp_path):
    from training.tasks import score_batch

    img = tmp_path / "a.png"
    img.write_bytes(make_png(40, 40, (10, 200, 10)))
    out = score_batch.delay(
        tiny_scorer.pk, [{"media": str(img), "prompt": "a green square"}], str(tmp_path / "s.jsonl")
    ).get()
    rows = [json.loads(line) for line in open(out)]
    assert len(rows) == 1 and rows[0]["media"] == str(img) and 1 <= rows[0]["quality"] <= 5


@pytest.mark.django_db
def test_register_scorer_command(tiny_model_dir, tmp_path, capsys):
    call_command("register_scorer", "--path", str(tiny_model_dir), "--name", "mine", "--base-model", "tiny")
    scorer = Scorer.objects.get(name="mine")
    assert scorer.base_model == "tiny" and f"scorer {scorer.pk}" in capsys.readouterr().out
    with pytest.raises(CommandError, match="holds no model"):
        call_command("register_scorer", "--path", str(tmp_path), "--name", "empty")
    with pytest.raises(CommandError, match="either --path"):
        call_command("register_scorer")
    assert Scorer.objects.count() == 1


@pytest.mark.django_db
def test_register_tiny_builds_it_once_under_training_root(settings, tmp_path):
    settings.TRAINING_ROOT = tmp_path
    call_command("register_scorer", "--tiny")
    scorer = Scorer.objects.get(name="tiny-demo")
    assert (tmp_path / "tiny-model" / "model.safetensors").is_file() and scorer.path == str(tmp_path / "tiny-model")
    call_command("register_scorer", "--tiny")  # idempotent
    assert Scorer.objects.filter(name="tiny-demo").count() == 1
