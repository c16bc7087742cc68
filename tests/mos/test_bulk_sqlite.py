"""The exports and aggregation on SQLite, the embedded default: the database-neutral tests of
test_bulk_portable.py in a fresh process on an SQLite database (they run here on PostgreSQL too)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_exports_and_aggregation_pass_on_sqlite(tmp_path):
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp_path / 'bulk.sqlite3'}",
        QEVAL_TEST_TMP=str(tmp_path),
        PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'platform'}",
        CELERY_TASK_ALWAYS_EAGER="true",
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/mos/test_bulk_portable.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
