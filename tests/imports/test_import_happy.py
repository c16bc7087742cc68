"""Imports that succeed: images (CSV), videos (JSONL), content-addressed storage, prompts and generators."""

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from annotation.models import Generator, Item, Job, Prompt
from annotation.services.imports import items_import
from annotation.services.media import media_name, thumbnail_name
from tests.factories import CampaignFactory, GeneratorFactory

pytestmark = pytest.mark.django_db


def run_import(campaign, manifest, *extra) -> str:
    out = io.StringIO()
    call_command(
        "import_items",
        "--campaign",
        campaign.slug,
        "--manifest",
        str(manifest),
        *extra,
        stdout=out,
        stderr=io.StringIO(),
    )
    return out.getvalue()


def test_images_from_a_csv_manifest_become_items_with_size_hash_target_and_stored_files(campaign, content):
    rows = [
        content.row("img-1"),
        content.row("img-2", generator="FLUX.1-dev"),
        content.row("img-3", media_path=content.image("sub/dir/x.png", width=40, height=30)),
    ]
    out = run_import(campaign, content.csv(rows))

    assert "imported 3 items (3 images, 0 videos)" in out
    items = {i.item_id: i for i in Item.objects.filter(campaign=campaign).select_related("generator", "prompt")}
    assert set(items) == {"img-1", "img-2", "img-3"}
    third = items["img-3"]
    assert (third.width, third.height, third.media_type, third.target) == (40, 30, "image", campaign.ratings_per_image)
    assert (third.duration, third.fps) == (None, None)
    assert third.media.name == media_name(third.sha256, "png")
    assert third.media.name.startswith(f"media/{third.sha256[:2]}/")
    assert third.thumbnail.name == thumbnail_name(third.sha256)
    stored = Path(settings.MEDIA_ROOT) / third.media.name
    assert stored.read_bytes() == (content.root / "sub/dir/x.png").read_bytes()
    from PIL import Image

    with Image.open(Path(settings.MEDIA_ROOT) / third.thumbnail.name) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) <= 320
    assert items["img-2"].generator.name == "FLUX.1-dev"
    assert Generator.objects.get(name="sdxl").media_type == "image"
    assert items["img-1"].prompt.category == "Entity Generation"
    assert items["img-1"].prompt.subcategory == "object"


def test_videos_from_a_jsonl_manifest_are_probed_for_duration_fps_and_size(campaign, content):
    rows = [
        content.row("vid-1", media_type="video", media_path=content.video("v1.mp4", frames=8, fps=4, size=(48, 32))),
        content.row("vid-2", media_type="video", media_path=content.video("v2.mp4", frames=6, fps=6, size=(32, 32))),
    ]
    run_import(campaign, content.jsonl(rows))

    first = Item.objects.get(campaign=campaign, item_id="vid-1")
    assert (first.media_type, first.width, first.height, first.target) == ("video", 48, 32, campaign.ratings_per_video)
    assert first.fps == pytest.approx(4.0)
    assert first.duration == pytest.approx(2.0, abs=0.3)
    assert first.media.name.endswith(".mp4")
    with open(Path(settings.MEDIA_ROOT) / first.thumbnail.name, "rb") as fh:
        assert fh.read(3) == b"\xff\xd8\xff"  # a JPEG poster frame
    second = Item.objects.get(campaign=campaign, item_id="vid-2")
    assert second.fps == pytest.approx(6.0)
    assert Generator.objects.get(name="t2v-model").media_type == "video"


def test_the_same_file_imported_twice_is_stored_once(content):
    one, two = CampaignFactory(), CampaignFactory()
    shared = content.image("shared.png")
    run_import(one, content.csv([content.row("a", media_path=shared), content.row("b", media_path=shared)]))
    before = {p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()}
    run_import(two, content.csv([content.row("a", media_path=shared)], name="again.csv"))
    after = {p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()}

    items = list(Item.objects.filter(item_id__in=["a", "b"]))
    assert len(items) == 3 and len({i.media.name for i in items}) == 1
    assert after == before


def test_prompts_are_shared_by_text_and_count_their_words(campaign, content):
    long_prompt = " ".join(["word"] * 30)
    rows = [
        content.row("a", prompt=long_prompt, category="Interaction Ability", subcategory="spatial"),
        content.row("b", prompt=long_prompt),
        content.row("c", prompt="  a cat  "),
    ]
    run_import(campaign, content.csv(rows))

    a, b, c = (Item.objects.select_related("prompt").get(item_id=i) for i in "abc")
    assert a.prompt_id == b.prompt_id
    assert (a.prompt.word_count, a.prompt.category, a.prompt.subcategory) == (30, "Interaction Ability", "spatial")
    assert (c.prompt.text, c.prompt.word_count) == ("a cat", 2)
    assert Prompt.objects.count() == 2


