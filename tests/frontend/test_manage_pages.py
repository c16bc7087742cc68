"""The admins' pages: campaigns with every setting (validated as on the command line), content import with
the job page, the golden set, accounts and roles."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.models import Campaign, GoldenScore, Item, Job
from core.roles import user_roles
from tests.factories import CampaignFactory, ItemFactory, make_png

pytestmark = pytest.mark.django_db


def campaign_post(**overrides):
    """The new-campaign form as a browser sends it: the model's defaults, then the overrides."""
    from frontend.forms import FIELDS

    data = {"slug": "new-one", "name": "New one"}
    for name in FIELDS:
        field = Campaign._meta.get_field(name)
        if name in data:
            continue
        if field.get_internal_type() == "BooleanField":
            if field.default:
                data[name] = "on"
        else:
            data[name] = field.default
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_an_admin_creates_a_campaign_with_every_setting(logged_in):
    client, _ = logged_in("admin")
    page = client.get("/manage/campaigns/new/").content.decode()
    from frontend.forms import FIELDS

    assert all(f'name="{f}"' in page for f in FIELDS) and 'name="anchor_quality_1"' in page
    response = client.post("/manage/campaigns/new/", campaign_post(batch_size=12, anchor_alignment_5="all of it"))
    assert response.status_code == 302 and response["Location"] == "/manage/campaigns/new-one/import/"
    campaign = Campaign.objects.get(slug="new-one")
    assert (campaign.batch_size, campaign.anchors) == (12, {"alignment": {"5": "all of it"}})


def test_bad_settings_are_refused_with_the_command_lines_message_and_nothing_is_made(logged_in):
    client, _ = logged_in("admin")
    response = client.post("/manage/campaigns/new/", campaign_post(approve_threshold=0.3, reject_threshold=0.6))
    assert response.status_code == 400
    assert "0 &lt;= reject_threshold &lt;= approve_threshold &lt;= 1" in response.content.decode()
    response = client.post("/manage/campaigns/new/", campaign_post(rate_quality=None, rate_alignment=None))
    assert "at least one dimension" in response.content.decode()
    assert not Campaign.objects.filter(slug="new-one").exists()


def test_editing_targets_retargets_the_items(logged_in):
    campaign = CampaignFactory(ratings_per_image=6)
    item = ItemFactory(campaign=campaign)
    client, _ = logged_in("admin")
    data = campaign_post(name=campaign.name, ratings_per_image=9)
    data.pop("slug")
    response = client.post(f"/manage/campaigns/{campaign.slug}/", data)
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.target == 9


def _zip(rows: list[tuple[str, str]], bad_row: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        lines = ["item_id,media_path,media_type,prompt,generator"]
        for item_id, prompt in rows:
            zf.writestr(f"img/{item_id}.png", make_png(color=(len(item_id) * 40 % 255, 10, 10)))
            lines.append(f"{item_id},img/{item_id}.png,image,{prompt},gen-x")
        if bad_row:
            lines.append("broken,img/missing.png,image,a prompt,gen-x")
        zf.writestr("manifest.csv", "\n".join(lines) + "\n")
    return buf.getvalue()


def test_a_zip_import_from_the_browser_follows_the_job_page(logged_in, campaign, django_capture_on_commit_callbacks):
    client, _ = logged_in("researcher")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/manage/campaigns/{campaign.slug}/import/",
            {"archive": SimpleUploadedFile("c.zip", _zip([("a1", "a red cube"), ("a2", "a blue ball")]))},
        )
    job = Job.objects.get(kind="import_items")
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    html = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Import of content" in html and "2 items imported (2 images, 0 videos)" in html
    assert Item.objects.filter(campaign=campaign).count() == 2


def test_a_bad_row_is_named_on_the_job_page_and_nothing_is_imported(
    logged_in, campaign, django_capture_on_commit_callbacks
):
    from annotation.services.jobs import job_run
    from core.errors import InvalidInput

    client, _ = logged_in("admin")
    with django_capture_on_commit_callbacks(execute=False):  # the worker's part, run below
        client.post(
            f"/manage/campaigns/{campaign.slug}/import/",
            {"archive": SimpleUploadedFile("c.zip", _zip([("a1", "a red cube")], bad_row=True))},
        )
    job = Job.objects.get(kind="import_items")
    with pytest.raises(InvalidInput):
        job_run(job_id=job.pk)
    job.refresh_from_db()
    html = client.get(f"/jobs/{job.pk}/").content.decode()
    assert job.status == "failed" and "Why it failed" in html and "broken" in html and "line 3" in job.error
    assert "Nothing was imported" in html and not Item.objects.filter(campaign=campaign).exists()


