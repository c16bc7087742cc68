"""Skip and flag on the rating page: the item leaves the annotator's pool, a flag reaches the admins, and
nothing an annotator gets back tells a golden item from a regular one."""

import pytest

from annotation.models import Batch, Item, ItemFlag, Task
from annotation.services.assignment import batch_request
from annotation.services.flags import flags_resolve, task_skip
from core.errors import Conflict, Gone, InvalidInput

pytestmark = pytest.mark.django_db


def test_a_skip_ends_the_task_gives_the_lease_back_and_files_no_flag(leased):
    campaign, items, golden, user, batch = leased
    task = Task.objects.filter(batch=batch).order_by("position").first()
    before = Item.objects.get(pk=task.item_id).active_count
    answer = task_skip(task_id=task.pk, user=user, reason="skip")
    assert answer["status"] == "skipped" and answer["batch"]["progress"] == {"rated": 0, "skipped": 1, "total": 6}
    assert Task.objects.get(pk=task.pk).status == Task.Status.SKIPPED
    assert Item.objects.get(pk=task.item_id).active_count == before - 1
    assert not ItemFlag.objects.exists()


def test_a_flag_reaches_the_admins_with_its_reason_and_note(leased):
    campaign, items, golden, user, batch = leased
    task = Task.objects.filter(batch=batch).order_by("position").first()
    task_skip(task_id=task.pk, user=user, reason="unsafe", note="  a violent scene  ")
    flag = ItemFlag.objects.get()
    assert (flag.item_id, flag.annotator, flag.reason, flag.note, flag.status, flag.campaign) == (
        task.item_id,
        user,
        "unsafe",
        "a violent scene",
        "open",
        campaign,
    )


def test_the_skipped_item_never_comes_back_to_that_annotator(leased):
    campaign, items, golden, user, batch = leased
    tasks = list(Task.objects.filter(batch=batch))
    skipped = tasks[0].item_id
    for t in tasks:
        task_skip(task_id=t.pk, user=user, reason="broken" if t.item_id == skipped else "skip")
    assert Batch.objects.get(pk=batch.pk).status == Batch.Status.CLOSED  # the last live lease closed it
    nxt, created = batch_request(campaign=campaign, user=user)
    assert created and skipped not in set(Task.objects.filter(batch=nxt).values_list("item_id", flat=True))


def test_a_golden_and_a_regular_skip_answer_alike(leased):
    campaign, items, golden, user, batch = leased
    regular = Task.objects.filter(batch=batch, is_golden=False).first()
    hidden = Task.objects.filter(batch=batch, is_golden=True).first()
    a = task_skip(task_id=regular.pk, user=user, reason="broken")
    b = task_skip(task_id=hidden.pk, user=user, reason="broken")
    assert set(a) == set(b) == {"status", "batch"} and set(a["batch"]) == set(b["batch"]) == {
        "id",
        "status",
        "progress",
    }
    assert (a["status"], a["batch"]["id"]) == (b["status"], b["batch"]["id"])
    assert b["batch"]["progress"]["skipped"] == a["batch"]["progress"]["skipped"] + 1


def test_bad_skips_are_refused_and_change_nothing(leased, make_user):
    campaign, items, golden, user, batch = leased
    task = Task.objects.filter(batch=batch).first()
    with pytest.raises(InvalidInput, match="needs a note"):
        task_skip(task_id=task.pk, user=user, reason="other")
    with pytest.raises(InvalidInput, match="reason must be one of"):
        task_skip(task_id=task.pk, user=user, reason="boring")
    with pytest.raises(Exception, match="not found"):
        task_skip(task_id=task.pk, user=make_user("annotator"), reason="skip")
    assert Task.objects.get(pk=task.pk).status == Task.Status.LEASED and not ItemFlag.objects.exists()
    task_skip(task_id=task.pk, user=user, reason="skip")
    with pytest.raises(Conflict):
        task_skip(task_id=task.pk, user=user, reason="skip")
    other = Task.objects.filter(batch=batch, status="leased").first()
    Task.objects.filter(pk=other.pk).update(lease_expires_at="2000-01-01T00:00:00Z")
    with pytest.raises(Gone):
        task_skip(task_id=other.pk, user=user, reason="skip")


def test_admins_dismiss_flags_or_retire_the_item(leased, make_user):
    campaign, items, golden, user, batch = leased
    admin = make_user("admin")
    tasks = list(Task.objects.filter(batch=batch, is_golden=False)[:2])
    hidden = Task.objects.filter(batch=batch, is_golden=True).first()
    for t in (*tasks, hidden):
        task_skip(task_id=t.pk, user=user, reason="broken")
    assert flags_resolve(item_id=tasks[0].item_id, decision="dismiss", user=admin)["flags"] == 1
    assert ItemFlag.objects.get(item_id=tasks[0].item_id).status == "dismissed"
    flags_resolve(item_id=tasks[1].item_id, decision="retire", user=admin)
    item = Item.objects.get(pk=tasks[1].item_id)
    assert item.target == item.active_count == 0  # out of the pool: nothing is handed out any more
    with pytest.raises(Conflict, match="golden sample"):
        flags_resolve(item_id=hidden.item_id, decision="retire", user=admin)
    with pytest.raises(Conflict, match="no open flag"):
        flags_resolve(item_id=tasks[0].item_id, decision="dismiss", user=admin)


def test_the_skip_api_and_the_flag_queue(leased, client_as, make_user):
    campaign, items, golden, user, batch = leased
    client, _ = client_as(user=user)
    task = Task.objects.filter(batch=batch).first()
    bad = client.post(f"/api/v1/tasks/{task.pk}/skip/", {"reason": "nope"}, format="json")
    assert bad.status_code == 400 and "reason" in bad.json()["detail"]
    ok = client.post(f"/api/v1/tasks/{task.pk}/skip/", {"reason": "prompt_missing", "note": ""}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "skipped"
    assert client.post(f"/api/v1/tasks/{task.pk}/skip/", {"reason": "skip"}, format="json").status_code == 409
    assert client.get("/api/v1/flags/").status_code == 403  # annotators never see the queue
    admin, _ = client_as("admin")
    listed = admin.get(f"/api/v1/flags/?campaign={campaign.slug}").json()
    assert [(r["item"], [f["reason"] for f in r["flags"]]) for r in listed] == [(task.item_id, ["prompt_missing"])]
    resolved = admin.post(f"/api/v1/items/{task.item_id}/flags/resolve/", {"decision": "dismiss"}, format="json")
    assert resolved.status_code == 200 and resolved.json()["flags"] == 1


def test_the_flagged_items_page_decides(leased, logged_in):
    campaign, items, golden, user, batch = leased
    task = Task.objects.filter(batch=batch, is_golden=False).first()
    task_skip(task_id=task.pk, user=user, reason="other", note="the picture is upside down")
    client, admin = logged_in("admin")
    html = client.get("/desk/flags/").content.decode()
    assert "the picture is upside down" in html and "Something else" in html and "Retire the item" in html
    response = client.post("/desk/flags/", {"item": task.item_id, "decision": "retire"}, follow=True)
    assert "retired: it gets no more ratings" in response.content.decode()
    assert ItemFlag.objects.get().status == "retired" and ItemFlag.objects.get().resolved_by == admin
