"""Throttles beyond DRF's per-user and anonymous rates: starting jobs (imports, aggregations, exports,
training runs, prompt imports, classification, generation) has its own, tighter scope, `job_start`.

Which views start jobs is known by their URL names (below), so the views themselves stay unchanged.
Counters live in the default cache (Redis in production, so every web process shares them).
"""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

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


class JobStartThrottle(SimpleRateThrottle):
    """`job_start` rate per user for POSTs to the endpoints that start jobs (QEVAL_THROTTLE_JOB_START)."""

    scope = "job_start"

    def get_cache_key(self, request, view):
        if request.method != "POST" or not request.user or not request.user.is_authenticated:
            return None
        match = getattr(request, "resolver_match", None)
        if match is None or match.url_name not in JOB_START_URL_NAMES:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