def test_the_import_page_lists_only_the_imports_the_viewer_may_open(logged_in, campaign, make_user):
    # Another researcher's import (its message and error) answers 404 on its job page: the list leaves it out.
    from annotation.services.jobs import job_create

    theirs = job_create(kind="import_items", campaign=campaign, created_by=make_user("researcher"), params={})
    Job.objects.filter(pk=theirs.pk).update(status="failed", error="cannot read their-private-manifest.csv")
    command_line = job_create(kind="import_items", campaign=campaign, params={})
    client, user = logged_in("researcher")
    mine = job_create(kind="import_items", campaign=campaign, created_by=user, params={})
    html = client.get(f"/manage/campaigns/{campaign.slug}/import/").content.decode()
    assert f'href="/jobs/{mine.pk}/"' in html and f'href="/jobs/{command_line.pk}/"' in html
    assert f'href="/jobs/{theirs.pk}/"' not in html and "their-private-manifest" not in html
    admin, _ = logged_in("admin")
    assert f'href="/jobs/{theirs.pk}/"' in admin.get(f"/manage/campaigns/{campaign.slug}/import/").content.decode()


def test_the_import_form_needs_exactly_one_source(logged_in, campaign):
    client, _ = logged_in("admin")
    response = client.post(f"/manage/campaigns/{campaign.slug}/import/", {})
    assert response.status_code == 400 and "Choose exactly one" in response.content.decode()
    response = client.post(f"/manage/campaigns/{campaign.slug}/import/", {"server_path": "/etc"})
    assert response.status_code == 400 and "import roots" in response.content.decode().lower()
    assert not Job.objects.exists()


def test_the_golden_set_is_made_grown_and_scored_from_the_browser(logged_in, campaign):
    items = [ItemFactory(campaign=campaign) for _ in range(10)]
    client, _ = logged_in("admin")
    assert "Choose" not in client.get(f"/manage/campaigns/{campaign.slug}/golden/").content.decode()
    response = client.post(
        f"/manage/campaigns/{campaign.slug}/golden/", {"action": "sample", "size": 3, "seed": 1}, follow=True
    )
    assert "The golden set has 3 items (3 added), seed 1." in response.content.decode()
    client.post(f"/manage/campaigns/{campaign.slug}/golden/", {"action": "sample", "size": 5})
    assert Item.objects.filter(campaign=campaign, is_golden=True).count() == 5
    both = client.post(f"/manage/campaigns/{campaign.slug}/golden/", {"action": "sample", "size": 5, "fraction": 0.5})
    assert both.status_code == 400 and "not both" in both.content.decode()
    golden = Item.objects.filter(campaign=campaign, is_golden=True).first()
    csv = f"item_id,quality,alignment\n{golden.item_id},4.5,3\n".encode()
    response = client.post(
        f"/manage/campaigns/{campaign.slug}/golden/",
        {"action": "scores", "scores": SimpleUploadedFile("g.csv", csv)},
        follow=True,
    )
    assert "Golden scores imported for 1 item." in response.content.decode()
    assert GoldenScore.objects.filter(item=golden).count() == 2
    bad = client.post(
        f"/manage/campaigns/{campaign.slug}/golden/",
        {"action": "scores", "scores": SimpleUploadedFile("g.csv", b"item_id,quality\nnope,9\n")},
    )
    assert bad.status_code == 400 and "line 2" in bad.content.decode()
    assert len(items) == 10


def test_accounts_are_created_and_roles_changed(logged_in, make_user):
    client, admin = logged_in("admin")
    response = client.post(
        "/manage/users/",
        {
            "action": "create",
            "username": "newbie",
            "email": "n@example.org",
            "password": "long-pass-1",
            "roles": ["annotator", "expert"],
        },
        follow=True,
    )
    assert "Account newbie created with annotator, expert." in response.content.decode()
    from django.contrib.auth import get_user_model

    newbie = get_user_model().objects.get(username="newbie")
    assert user_roles(newbie) == {"annotator", "expert"} and newbie.check_password("long-pass-1")
    again = client.post(
        "/manage/users/", {"action": "create", "username": "newbie", "password": "long-pass-2", "roles": ["admin"]}
    )
    assert again.status_code == 400 and "exists already" in again.content.decode()
    client.post("/manage/users/", {"action": "roles", "user": newbie.pk, "roles": ["researcher"]})
    newbie = get_user_model().objects.get(username="newbie")
    assert user_roles(newbie) == {"researcher"}
    response = client.post("/manage/users/", {"action": "roles", "user": admin.pk, "roles": ["annotator"]}, follow=True)
    assert "cannot take the admin role from yourself" in response.content.decode()
    assert "admin" in user_roles(get_user_model().objects.get(pk=admin.pk))
    client.post("/manage/users/", {"action": "deactivate", "user": newbie.pk})
    assert not get_user_model().objects.get(pk=newbie.pk).is_active


def test_the_manage_index_lists_campaigns_with_counts(logged_in, campaign):
    ItemFactory(campaign=campaign, is_golden=True)
    client, _ = logged_in("admin")
    html = client.get("/manage/").content.decode()
    assert campaign.name in html and f"/manage/campaigns/{campaign.slug}/golden/" in html
