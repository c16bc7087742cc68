"""Backup and restore: a deployment restored into an EMPTY database (and an empty media folder) gives the same
MOS when aggregated again, and the same stored versions."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest
from django.core.management import CommandError, call_command

from annotation.models import ItemScore
from annotation.services.mos import mos_aggregate
from tests.celery_worker import ROOT
from tests.mos.conftest import rated, write_media  # noqa: F401  (fixture)
from tests.reliability.helpers import database_url

pytestmark = pytest.mark.django_db(transaction=True)


def _manage(*args, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def empty_database():
    url = database_url()
    base, name = url.rsplit("/", 1)
    target = f"{name}_restore"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target}"')
        conn.execute(f'CREATE DATABASE "{target}"')
    yield f"{base}/{target}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')


def test_a_backup_restored_into_an_empty_database_gives_the_same_mos(rated, empty_database, tmp_path):
    campaign, items, _annotators, _table = rated
    for item in items:
        write_media(item)
    version = mos_aggregate(campaign=campaign, method="mean")
    mos = sorted(ItemScore.objects.filter(version=version).values_list("item__item_id", "dimension", "mos", "n"))
    archive = tmp_path / "backup.tar"
    call_command("backup", "--out", str(archive))
    with pytest.raises(CommandError, match="exists already"):
        call_command("backup", "--out", str(archive))

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": empty_database,
        "QEVAL_TEST_TMP": str(tmp_path / "restored"),
        "PYTHONPATH": f"{ROOT}:{ROOT / 'platform'}",
    }
    restored = _manage("restore", "--from", str(archive), env=env)
    assert restored.returncode == 0, restored.stderr[-2000:]
    assert "restored 3 items" in restored.stdout
    again = _manage("restore", "--from", str(archive), env=env)
    assert again.returncode == 1 and "restore into an empty database" in again.stderr

    aggregated = _manage("aggregate_mos", "--campaign", campaign.slug, env=env)
    assert aggregated.returncode == 0, aggregated.stderr[-2000:]
    with psycopg.connect(empty_database) as conn:
        rows = conn.execute(
            "SELECT i.item_id, s.dimension, s.mos, s.n FROM annotation_itemscore s JOIN annotation_item i ON i.id = s.item_id "
            "WHERE s.version_id = (SELECT max(id) FROM annotation_datasetversion) ORDER BY 1, 2"
        ).fetchall()
        checksums = dict(conn.execute("SELECT id, checksum FROM annotation_datasetversion").fetchall())
    assert sorted(rows) == mos  # aggregated anew from the restored ratings: the same MOS
    assert checksums[version.pk] == version.checksum and len(set(checksums.values())) == 1
    media = tmp_path / "restored" / "media"
    for item in items:  # every item's file is in the restored media folder, byte for byte
        assert (media / item.media.name).read_bytes() == item.media.read()