def test_existing_generators_and_prompts_are_reused(campaign, content):
    GeneratorFactory(name="sdxl", media_type="image")
    run_import(campaign, content.csv([content.row("a", prompt="same text")]))
    run_import(campaign, content.csv([content.row("b", prompt="same text")], name="second.csv"))
    assert Generator.objects.filter(name="sdxl").count() == 1
    assert Prompt.objects.filter(text="same text").count() == 1


def test_media_root_option_and_optional_columns_may_be_left_out(campaign, content, tmp_path):
    content.image("pics/a.png")
    manifest_dir = tmp_path / "elsewhere"
    manifest_dir.mkdir()
    manifest = manifest_dir / "m.csv"
    manifest.write_text("item_id,media_path,media_type,prompt,generator\na,pics/a.png,IMAGE,a dog,sdxl\n")
    run_import(campaign, manifest, "--media-root", str(content.root))
    item = Item.objects.select_related("prompt").get(item_id="a")
    assert (item.media_type, item.prompt.category) == ("image", "")


def test_a_foreground_import_records_a_succeeded_job_with_full_progress(campaign, content):
    run_import(campaign, content.csv([content.row("a"), content.row("b")]))
    job = Job.objects.get(kind="import_items")
    assert (job.status, job.progress, job.total) == ("succeeded", 4, 4)  # each row: probed, then stored
    assert job.result["items_created"] == 2


def test_enqueue_prints_the_job_id_and_leaves_the_job_queued(campaign, content):
    out = run_import(campaign, content.csv([content.row("a")]), "--enqueue")
    job_id = int(out.strip().splitlines()[-1])
    job = Job.objects.get(pk=job_id)
    assert (job.kind, job.status, job.campaign_id) == ("import_items", "queued", campaign.pk)
    assert Path(job.params["manifest"]).is_absolute()
    assert not Item.objects.filter(campaign=campaign).exists()


def test_the_service_reports_a_result_without_a_job(campaign, content):
    result = items_import(campaign=campaign, manifest=content.jsonl([content.row("a"), content.row("b")]))
    assert (result["items_created"], result["images"], result["prompts_created"]) == (2, 2, 2)


def test_a_job_run_again_after_its_worker_died_does_not_import_twice(campaign, content):
    """acks_late redelivers a job whose worker died after the commit but before the job was marked
    done: the re-run finds the result committed with the items and stops."""
    from annotation.services.jobs import job_run

    manifest = content.csv([content.row("a"), content.row("b")])
    job = Job.objects.create(
        kind="import_items",
        campaign=campaign,
        params={"campaign": campaign.slug, "manifest": str(manifest), "media_root": None},
    )
    first = job_run(job_id=job.pk).result
    # As if killed before _finish: a dead worker's heartbeat goes stale (a fresh one means it is alive).
    from datetime import timedelta

    from django.utils import timezone

    Job.objects.filter(pk=job.pk).update(
        status="running", finished_at=None, heartbeat_at=timezone.now() - timedelta(minutes=10)
    )
    again = job_run(job_id=job.pk)
    assert (again.status, again.result) == ("succeeded", first)
    assert Item.objects.filter(campaign=campaign).count() == 2


def test_a_failed_foreground_import_leaves_a_failed_job_with_the_one_line_error(campaign, content):
    from django.core.management.base import CommandError

    manifest = content.csv([content.row("a", prompt="")])
    with pytest.raises(CommandError):
        run_import(campaign, manifest)
    job = Job.objects.get(kind="import_items")
    assert (job.status, job.error) == ("failed", "manifest.csv line 2 (item_id 'a'): empty prompt")


def test_the_same_video_bytes_under_two_extensions_get_a_stored_file_each(campaign, content):
    content.video("clip.mp4")
    (content.root / "clip.mov").write_bytes((content.root / "clip.mp4").read_bytes())
    rows = [
        content.row("mp4", media_type="video", media_path="clip.mp4"),
        content.row("mov", media_type="video", media_path="clip.mov"),
    ]
    run_import(campaign, content.csv(rows))
    for item in Item.objects.filter(campaign=campaign):
        assert (Path(settings.MEDIA_ROOT) / item.media.name).is_file()
    assert {i.media.name.rsplit(".", 1)[1] for i in Item.objects.filter(campaign=campaign)} == {"mp4", "mov"}


def test_progress_is_reported_in_steps_and_ends_at_the_total(campaign, content):
    from annotation.services.jobs import Progress, job_create

    seen = []
    job = job_create(kind="import_items", params={}, campaign=campaign)
    shared = content.image("one.png")
    rows = [content.row(f"r{i}", media_path=shared) for i in range(120)]
    items_import(
        campaign=campaign,
        manifest=content.csv(rows),
        job=job,
        progress=Progress(job, lambda done, total, message: seen.append((done, total, message))),
    )
    probing = [done for done, _, message in seen if message == "probing media"]
    assert probing == [50, 100, 120]
    assert seen[-1][:2] == (240, 240)
    job.refresh_from_db()
    assert (job.progress, job.total) == (240, 240)
