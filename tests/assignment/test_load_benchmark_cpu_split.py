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


def test_a_recycled_worker_counts_under_its_part_through_its_parent():
    """A gunicorn worker recycled during the phase: the master waited for it, so its whole CPU is in the master's
    reaped CPU; the phase counts what it used during the phase (its total less what it had used before)."""
    before = Snapshot(
        processes={10: ("web server", 1.0, False), 11: ("web server", 5.0, False)},
        busy=0.0,
        wall=0.0,
        reaped={10: 0.0, 11: 0.0},
        parent={10: 1, 11: 10},
    )
    after = Snapshot(
        processes={10: ("web server", 1.1, False), 12: ("web server", 2.0, False)},  # 11 ended, 12 replaced it
        busy=6.0,
        wall=1.0,
        reaped={10: 8.0, 12: 0.0},  # 11's whole life: 5.0 before the phase, 3.0 in it
        parent={10: 1, 12: 10},
    )
    parts, _ = split(before, after)
    assert parts["web server"] == pytest.approx(0.1 + 3.0 + 2.0)
    assert parts["rest of the machine"] == pytest.approx(0.9)


_WORKER = """
import os, sys, time
sys.stdin.readline()
pid = os.fork()
if pid == 0:
    end = time.process_time() + 0.4
    while time.process_time() < end:
        pass
    os._exit(0)
os.waitpid(pid, 0)
print("reaped", flush=True)
sys.stdin.readline()
"""


@pytest.mark.skipif(not available(), reason="reads /proc (Linux)")
def test_a_real_child_that_ended_during_the_phase_counts_under_its_part():
    import subprocess
    import sys
    import time

    master = subprocess.Popen(
        [sys.executable, "-c", _WORKER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        time.sleep(0.3)  # the interpreter started before the phase
        before = snapshot(web_pgid=master.pid, wall=0.0)
        master.stdin.write("go\n")
        master.stdin.flush()
        assert master.stdout.readline().strip() == "reaped"
        after = snapshot(web_pgid=master.pid, wall=1.0)
    finally:
        master.communicate("done\n", timeout=10)
    parts, _ = split(before, after)
    assert parts["web server"] >= 0.35  # the child's 0.4 s of CPU (clock ticks of 10 ms), through its parent
