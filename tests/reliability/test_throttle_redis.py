"""The API's throttles on Redis (production's CACHE_URL): counted in one round trip (a Lua script) per request, the
previous window weighted by how much of it is still inside the sliding window, refused requests not counted,
and a 429 with a Retry-After that is the time until one more request fits. Runs on this machine's real Redis
(database 11, emptied before and after)."""

from __future__ import annotations

import pytest

from core.api import throttles
from core.api.throttles import UserRateThrottle, redis_client, seconds_to_wait

REDIS_DB = "redis://127.0.0.1:6379/11"


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_DB}}
    client = redis_client()
    assert client is not None
    client.flushdb()
    yield client
    client.flushdb()
    throttles._CLIENTS.clear()


def test_the_throttle_parses_redis_replies_in_c(redis_cache):
    """hiredis is a dependency: redis-py parses with it (the throttle's round trip: ~15% less client CPU)."""
    from redis._parsers import _HiredisParser

    connection = redis_cache.connection_pool.get_connection()
    try:
        assert isinstance(connection._parser, _HiredisParser)
    finally:
        redis_cache.connection_pool.release(connection)


def test_without_redis_the_throttle_is_drfs_own(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert redis_client() is None


@pytest.mark.django_db
def test_the_user_rate_refuses_the_request_past_it_with_a_retry_after(client_as, redis_cache, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "rate", "3/min", raising=False)
    client, user = client_as("annotator")
    codes = [client.get("/api/v1/batches/").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    refused = client.get("/api/v1/batches/")
    assert refused.status_code == 429
    # until this window ends, then until a third of it has left the sliding window: 3 x (1 - s/60) + 1 <= 3
    assert 20 < int(refused["Retry-After"]) <= 80
    # one counter for this user's current window, holding only the requests that were let through
    (key,) = [k.decode() for k in redis_cache.keys("*") if f"_{user.pk}:w" in k.decode()]
    assert int(redis_cache.get(key)) == 3
    assert 0 < redis_cache.ttl(key) <= 121
    other, _ = client_as("annotator")
    assert other.get("/api/v1/batches/").status_code == 200  # per user
    redis_cache.script_flush()  # a restarted Redis has forgotten the script: it is loaded again
    assert other.get("/api/v1/batches/").status_code == 200


@pytest.mark.django_db
def test_ratings_answered_by_the_lean_cycle_count_once_each(client_as, redis_cache, monkeypatch):
    from tests.assignment.conftest import make_pool
    from tests.factories import CampaignFactory

    campaign = CampaignFactory(batch_size=4, golden_per_batch=0)
    make_pool(campaign, n=8)
    monkeypatch.setattr(UserRateThrottle, "rate", "4/min", raising=False)
    monkeypatch.setattr(UserRateThrottle, "timer", lambda self: 600_010.0)  # inside one window
    client, user = client_as("annotator")
    batch = client.post(f"/api/v1/campaigns/{campaign.slug}/batches/", {}, format="json").json()
    tasks = [t["id"] for t in batch["tasks"]]
    codes = [
        client.post(f"/api/v1/tasks/{t}/rating/", {"quality": 3, "alignment": 3}, format="json").status_code
        for t in tasks
    ]
    assert codes == [201, 201, 201, 429]  # the batch request and three ratings: four requests, counted once each
    (key,) = [k.decode() for k in redis_cache.keys("*") if f"_{user.pk}:w" in k.decode()]
    assert int(redis_cache.get(key)) == 4


@pytest.mark.django_db
def test_the_previous_window_counts_by_the_share_still_inside_the_sliding_window(client_as, redis_cache, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "rate", "4/min", raising=False)
    client, _ = client_as("annotator")
    t0 = 600_000.0  # the start of a window of 60 s
    monkeypatch.setattr(UserRateThrottle, "timer", lambda self: t0 + 50)
    assert [client.get("/api/v1/batches/").status_code for _ in range(4)] == [200] * 4
    # 30 s into the next window, half of the previous one still counts: 4 x 0.5 = 2, so two more fit
    monkeypatch.setattr(UserRateThrottle, "timer", lambda self: t0 + 90)
    assert [client.get("/api/v1/batches/").status_code for _ in range(3)] == [200, 200, 429]
    # 45 s in, a quarter of it: 4 x 0.25 + 2 = 3, one more fits
    monkeypatch.setattr(UserRateThrottle, "timer", lambda self: t0 + 105)
    assert [client.get("/api/v1/batches/").status_code for _ in range(2)] == [200, 429]


def test_seconds_to_wait_is_the_time_until_one_more_request_fits():
    # previous 4 and current 2 of 4 at 30 s of 60: the weighted estimate falls to 1 (room for one) at 45 s
    assert seconds_to_wait(previous=4, current=2, elapsed=30, duration=60, limit=4) == pytest.approx(15)
    # a full current window: wait for it to end and for a quarter of it to leave the sliding window
    assert seconds_to_wait(previous=0, current=4, elapsed=30, duration=60, limit=4) == pytest.approx(30 + 15)
    # room in the current count but the previous window's weight too high until it has left entirely
    assert seconds_to_wait(previous=8, current=3, elapsed=10, duration=60, limit=4) == pytest.approx(50)
    for previous, current, elapsed in [(4, 2, 30), (0, 4, 30), (8, 3, 10), (3, 1, 59.5)]:
        t = seconds_to_wait(previous=previous, current=current, elapsed=elapsed, duration=60, limit=4)
        assert 0 <= t <= 120


@pytest.mark.django_db
def test_an_unreachable_redis_lets_requests_through_unthrottled_and_says_so(client_as, settings, monkeypatch, caplog):
    """The throttle guards the work; it must not stop annotators when its counters' Redis is down (a closed port
    here). Requests go through, a warning says why, and Redis is not asked again for REDIS_RETRY_S."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    monkeypatch.setattr(UserRateThrottle, "rate", "1/min", raising=False)
    monkeypatch.setattr(throttles, "_redis_down_until", 0.0)
    client, _ = client_as("annotator")
    try:
        with caplog.at_level("WARNING", logger="core.api.throttles"):
            codes = [client.get("/api/v1/batches/").status_code for _ in range(3)]
        assert codes == [200, 200, 200]  # past the 1/min rate: unthrottled while Redis is down
        assert "throttle counters unreachable" in caplog.text
        assert caplog.text.count("throttle counters unreachable") == 1  # then not asked again for a while
        assert throttles._redis_down_until > 0
    finally:
        throttles._CLIENTS.clear()
