"""Every kind of bad input: the command exits with one line naming the row and the problem, and
imports nothing at all (no rows, no prompts, no generators, no new files in media storage)."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.models import Item
from annotation.services.imports import items_import
from annotation.services.jobs import Progress, job_create
from tests.factories import CampaignFactory, GeneratorFactory, ItemFactory
from tests.imports.conftest import media_files, snapshot, unique_png

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def fails(campaign_slug: str, manifest: Path, *extra) -> str:
    """Run the command expecting failure; check nothing changed; return the one-line message."""
    before = snapshot()
    with pytest.raises(CommandError) as err:
        call_command(
            "import_items",
            "--campaign",
            campaign_slug,
            "--manifest",
            str(manifest),
            *extra,
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert snapshot() == before
    message = str(err.value)
    assert "\n" not in message and message
    return message


def good_rows(content, n=2):
    return [content.row(f"ok-{i}") for i in range(n)]  # fresh random images: storing them would show


def test_missing_column(campaign, content):
    manifest = content.csv(good_rows(content), columns=["item_id", "media_path", "media_type", "prompt"])
    assert fails(campaign.slug, manifest) == (
        "manifest.csv line 1: missing column(s) generator (required: item_id, media_path, media_type, prompt, generator)"
    )


def test_missing_field_in_a_jsonl_row(campaign, content):
    rows = good_rows(content) + [{"item_id": "x", "media_path": "x.png", "media_type": "image", "prompt": "p"}]
    assert (
        fails(campaign.slug, content.jsonl(rows)) == "manifest.jsonl line 3 (item_id 'x'): missing field(s) generator"
    )


def test_unknown_media_type(campaign, content):
    rows = good_rows(content) + [content.row("bad", media_path=content.image("bad.png"), media_type="gif")]
    assert fails(campaign.slug, content.csv(rows)) == (
        "manifest.csv line 4 (item_id 'bad'): unknown media_type 'gif' (use image or video)"
    )


def test_missing_file(campaign, content):
    rows = good_rows(content) + [content.row("gone", media_path="nowhere/gone.png")]
    assert (
        fails(campaign.slug, content.csv(rows))
        == "manifest.csv line 4 (item_id 'gone'): file not found: nowhere/gone.png"
    )


def test_a_folder_instead_of_a_file(campaign, content):
    (content.root / "adir").mkdir()
    rows = good_rows(content) + [content.row("dir", media_path="adir")]
    assert fails(campaign.slug, content.csv(rows)) == "manifest.csv line 4 (item_id 'dir'): not a regular file: adir"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file(campaign, content):
    name = content.image("locked.png")
    (content.root / name).chmod(0)
    rows = good_rows(content) + [content.row("locked", media_path=name)]
    assert "file not readable: locked.png" in fails(campaign.slug, content.csv(rows))


def test_a_truncated_image(campaign, content):
    data = unique_png(64, 64)
    rows = good_rows(content) + [content.row("cut", media_path=content.image("cut.png", data[: len(data) // 2]))]
    message = fails(campaign.slug, content.csv(rows))
    assert message.startswith("manifest.csv line 4 (item_id 'cut'): cut.png: not a readable image (")


def test_a_text_file_called_png(campaign, content):
    rows = good_rows(content) + [content.row("txt", media_path=content.image("t.png", b"hello, not an image"))]
    assert "line 4 (item_id 'txt'): t.png: not a readable image (cannot identify image file" in fails(
        campaign.slug, content.csv(rows)
    )


def test_a_corrupt_video(campaign, content):
    (content.root / "broken.mp4").write_bytes(os.urandom(4096))
    rows = good_rows(content) + [content.row("v", media_path="broken.mp4", media_type="video")]
    assert fails(campaign.slug, content.csv(rows)).startswith(
        "manifest.csv line 4 (item_id 'v'): broken.mp4: not a readable video ("
    )


def test_an_image_given_as_a_video(campaign, content):
    rows = good_rows(content) + [content.row("v", media_path=content.image("really.png"), media_type="video")]
    assert "line 4 (item_id 'v'): really.png: video extension .png is not supported" in fails(
        campaign.slug, content.csv(rows)
    )


def test_a_path_with_dotdot_leaves_the_media_root(campaign, content, tmp_path):
    (tmp_path / "outside.png").write_bytes(unique_png())
    rows = good_rows(content) + [content.row("up", media_path="../outside.png")]
    assert fails(campaign.slug, content.csv(rows)) == (
        "manifest.csv line 4 (item_id 'up'): media_path '../outside.png' leaves the media root ('..')"
    )


def test_an_absolute_path_is_refused(campaign, content, tmp_path):
    (tmp_path / "abs.png").write_bytes(unique_png())
    rows = good_rows(content) + [content.row("abs", media_path=str(tmp_path / "abs.png"))]
    assert "line 4 (item_id 'abs'): media_path" in (msg := fails(campaign.slug, content.csv(rows)))
    assert "is absolute: it must be relative to the media root" in msg


def test_a_symlink_escaping_the_media_root(campaign, content, tmp_path):
    (tmp_path / "secret.png").write_bytes(unique_png())
    os.symlink(tmp_path / "secret.png", content.root / "link.png")
    rows = good_rows(content) + [content.row("link", media_path="link.png")]
    assert fails(campaign.slug, content.csv(rows)) == (
        "manifest.csv line 4 (item_id 'link'): media_path 'link.png' leaves the media root (a symlink points outside it)"
    )


def test_a_symlinked_folder_escaping_the_media_root(campaign, content, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.png").write_bytes(unique_png())
    os.symlink(tmp_path / "elsewhere", content.root / "linked")
    rows = good_rows(content) + [content.row("ld", media_path="linked/x.png")]
    assert fails(campaign.slug, content.csv(rows)) == (
        "manifest.csv line 4 (item_id 'ld'): media_path 'linked/x.png' leaves the media root (a symlink points outside it)"
    )


def test_a_dangling_symlink_is_a_missing_file(campaign, content, tmp_path):
    os.symlink(content.root / "no-such.png", content.root / "dangling.png")
    rows = good_rows(content) + [content.row("dg", media_path="dangling.png")]
    assert fails(campaign.slug, content.csv(rows)) == "manifest.csv line 4 (item_id 'dg'): file not found: dangling.png"


def test_a_symlink_inside_the_media_root_is_fine(campaign, content):
    os.symlink(content.root / content.image("real.png"), content.root / "alias.png")
    items_import(campaign=campaign, manifest=content.csv([content.row("alias", media_path="alias.png")]))
    assert Item.objects.filter(campaign=campaign, item_id="alias").exists()


def test_a_duplicate_item_id_in_the_file(campaign, content):
    rows = good_rows(content) + [content.row("ok-0", media_path=content.image("again.png"))]
    assert (
        fails(campaign.slug, content.csv(rows))
        == "manifest.csv line 4 (item_id 'ok-0'): duplicate item_id (first on line 2)"
    )


def test_an_item_id_already_in_the_campaign(campaign, content):
    ItemFactory(campaign=campaign, item_id="taken")
    rows = good_rows(content) + [content.row("taken")]
    assert fails(campaign.slug, content.csv(rows)) == (
        f"manifest.csv line 4 (item_id 'taken'): item_id is already in campaign {campaign.slug!r}"
    )


def test_the_same_item_id_in_another_campaign_is_fine(campaign, content):
    ItemFactory(campaign=CampaignFactory(), item_id="shared-id")
    items_import(campaign=campaign, manifest=content.csv([content.row("shared-id")]))
    assert Item.objects.filter(item_id="shared-id").count() == 2


def test_an_empty_prompt(campaign, content):
    rows = good_rows(content) + [content.row("np", prompt="   ")]
    assert fails(campaign.slug, content.csv(rows)) == "manifest.csv line 4 (item_id 'np'): empty prompt"


def test_an_empty_item_id(campaign, content):
    rows = good_rows(content) + [content.row("", media_path=content.image("noid.png"))]
    assert fails(campaign.slug, content.csv(rows)) == "manifest.csv line 4: empty item_id"


def test_an_unknown_campaign(content):
    assert fails("no-such-campaign", content.csv(good_rows(content))) == "campaign 'no-such-campaign' does not exist"


def test_a_generator_used_for_images_and_videos_in_one_file(campaign, content):
    rows = [content.row("i", generator="both"), content.row("v", media_type="video", generator="both")]
    assert "line 3 (item_id 'v'): generator 'both' is a image generator (line 2)" in fails(
        campaign.slug, content.csv(rows)
    )


def test_a_generator_that_exists_for_the_other_media_type(campaign, content):
    GeneratorFactory(name="vidgen", media_type="video")
    rows = good_rows(content) + [content.row("i", generator="vidgen")]
    assert "line 4 (item_id 'i'): generator 'vidgen' already exists as a video generator" in fails(
        campaign.slug, content.csv(rows)
    )


@pytest.mark.parametrize(
    "name,text,expected",
    [
        ("manifest.jsonl", '{"item_id": "a", "media_path": "a.png"\n', "manifest.jsonl line 1: not valid JSON ("),
        ("manifest.jsonl", '["a", "b"]\n', "manifest.jsonl line 1: each line must be a JSON object"),
        (
            "manifest.csv",
            "item_id,media_path,media_type,prompt,generator\na,a.png,image,p\n",
            "manifest.csv line 2 (item_id 'a'): expected 5 fields, found 4",
        ),
        ("manifest.csv", "", "manifest.csv: the manifest is empty"),
        (
            "manifest.csv",
            "item_id,media_path,media_type,prompt,generator\n",
            "manifest.csv: the manifest has no rows to import",
        ),
        ("manifest.txt", "item_id\n", "manifest.txt: a manifest must be .csv or .jsonl"),
    ],
)
def test_an_unparseable_manifest(campaign, content, name, text, expected):
    path = content.root / name
    path.write_text(text)
    assert fails(campaign.slug, path).startswith(expected)


def test_a_manifest_that_is_not_utf8(campaign, content):
    path = content.root / "manifest.csv"
    path.write_bytes(b"item_id,media_path,media_type,prompt,generator\na,a.png,image,caf\xe9 \xff,sdxl\n")
    assert fails(campaign.slug, path) == "manifest.csv line 2: the manifest is not UTF-8 text"


def test_a_missing_manifest(campaign, tmp_path):
    assert fails(campaign.slug, tmp_path / "nope.csv").startswith("manifest not found: ")


def test_the_bad_row_is_found_after_good_rows_that_need_probing(campaign, content):
    """The corrupt file is the LAST row: every earlier file was probed but none was stored."""
    rows = good_rows(content, 5) + [content.row("last", media_path=content.image("last.png", b"\x89PNG\r\n\x1a\nxx"))]
    assert "line 7 (item_id 'last')" in fails(campaign.slug, content.csv(rows))


def test_an_import_interrupted_while_writing_removes_the_files_it_stored(campaign, content):
    """Ctrl-C (or any failure) after the files were stored: the rows roll back and the new files go,
    but a file an earlier item already uses stays."""
    items_import(campaign=campaign, manifest=content.csv([content.row("earlier", media_path=content.image("old.png"))]))
    before = snapshot()
    job = job_create(kind="import_items", params={}, campaign=campaign)

    def on_update(done, total, message):
        if message == "writing items":
            raise KeyboardInterrupt

    rows = good_rows(content, 3) + [content.row("reuse", media_path="old.png")]
    with pytest.raises(KeyboardInterrupt):
        items_import(
            campaign=campaign, manifest=content.csv(rows, name="second.csv"), progress=Progress(job, on_update), job=job
        )
    assert snapshot() == before
    assert Item.objects.get(item_id="earlier").media.name in media_files()


def test_a_failing_command_exits_1_with_one_line_on_stderr(content):
    db = settings.DATABASES["default"]  # the test database, which the subprocess must use too
    env = dict(
        os.environ,
        PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'platform'}",
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
    )
    proc = subprocess.run(
        [sys.executable, "manage.py", "import_items", "--campaign", "nope", "--manifest", str(content.root / "m.csv")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == ["CommandError: campaign 'nope' does not exist"]


def test_media_root_must_be_a_folder(campaign, content, tmp_path):
    assert fails(campaign.slug, content.csv(good_rows(content)), "--media-root", str(tmp_path / "missing")).startswith(
        "media root is not a folder: "
    )
