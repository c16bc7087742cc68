"""Bounded inputs: every bound refuses with a reason a person can act on and writes nothing."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from annotation.models import Item, Job
from annotation.services.media import MediaError, probe_image, probe_video
from core.errors import InvalidInput
from tests.factories import make_mp4, make_png
from tests.imports.test_import_api import manifest_csv, upload

pytestmark = pytest.mark.django_db


def zip_of(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@override_settings(QEVAL_MAX_UPLOAD_BYTES=1000)
def test_an_upload_over_the_size_limit_is_refused_with_413_before_it_is_read(client_as, campaign):
    client, _ = client_as("researcher")
    response = upload(client, campaign.slug, b"x" * 5000)
    assert response.status_code == 413
    assert "more than the limit of 1000 bytes" in response.json()["detail"]
    assert not Job.objects.exists()


def test_a_zip_bomb_is_refused_from_its_directory_before_anything_is_unpacked(client_as, campaign):
    client, _ = client_as("researcher")
    bomb = zip_of(
        {
            "manifest.csv": manifest_csv([("a", "a.png", "p")]),
            "a.png": make_png(),
            "zeros.bin": b"\0" * (64 * 1024 * 1024),
        }
    )  # 64 MiB of zeros: about 64 KB compressed
    assert len(bomb) < 200_000
    response = upload(client, campaign.slug, bomb)
    assert response.status_code == 400
    assert "zeros.bin" in response.json()["detail"] and "QEVAL_IMPORT_MAX_MEMBER_RATIO" in response.json()["detail"]
    assert not Job.objects.exists()


@override_settings(IMPORT_MAX_UNZIPPED_BYTES=10_000)
def test_a_zip_that_unpacks_past_the_limit_is_refused(client_as, campaign):
    client, _ = client_as("researcher")
    big = zip_of(
        {"manifest.csv": manifest_csv([("a", "a.png", "p")]), "a.png": __import__("os").urandom(20_000)},
        compression=zipfile.ZIP_STORED,
    )
    response = upload(client, campaign.slug, big)
    assert response.status_code == 400 and "QEVAL_IMPORT_MAX_UNZIPPED_BYTES" in response.json()["detail"]


def test_only_the_members_the_manifest_names_are_unpacked(tmp_path):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from annotation.services.imports import archive_extract

    name = default_storage.save(
        "imports/uploads/t.zip",
        ContentFile(
            zip_of(
                {
                    "manifest.csv": manifest_csv([("a", "img/a.png", "p")]),
                    "img/a.png": make_png(),
                    "img/unnamed.png": make_png(),
                    "notes/secret.txt": b"not for us",
                }
            )
        ),
    )
    try:
        archive_extract(name=name, dest=tmp_path / "c", manifest="manifest.csv")
    finally:
        default_storage.delete(name)  # the shared media folder keeps no upload (test_import_api counts them)
    found = sorted(str(p.relative_to(tmp_path / "c")) for p in (tmp_path / "c").rglob("*") if p.is_file())
    assert found == ["img/a.png", "manifest.csv"]


@override_settings(QEVAL_MAX_PROMPT_CHARS=50)
def test_a_prompt_over_the_limit_is_refused_with_its_line(campaign, tmp_path):
    from annotation.services.imports import items_import

    (tmp_path / "a.png").write_bytes(make_png())
    (tmp_path / "manifest.csv").write_bytes(manifest_csv([("a", "a.png", "x" * 51)]))
    with pytest.raises(
        InvalidInput, match=r"manifest.csv line 2 \(item_id 'a'\): prompt is 51 characters.*limit of 50"
    ):
        items_import(campaign=campaign, manifest=tmp_path / "manifest.csv")
    assert not Item.objects.exists()


@override_settings(QEVAL_MAX_IMAGE_PIXELS=10_000)
def test_an_image_over_the_pixel_limit_is_refused_from_its_header(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(make_png(200, 100))  # 20,000 pixels
    with pytest.raises(MediaError, match=r"200x100 = 20000 pixels, more than the limit of 10000"):
        probe_image(path)


def test_a_png_named_mp4_is_refused_as_a_video(tmp_path):
    path = tmp_path / "fake.mp4"
    path.write_bytes(make_png())
    with pytest.raises(MediaError, match=r"the file is a png_pipe container, not a \.mp4 video"):
        probe_video(path)


@pytest.mark.parametrize(
    "setting,value,message",
    [
        ("QEVAL_MAX_VIDEO_SECONDS", 1, "longer than the limit of 1 s"),
        ("QEVAL_MAX_VIDEO_SIDE", 16, "larger than 16 pixels on a side"),
        ("QEVAL_MAX_VIDEO_FRAMES", 4, "more than the limit of 4"),
    ],
)
def test_a_video_past_a_bound_is_refused(tmp_path, setting, value, message):
    path = tmp_path / "v.mp4"
    make_mp4(path, frames=12, fps=4)  # 3 s, 32x32, 12 frames
    assert probe_video(path).width == 32  # within the default bounds
    with override_settings(**{setting: value}), pytest.raises(MediaError, match=message):
        probe_video(path)


def test_csv_exports_escape_cells_a_spreadsheet_would_run():
    from annotation.services import csv_safe

    buf = io.StringIO()
    csv_safe.DictWriter(buf, fieldnames=["prompt", "mos"]).writerow({"prompt": '=HYPERLINK("http://x")', "mos": -1.5})
    csv_safe.Writer(buf).writerow(["@SUM(A1)", "+1", "-cmd", "\tx", "a = b", 3])
    assert buf.getvalue().splitlines() == ['"\'=HYPERLINK(""http://x"")",-1.5', "'@SUM(A1),'+1,'-cmd,'\tx,a = b,3"]


@override_settings(QEVAL_MAX_UPLOAD_BYTES=1000)
def test_a_page_upload_over_the_size_limit_is_refused_with_413_before_it_is_read(campaign, make_user):
    """The import page takes the same zips as the API: the same bound, before Django spools the body to disk."""
    from django.test import Client

    client = Client()
    client.force_login(make_user("researcher"))
    archive = SimpleUploadedFile("big.zip", b"x" * 5000, content_type="application/zip")
    response = client.post(f"/manage/campaigns/{campaign.slug}/import/", {"archive": archive})
    assert response.status_code == 413 and response["Content-Type"].startswith("text/plain")
    assert "more than the limit of 1000 bytes (QEVAL_MAX_UPLOAD_BYTES)" in response.content.decode()
    assert not Job.objects.exists()
