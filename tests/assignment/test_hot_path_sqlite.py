"""The hot path on SQLite, the embedded default (`make run`): the database-neutral tests of
test_hot_path_portable.py in a fresh process on an SQLite database, where every PostgreSQL fast path must
fall back to the ORM path; and the assignment suite's own tests on PostgreSQL with the fast paths off
(QEVAL_SQL_FAST_PATH=false), so the ORM path keeps every guarantee under real row locks too."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pytest(files: list[str], **env_extra) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'platform'}", CELERY_TASK_ALWAYS_EAGER="true")
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _passed(run: subprocess.CompletedProcess) -> bool:
    tail = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    return run.returncode == 0 and " passed" in tail and "failed" not in tail and "error" not in tail


def test_the_hot_path_passes_on_sqlite(tmp_path):
    run = _pytest(
        ["tests/assignment/test_hot_path_portable.py"],
        DATABASE_URL=f"sqlite:///{tmp_path / 'hot.sqlite3'}",
        QEVAL_TEST_TMP=str(tmp_path),
    )
    assert _passed(run), run.stdout[-4000:] + run.stderr[-2000:]


def test_the_orm_path_keeps_the_guarantees_on_postgresql():
    run = _pytest(
        [
            "tests/assignment/test_ratings.py",
            "tests/assignment/test_batch_request.py",
            "tests/assignment/test_concurrency.py",
            "tests/assignment/test_no_golden_leak.py",
            "tests/assignment/test_media.py",
        ],
        QEVAL_SQL_FAST_PATH="false",
        # its own test database: this run's is in use by this process
        DATABASE_URL=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/qeval").rstrip("/")
        + "_ormpath",
    )
    assert _passed(run), run.stdout[-4000:] + run.stderr[-2000:]
