"""benchmarks/cpu_split.py, the load benchmark's CPU split: each part sums the CPU its processes used during the
phase; a process that ended inside the phase (a pooled connection the pool closed) loses its last slice to
"rest of the machine" and never subtracts what it had used before the phase."""

from __future__ import annotations

import os

import pytest

from benchmarks.cpu_split import Snapshot, available, snapshot, split


def test_parts_count_what_each_process_used_during_the_phase():
    before = Snapshot(
        processes={
            1: ("client", 1.0, False),
            2: ("web server", 2.0, False),
            3: ("PostgreSQL", 50.0, False),  # a backend with a long past, closed by its pool during the phase
            4: ("PostgreSQL", 0.5, True),  # the WAL writer
        },
        busy=10.0,
        wall=0.0,
    )
    after = Snapshot(
        processes={
            1: ("client", 1.5, False),
            2: ("web server", 4.0, False),
            4: ("PostgreSQL", 0.6, True),
            5: ("PostgreSQL", 1.0, False),  # a backend opened during the phase: all of its CPU counts
        },
        busy=15.0,
        wall=2.0,
    )
    parts, own = split(before, after)
    assert parts == pytest.approx({"client": 0.5, "web server": 2.0, "PostgreSQL": 1.1, "rest of the machine": 1.4})
    assert own == pytest.approx(0.1)


@pytest.mark.skipif(not available(), reason="reads /proc (Linux)")
def test_a_real_snapshot_sees_this_process_as_the_client():
    taken = snapshot(web_pgid=-1, wall=0.0)
    assert taken.processes[os.getpid()][0] == "client"
    assert taken.busy > 0
