"""The API's throttles: DRF's per-user and anonymous rates, and starting jobs (imports, aggregations, exports,
training runs, prompt imports, classification, generation) under its own, tighter scope, `job_start`.

Which views start jobs is known by their URL names (below), so the views themselves stay unchanged.

Counters live in Redis in production (`CACHE_URL`, shared by every web process). There DRF's own throttle (a
list of the user's request times, read and written back pickled through Django's cache: two round trips, 0.42
ms of web CPU per request measured in-process, a fifth of a rating's) is replaced by a counter per fixed
window, counted in one round trip (a Lua script: INCR this window's counter, give it its expiry when new,
read the previous one; one command to send and one reply to parse, where a pipeline of the three cost a
tenth of the web CPU of a rating served by the lean cycle), and estimate the requests of the last `duration` seconds as the current count plus the previous
window's count weighted by how much of it is still inside the sliding window (so a refused client may wait up
to two windows, where DRF's exact log frees a slot within one). A refused request does not count (as in
DRF's). Without Redis (the embedded default's local memory, the tests) DRF's exact request log runs unchanged.

When Redis does not answer, requests go through unthrottled for a few seconds, logged, instead of failing: the
throttle guards the work and must not stop annotators (the outbox lets ratings through a broker outage too).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework import throttling
from rest_framework.throttling import SimpleRateThrottle

log = logging.getLogger(__name__)

_CLIENTS: dict[str, Any] = {}


def redis_client():
    """A redis-py client kept per process for the default cache's Redis, or None when the cache is not Redis.
    (Django's cache makes a client object at every call; a kept one shares its connection pool.)"""
    cache = settings.CACHES.get("default", {})
    if not str(cache.get("BACKEND", "")).endswith("redis.RedisCache"):
        return None
    location = cache["LOCATION"]
    location = location[0] if isinstance(location, list | tuple) else str(location).split(",")[0]
    client = _CLIENTS.get(location)
    if client is None:
        import redis

        # bounded waits: an unreachable Redis must cost a request at most this, and then nothing (below)
        client = _CLIENTS[location] = redis.Redis.from_url(location, socket_connect_timeout=0.5, socket_timeout=0.5)
    return client


# A throttle is a guard, not the work: when its Redis does not answer, requests go through unthrottled (logged)
# rather than fail, as the outbox lets ratings through a broker outage; Redis is tried again after this long.
REDIS_RETRY_S = 5.0
_redis_down_until = 0.0


def seconds_to_wait(previous: int, current: int, elapsed: float, duration: int, limit: int) -> float:
    """How long until one more request fits, when nothing else arrives: the previous window's weight falls
    as time passes; once this window ends, its count becomes the previous one's."""
    if previous > 0 and current + 1 <= limit:
        # previous * (1 - (elapsed + t) / duration) + current + 1 <= limit
        t = duration * (1 - (limit - current - 1) / previous) - elapsed
        if t <= duration - elapsed:
            return max(0.0, t)
    rest = duration - elapsed
    if current + 1 <= limit or current <= 0:
        return rest
    # current * (1 - s / duration) + 1 <= limit, s after this window ends
    return rest + duration * (1 - (limit - 1) / current)


# KEYS: this window's counter, the previous window's. ARGV: the counter's lifetime in seconds.
COUNT_SCRIPT = """
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {current, tonumber(redis.call('GET', KEYS[2]) or '0')}
"""
_script: Any = None


def _count(client, keys: list[str], lifetime_s: int) -> tuple[int, int]:
    """Run the counting script on `client` (redis-py sends it by its SHA and loads it where Redis does not
    know it, e.g. after a restart; one Script object serves every client, each call names its own)."""
    global _script
    if _script is None:
        _script = client.register_script(COUNT_SCRIPT)
    current, previous = _script(keys=keys, args=[lifetime_s], client=client)
    return current, previous


class WindowCounterMixin:
    """One-round-trip counting on Redis (see the module docstring); DRF's request log elsewhere."""

    _retry: float | None = None

    def allow_request(self, request, view):
        global _redis_down_until
        client = redis_client()
        if client is None:
            return super().allow_request(request, view)  # type: ignore[misc]
        if self.rate is None or time.monotonic() < _redis_down_until:  # type: ignore[attr-defined]
            return True  # no rate, or Redis did not answer a moment ago (below)
        key = self.get_cache_key(request, view)  # type: ignore[attr-defined]
        if key is None:
            return True
        duration, limit = self.duration, self.num_requests  # type: ignore[attr-defined]
        window, elapsed = divmod(self.timer(), duration)  # type: ignore[attr-defined]
        current_key, previous_key = f"{key}:w{int(window)}", f"{key}:w{int(window) - 1}"
        try:
            # the window lives two windows and a second: read as the previous one next time, then gone
            current, previous = _count(client, [current_key, previous_key], 2 * duration + 1)
            if previous * (1 - elapsed / duration) + current <= limit:
                return True
            client.decr(current_key)  # a refused request does not count
        except RedisError as exc:
            _redis_down_until = time.monotonic() + REDIS_RETRY_S
            log.warning("throttle counters unreachable (%s): requests go unthrottled for %.0f s", exc, REDIS_RETRY_S)
            return True
        self._retry = seconds_to_wait(previous, current - 1, elapsed, duration, limit)
        return False

    def wait(self):
        if self._retry is None:
            return super().wait()  # type: ignore[misc]
        return math.ceil(self._retry * 1000) / 1000


class UserRateThrottle(WindowCounterMixin, throttling.UserRateThrottle):
    """DRF's `user` rate (QEVAL_THROTTLE_USER), counted in one round trip on Redis."""


class AnonRateThrottle(WindowCounterMixin, throttling.AnonRateThrottle):
    """DRF's `anon` rate (QEVAL_THROTTLE_ANON), counted in one round trip on Redis."""


JOB_START_URL_NAMES = frozenset(
    {
        "api-import-start",
        "api-versions",
        "api-version-exports",
        "api-training-runs",
        "api-prompt-sets",
        "api-prompts-classify",
        "api-generation-jobs",
        "api-benchmarks",
    }
)


class JobStartThrottle(WindowCounterMixin, SimpleRateThrottle):
    """`job_start` rate per user for POSTs to the endpoints that start jobs (QEVAL_THROTTLE_JOB_START)."""

    scope = "job_start"

    def get_cache_key(self, request, view):
        if request.method != "POST" or not request.user or not request.user.is_authenticated:
            return None
        match = getattr(request, "resolver_match", None)
        if match is None or match.url_name not in JOB_START_URL_NAMES:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
