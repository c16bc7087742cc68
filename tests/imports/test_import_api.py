"""The researcher's import API (zip upload and server folder), the item and user lists, permissions."""

import io
import uuid
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.models import Item, Job
from tests.celery_worker import wait_for
from tests.factories import CampaignFactory, ItemFactory
from tests.imports.conftest import Content, media_files, snapshot, unique_png

pytestmark = pytest.mark.django_db


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def manifest_csv(rows: list[tuple[str, str, str]]) -> bytes:
    lines = ["item_id,media_path,media_type,prompt,generator,category"]
    lines += [f"{item_id},{path},image,{prompt},sdxl,Entity Generation" for item_id, path, prompt in rows]
    return ("\n".join(lines) + "\n").encode()


def upload(client, slug, data: bytes, name="content.zip", **fields):
    return client.post(
        f"/api/v1/campaigns/{slug}/imports/",
        {"archive": SimpleUploadedFile(name, data, content_type="application/zip"), **fields},
        format="multipart",
    )


def test_a_zip_upload_answers_202_and_its_job_imports_the_items(
    client_as, campaign, django_capture_on_commit_callbacks
):
    client, user = client_as("researcher")
    uploads_before = {name for name in media_files() if name.startswith("imports/uploads/")}
    archive = make_zip(
        {
            "manifest.csv": manifest_csv([("z1", "img/a.png", "a cat"), ("z2", "img/b.png", "a dog")]),
            "img/a.png": unique_png(),
            "img/b.png": unique_png(30, 20),
        }
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, campaign.slug, archive)

    assert response.status_code == 202, response.data
    job = Job.objects.get(pk=response.data["job_id"])
    assert response.data["status_url"] == f"/api/v1/jobs/{job.pk}/"
    assert (job.status, job.kind, job.created_by, job.result["items_created"]) == ("succeeded", "import_items", user, 2)
    assert Item.objects.get(campaign=campaign, item_id="z2").width == 30
    uploads_after = {name for name in media_files() if name.startswith("imports/uploads/")}
    assert uploads_after == uploads_before  # the upload is gone (the media folder is the session's: others' stay)
    status = client.get(response.data["status_url"])
    assert (status.status_code, status.data["status"], status.data["progress"]) == (200, "succeeded", 4)


def test_a_zip_with_a_named_manifest_in_a_subfolder(client_as, campaign, django_capture_on_commit_callbacks):
    client, _ = client_as("admin")
    archive = make_zip(
        {
            "set/list.jsonl": b'{"item_id": "j1", "media_path": "x.png", "media_type": "image", '
            b'"prompt": "a tree", "generator": "sdxl"}\n',
            "set/x.png": unique_png(),
        }
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, campaign.slug, archive, manifest="set/list.jsonl")
    assert response.status_code == 202, response.data
    assert Item.objects.filter(campaign=campaign, item_id="j1").exists()


@pytest.mark.parametrize(
    "members,reason",
    [
        (
            {"../evil.png": b"x", "manifest.csv": b"item_id"},
            "archive member '../evil.png' leaves the archive folder ('..')",
        ),
        ({"/etc/evil.png": b"x", "manifest.csv": b"item_id"}, "archive member '/etc/evil.png' has an absolute path"),
        (
            {"img/a.png": b"x"},
            "archive has no manifest.csv or manifest.jsonl at its top level (or name it in 'manifest')",
        ),
        ({"sub/manifest.csv": b"x"}, "archive has no manifest.csv or manifest.jsonl at its top level"),
    ],
)
def test_bad_zips_are_refused_at_once_with_a_reason(client_as, campaign, members, reason):
    client, _ = client_as("researcher")
    before, jobs = snapshot(), Job.objects.count()
    response = upload(client, campaign.slug, make_zip(members))
    assert response.status_code == 400
    assert response.data["detail"].startswith(reason)
    assert (snapshot(), Job.objects.count()) == (before, jobs)


def test_a_zip_symlink_member_is_refused(client_as, campaign):
    client, _ = client_as("researcher")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        link = zipfile.ZipInfo("link.png")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("manifest.csv", manifest_csv([("a", "link.png", "p")]))
    response = upload(client, campaign.slug, buf.getvalue())
    assert (response.status_code, response.data["detail"]) == (400, "archive member 'link.png' is a symlink")


