"""PostgreSQL: the hot path really takes its prepared statements (token and roles in one query, the rating in
one statement), and the benchmark's floor endpoint is never mounted by the platform's URLconf."""

from __future__ import annotations

import pytest
from django.urls import Resolver404, resolve

from tests.assignment.conftest import make_pool
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


def _sql(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]


def test_rating_takes_one_statement_after_one_auth_query(client_as, django_assert_max_num_queries, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert connection.vendor == "postgresql" and settings.QEVAL_SQL_FAST_PATH
    campaign = CampaignFactory(batch_size=4, golden_per_batch=2)
    make_pool(campaign, n=12, generators=3, golden=4)
    client, _ = client_as("annotator")
    body = client.post(f"/api/v1/campaigns/{campaign.slug}/batches/", {}, format="json").json()
    with CaptureQueriesContext(connection) as captured:
        resp = client.post(
            f"/api/v1/tasks/{body['tasks'][0]['id']}/rating/", {"quality": 2, "alignment": 5}, format="json"
        )
    assert resp.status_code == 201
    sql = _sql(captured)
    assert len(sql) == 2, sql  # the token with its roles; the lock-check-insert-count statement
    assert "authtoken_token" in sql[0] and "auth_group" in sql[0]
    assert "FOR NO KEY UPDATE OF t" in sql[1] and "INSERT INTO annotation_rating" in sql[1]
    with CaptureQueriesContext(connection) as captured:
        again = client.post(f"/api/v1/campaigns/{campaign.slug}/batches/", {}, format="json")
    assert again.status_code == 200
    assert not [q for q in _sql(captured) if '"annotation_campaign"."id"' in q]  # no ORM compile of the campaign


def _prepared() -> list[tuple[str, int, int]]:
    """(statement, generic plans, custom plans) of this connection's server-side prepared statements."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        return cur.fetchall()


def test_hot_path_statements_are_prepared_on_the_server_and_planned_once(client_as):
    """Django opens its connections with psycopg's prepare_threshold=None, which made psycopg ignore
    prepare=True: the server planned the rating statement and the token query at every call (0.35 and 0.19 ms
    of its CPU, more than running them). Now they are prepared, PostgreSQL settles on a generic plan after its
    five custom ones, and the ORM's own queries stay unprepared (a pooler-friendly default)."""
    from annotation.models import Campaign

    campaign = CampaignFactory(batch_size=10, golden_per_batch=0)
    make_pool(campaign, n=12, generators=3)
    client, _ = client_as("annotator")
    body = client.post(f"/api/v1/campaigns/{campaign.slug}/batches/", {}, format="json").json()
    for task in body["tasks"][:8]:
        resp = client.post(f"/api/v1/tasks/{task['id']}/rating/", {"quality": 3, "alignment": 4}, format="json")
        assert resp.status_code == 201
    for _ in range(8):
        list(Campaign.objects.filter(pk=campaign.pk))
    prepared = _prepared()
    rating = [p for p in prepared if "FOR NO KEY UPDATE OF t" in p[0] and "INSERT INTO annotation_rating" in p[0]]
    token = [p for p in prepared if "authtoken_token" in p[0]]
    assert len(rating) == 1 and len(token) == 1, [p[0][:80] for p in prepared]
    assert rating[0][1] >= 1 and token[0][1] >= 1, (rating[0][1:], token[0][1:])  # generic plans were reused
    assert not [p for p in prepared if '"annotation_campaign"' in p[0]]  # the ORM's queries are not prepared


def test_one_prepared_statement_whatever_the_size_of_an_integer_parameter():
    """psycopg types a Python int by its value (int2, int4, int8) and prepares one copy of a statement per set
    of parameter types; the hot path's cursor sends every int as int8, so a task id past 32767 or a long
    duration does not make another copy to plan."""
    from core.sql import sql_rows

    for v in (1, 40_000, 2**40, 3, -5):
        assert sql_rows("SELECT %(v)s::bigint + 0 AS probe_x", {"v": v}) == [(v,)]
    assert sql_rows("SELECT %(q)s::smallint + 0 AS probe_y", {"q": 4}) == [(4,)]  # int8 -> smallint by the cast
    assert len([p for p in _prepared() if "AS probe_x" in p[0]]) == 1


def test_the_floor_endpoint_is_not_mounted_by_the_platform():
    with pytest.raises(Resolver404):
        resolve("/bench/floor/")


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_prepared_lookups_give_the_same_instances_as_the_orm(make_user):
    from annotation.models import AnnotatorEvidence, AnnotatorProfile, Campaign
    from core.sql import sql_models

    campaign = CampaignFactory(anchors={"quality": {"1": "heavy artefacts", "5": "flawless"}}, lease_minutes=17)
    user = make_user("annotator")
    evidence = AnnotatorEvidence.objects.create(
        campaign=campaign, annotator=user, figures={"srcc": 0.5}, habits={"straight": 0.1}
    )
    for model, where, params in [
        (Campaign, "slug = %(s)s::text", {"s": campaign.slug}),
        (AnnotatorProfile, "user_id = %(u)s::bigint", {"u": user.pk}),
        (AnnotatorEvidence, "id = %(i)s::bigint", {"i": evidence.pk}),
    ]:
        (raw,) = sql_models(model, where, params)
        orm = model.objects.get(pk=raw.pk)
        assert _fields(raw) == _fields(orm)
        assert not raw._state.adding and raw._state.db == "default"
    assert sql_models(Campaign, "slug = %(s)s::text", {"s": campaign.slug})[0].anchors["quality"]["5"] == "flawless"


def test_the_raw_counter_update_keeps_the_priority_formula(client_as):
    from annotation.models import Campaign, Item, Task
    from annotation.services.selection import priority_of

    campaign = CampaignFactory(batch_size=4, golden_per_batch=2, selection_policy=Campaign.Selection.VALUE)
    make_pool(campaign, n=12, generators=3, golden=4)
    Item.objects.filter(campaign=campaign).update(priority_scale=1.7, priority_bonus=0.3)
    client, _ = client_as("annotator")
    body = client.post(f"/api/v1/campaigns/{campaign.slug}/batches/", {}, format="json").json()
    leased = Item.objects.filter(pk__in=Task.objects.filter(batch_id=body["id"]).values("item_id"))
    assert leased.count() == 6
    for item in leased:
        assert item.active_count == 1
        expected = priority_of(active_count=1, scale=1.7, bonus=0.3)
        assert item.priority == pytest.approx(expected, rel=1e-9)


def test_a_lease_writes_into_no_index_the_platform_does_not_use():
    """Every lease rewrites its items' rows into every index of annotation_item (no update there is HOT: the pool
    indexes hold active_count). These are the indexes the platform reads; a new one costs every lease, so it
    has to be added here on purpose (docs/assign.md, "Why the batch request costs more at 100K items")."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'annotation_item'")
        names = {row[0] for row in cur.fetchall()}
    assert names == {
        "annotation_item_pkey",
        "item_unique_external_id",  # (campaign, item_id): imports, lookups by external id
        "item_campaign_generator",  # a campaign's items by generator (leaderboards, the generators' list)
        "item_sha256",  # the duplicate check of imports
        "item_open_pool_fullest",  # the assignment pool, selection_policy "fullest"
        "item_open_pool_value",  # the assignment pool, selection_policy "value"
        "item_golden",  # the golden scan (partial: a regular lease writes nothing there)
        "item_held",  # held items (partial: empty for a regular lease)
    }, names
