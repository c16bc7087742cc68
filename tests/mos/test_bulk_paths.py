"""PostgreSQL's bulk paths (core/pgcopy.py) against the ORM paths on the same data: same arrays, same rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from django.db import connection

from annotation.models import DatasetVersion, ItemScore
from annotation.services.mos import _version_write, ratings_arrays
from core.errors import Conflict
from core.pgcopy import binary_payload, columns_read, copy_in

pytestmark = pytest.mark.django_db


def _sorted(arrays):
    order = np.lexsort((arrays["annotator"], arrays["item"]))
    return {k: v[order] for k, v in arrays.items()}


def test_ratings_arrays_bulk_and_orm_agree(rated):
    campaign = rated[0]
    from annotation.models import Rating

    # one rating without an alignment score: NaN on both paths
    first = Rating.objects.filter(batch__decision="approved", batch__kind="annotation").order_by("pk").first()
    Rating.objects.filter(pk=first.pk).update(alignment=None)
    bulk, orm = _sorted(ratings_arrays(campaign=campaign)), _sorted(ratings_arrays(campaign=campaign, bulk=False))
    assert len(bulk["item"]) == 12  # the counted ratings only
    for key in ("item", "annotator", "quality", "alignment"):
        assert bulk[key].dtype == orm[key].dtype
        np.testing.assert_array_equal(bulk[key], orm[key])
    assert np.isnan(bulk["alignment"]).sum() == 1


@pytest.fixture
def scratch_table():
    with connection.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE pgcopy_scratch (a bigint, b integer, c smallint, d double precision, e boolean, "
            "f varchar(20), g text)"
        )
    yield "pgcopy_scratch"
    with connection.cursor() as cur:
        cur.execute("DROP TABLE pgcopy_scratch")


def test_copy_in_round_trips_nulls_text_and_every_type(scratch_table):
    n = 7
    texts = np.array(["", "a", "ünïcödé 🎨", "tab\there", "x" * 20, "a", "line\nbreak"], dtype=object)
    d = np.array([1.5, np.nan, -0.0, 1e-300, np.nan, 2.0, 3.25])
    cols = [
        ("a", "int8", np.arange(n, dtype=np.int64) * 10**12),
        ("b", "int4", np.arange(n) - 3),
        ("c", "int2", np.full(n, 7)),
        ("d", "float8", d),
        ("e", "bool", np.arange(n) % 2 == 0),
        ("f", "text", texts),
        ("g", "text", "same for all"),
    ]
    copy_in(scratch_table, cols, n)
    with connection.cursor() as cur:
        cur.execute(f"SELECT a, b, c, d, e, f, g FROM {scratch_table} ORDER BY a")
        rows = cur.fetchall()
    assert len(rows) == n
    for k, (a, b, c, dd, e, f, g) in enumerate(rows):
        assert (a, b, c, e, f, g) == (k * 10**12, k - 3, 7, k % 2 == 0, texts[k], "same for all")
        assert (dd is None) if math.isnan(d[k]) else dd == d[k]


def test_binary_payload_of_no_rows_is_a_valid_empty_stream(scratch_table):
    assert binary_payload([("int8", np.zeros(0))], 0).startswith(b"PGCOPY\n\xff\r\n\x00")
    copy_in(scratch_table, [("a", "int8", np.zeros(0, dtype=np.int64))], 0)
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {scratch_table}")
        assert cur.fetchone()[0] == 0


def test_columns_read_matches_a_plain_select(scratch_table):
    copy_in(
        scratch_table,
        [("a", "int8", np.arange(5)), ("d", "float8", np.array([0.5, np.nan, 2.0, -1.0, 1e10]))],
        5,
    )
    got = columns_read(f"SELECT a, d FROM {scratch_table}", [], [("a", "int8"), ("d", "float8")], chunk_by="a")
    order = np.argsort(got["a"])
    np.testing.assert_array_equal(got["a"][order], np.arange(5))
    np.testing.assert_array_equal(got["d"][order], np.array([0.5, np.nan, 2.0, -1.0, 1e10]))
    empty = columns_read(f"SELECT a, d FROM {scratch_table} WHERE a < 0", [], [("a", "int8"), ("d", "float8")], "a")
    assert len(empty["a"]) == len(empty["d"]) == 0


@pytest.mark.parametrize("span", [None, (0, 4), (0, 10**12)])  # grouped by bucket; one plain aggregate; wide span
def test_columns_read_narrow_types_and_one_bucket_match_a_plain_select(scratch_table, span):
    """int4 and int2 on the wire (an int2 NULL comes back as NaN), read grouped or as one aggregate."""
    b = np.array([-3, 0, 2**31 - 1, 5, -(2**31)])
    c = [1, None, 5, -32767, None]
    with connection.cursor() as cur:
        for k in range(5):
            cur.execute(f"INSERT INTO {scratch_table} (a, b, c) VALUES (%s, %s, %s)", [k, int(b[k]), c[k]])
    got = columns_read(
        f"SELECT a, b, c FROM {scratch_table}", [], [("a", "int8"), ("b", "int4"), ("c", "int2")], "a", span=span
    )
    order = np.argsort(got["a"])
    assert got["b"].dtype == np.int64 and got["c"].dtype == np.float64
    np.testing.assert_array_equal(got["b"][order], b)
    np.testing.assert_array_equal(got["c"][order], np.array([1, np.nan, 5, -32767, np.nan]))
    empty = columns_read(f"SELECT a, c FROM {scratch_table} WHERE a < 0", [], [("a", "int8"), ("c", "int2")], "a", span)
    assert len(empty["a"]) == len(empty["c"]) == 0


def test_a_score_of_a_deleted_item_is_refused_and_nothing_is_written(rated):
    """ItemScore has no database foreign key: the write checks (and holds) the items itself."""
    campaign, items, _, _ = rated
    before = DatasetVersion.objects.count()
    gone = max(i.pk for i in items) + 1000
    rows = [(items[0].pk, "quality", 3.0, 0.5, 4, 0.4), (gone, "quality", 2.0, None, 1, None)]
    with pytest.raises(Conflict, match="1 of the 2 scored items were deleted"):
        _version_write(
            campaign=campaign,
            method="mean",
            params={},
            counts={},
            checksum="x",
            created_by=None,
            source="aggregation",
            score_rows=rows,
            stat_rows=[],
        )
    assert DatasetVersion.objects.count() == before and not ItemScore.objects.filter(item_id=gone).exists()


@pytest.mark.django_db(transaction=True)
def test_an_export_holds_no_transaction_open_while_it_writes(rated, tmp_path):
    """The rows come from a WITH HOLD cursor computed at its declaring transaction's commit: while the
    export writes, its job's progress and heartbeat are committed as they happen."""
    import psycopg

    from annotation.services.exports import dataset_export
    from annotation.services.mos import mos_aggregate

    from . import export_reference as ref

    version = mos_aggregate(campaign=rated[0])
    seen = []

    class Recorder:  # the Progress interface dataset_export reports to
        def set_total(self, total, message=""):
            pass

        def update(self, done, message=""):
            seen.append((connection.in_atomic_block, connection.connection.info.transaction_status))

    out = tmp_path / "x"
    dataset_export(version=version, fmt="mos-jsonl", out=out, media="none", progress=Recorder())
    assert seen and all(s == (False, psycopg.pq.TransactionStatus.IDLE) for s in seen)
    rows = ref.reference_rows(version)
    assert (out / "mos.jsonl").read_bytes().decode() == ref.jsonl_text(rows, [None] * len(rows), False)
    with connection.cursor() as cur:  # the cursor was closed
        cur.execute("SELECT count(*) FROM pg_cursors")
        assert cur.fetchone()[0] == 0