def test_a_file_that_is_not_a_zip_is_refused(client_as, campaign):
    client, _ = client_as("researcher")
    before = snapshot()
    response = upload(client, campaign.slug, b"PK\x03\x04 but not really a zip at all", name="x.zip")
    assert (response.status_code, response.data["detail"]) == (400, "archive is not a zip file")
    assert snapshot() == before


def test_neither_or_both_sources_is_a_400(client_as, campaign):
    client, _ = client_as("researcher")
    response = client.post(f"/api/v1/campaigns/{campaign.slug}/imports/", {}, format="json")
    assert response.status_code == 400
    assert "send exactly one of 'archive' (multipart) or 'server_path' (JSON)" in response.data["detail"]


def test_an_unknown_campaign_is_a_404(client_as):
    client, _ = client_as("researcher")
    response = client.post("/api/v1/campaigns/nope/imports/", {"server_path": "/x"}, format="json")
    assert (response.status_code, response.data["detail"]) == (404, "campaign 'nope' does not exist")


def import_root_folder() -> Content:
    return Content(Path(settings.IMPORT_ROOTS[0]) / uuid.uuid4().hex)


def test_a_server_folder_inside_the_import_roots_is_imported(client_as, campaign, django_capture_on_commit_callbacks):
    client, _ = client_as("researcher")
    folder = import_root_folder()
    folder.csv([folder.row("s1"), folder.row("s2")])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/campaigns/{campaign.slug}/imports/", {"server_path": str(folder.root)}, format="json"
        )
    assert response.status_code == 202, response.data
    assert Job.objects.get(pk=response.data["job_id"]).status == "succeeded"
    assert set(Item.objects.filter(campaign=campaign).values_list("item_id", flat=True)) == {"s1", "s2"}


def test_a_server_manifest_file_path_is_imported(client_as, campaign, django_capture_on_commit_callbacks):
    client, _ = client_as("researcher")
    folder = import_root_folder()
    manifest = folder.jsonl([folder.row("f1")], name="batch.jsonl")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/campaigns/{campaign.slug}/imports/", {"server_path": str(manifest)}, format="json"
        )
    assert response.status_code == 202
    assert Item.objects.filter(campaign=campaign, item_id="f1").exists()


def test_a_server_path_outside_the_import_roots_is_forbidden(client_as, campaign, content):
    client, _ = client_as("researcher")
    manifest = content.csv([content.row("x")])
    for path in (str(manifest), str(Path(settings.IMPORT_ROOTS[0]) / ".." / "media")):
        response = client.post(f"/api/v1/campaigns/{campaign.slug}/imports/", {"server_path": path}, format="json")
        assert response.status_code == 403
        assert response.data["detail"].startswith("server_path must lie inside an import root")
    assert not Job.objects.exists()


def test_a_server_folder_without_a_manifest_is_a_400(client_as, campaign):
    client, _ = client_as("researcher")
    folder = import_root_folder()
    folder.image("only.png")
    response = client.post(
        f"/api/v1/campaigns/{campaign.slug}/imports/", {"server_path": str(folder.root)}, format="json"
    )
    assert (response.status_code, response.data["detail"]) == (
        400,
        f"no manifest.csv or manifest.jsonl in {folder.root}",
    )


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_bad_row_in_an_uploaded_zip_fails_the_job_with_one_line_and_imports_nothing(client_as, celery_worker):
    """Committed rows and a real worker: the request answers 202 at once, the job fails on the worker."""
    campaign = CampaignFactory()
    client, _ = client_as("researcher")
    before = snapshot()
    archive = make_zip(
        {"manifest.csv": manifest_csv([("ok", "a.png", "p"), ("bad", "../../etc/passwd", "p")]), "a.png": unique_png()}
    )
    response = upload(client, campaign.slug, archive)
    assert response.status_code == 202
    job = wait_for(
        lambda: Job.objects.filter(pk=response.data["job_id"], status__in=["failed", "succeeded"]).first(),
        timeout=90,
        what="the import job",
    )
    assert job.status == "failed"
    assert (
        job.error == "manifest.csv line 3 (item_id 'bad'): media_path '../../etc/passwd' leaves the media root ('..')"
    )
    assert snapshot() == before  # nothing imported; the upload was removed too
    assert client.get(response.data["status_url"]).data["error"] == job.error


