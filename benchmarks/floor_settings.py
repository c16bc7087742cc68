"""Settings of the web server that benchmarks/annotation_load.py starts: the platform's own settings
(config.settings.base, the same the deployment uses), with one change, the URLconf, which adds the floor
endpoint (benchmarks/floor_urls.py). Nothing outside the benchmark names this module, so the floor endpoint
is never mounted in a deployment (tests/assignment/test_floor_endpoint.py checks that config.urls lacks it)."""

from config.settings.base import *  # noqa: F401,F403

ROOT_URLCONF = "benchmarks.floor_urls"