# --------------------------------------------------------------------------- permissions and lists


@pytest.mark.parametrize(
    "method,url",
    [
        ("post", "/api/v1/campaigns/{slug}/imports/"),
        ("get", "/api/v1/campaigns/{slug}/items/"),
        ("get", "/api/v1/users/"),
    ],
)
def test_an_annotator_cannot_import_list_items_or_see_users(client_as, campaign, method, url):
    client, _ = client_as("annotator")
    before = snapshot()
    response = getattr(client, method)(
        url.format(slug=campaign.slug),
        {"server_path": "/x"} if method == "post" else None,
        format="json" if method == "post" else None,
    )
    assert response.status_code == 403
    assert "This needs one of the roles" in response.data["detail"]
    assert snapshot() == before


def test_an_expert_cannot_import_either(client_as, campaign):
    client, _ = client_as("expert")
    assert client.post(f"/api/v1/campaigns/{campaign.slug}/imports/", {}, format="json").status_code == 403


def test_anonymous_requests_are_refused(api_client, campaign):
    assert api_client.get(f"/api/v1/campaigns/{campaign.slug}/items/").status_code in (401, 403)


def test_a_researcher_cannot_list_users(client_as):
    client, _ = client_as("researcher")
    assert client.get("/api/v1/users/").status_code == 403


def test_researchers_list_items_with_golden_flag_in_few_queries(client_as, campaign, django_assert_max_num_queries):
    client, _ = client_as("researcher")
    for n in range(5):
        ItemFactory(campaign=campaign, item_id=f"i{n}", is_golden=n == 0)
    ItemFactory(item_id="other-campaign")
    with django_assert_max_num_queries(6):  # auth, roles, campaign, count, page (no N+1)
        response = client.get(f"/api/v1/campaigns/{campaign.slug}/items/?limit=3")
    assert response.status_code == 200
    assert response.data["count"] == 5
    first = response.data["results"][0]
    assert (first["item_id"], first["is_golden"], first["media_type"]) == ("i0", True, "image")
    assert set(first) >= {"generator", "prompt", "width", "height"}
    item = Item.objects.get(campaign=campaign, item_id="i0")
    assert first["media_url"] == f"/api/v1/items/{item.pk}/media/"
    assert [r["item_id"] for r in response.data["results"]] == ["i0", "i1", "i2"]


def test_item_list_filters_by_media_type(client_as, campaign):
    client, _ = client_as("admin")
    ItemFactory(campaign=campaign, item_id="img")
    ItemFactory(campaign=campaign, item_id="vid", media_type="video")
    response = client.get(f"/api/v1/campaigns/{campaign.slug}/items/?media_type=video")
    assert [r["item_id"] for r in response.data["results"]] == ["vid"]


def test_admins_list_users_with_roles_and_pause_state(client_as, make_user, django_assert_max_num_queries):
    client, admin = client_as("admin")
    paused = make_user("annotator", username="zz-paused")
    paused.annotator_profile.is_paused = True
    paused.annotator_profile.paused_reason = "low agreement"
    paused.annotator_profile.save()
    make_user("researcher", username="zz-res")
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/users/")
    assert response.status_code == 200
    rows = {r["username"]: r for r in response.data["results"]}
    assert (rows["zz-paused"]["roles"], rows["zz-paused"]["paused"], rows["zz-paused"]["paused_reason"]) == (
        ["annotator"],
        True,
        "low agreement",
    )
    assert (rows["zz-res"]["roles"], rows["zz-res"]["paused"]) == (["researcher"], False)
    assert rows[admin.username]["roles"] == ["admin"]


def test_the_openapi_schema_generates_and_names_these_paths(client_as):
    client, _ = client_as("researcher")
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    import json

    paths = json.loads(response.content)["paths"]
    assert {"/api/v1/campaigns/{slug}/imports/", "/api/v1/campaigns/{slug}/items/", "/api/v1/users/"} <= set(paths)
    assert "post" in paths["/api/v1/campaigns/{slug}/imports/"]
