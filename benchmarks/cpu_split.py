"""Where the CPU of a load phase went: the load client, the web server, PostgreSQL, the rest of the machine.

Read from /proc (Linux only; elsewhere `available()` is False and the benchmark prints nothing). Each part is
the sum, over the processes alive at the phase's end, of the CPU they used since its start (or since they
started), plus what their children that ended during the phase used in it: a process's parent is credited with
a child's whole CPU when it waits for it (`cutime`, `cstime`), so a gunicorn worker recycled mid-phase or a
PostgreSQL backend its pool closed counts under its part, less what it had used before the phase. A process
that ends unwaited for, or whose parent is not of its part, takes its last slice to "rest of the machine",
never a negative share of its part.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PARTS = ("client", "web server", "PostgreSQL")


def available() -> bool:
    return (PROC / "stat").exists() and (PROC / "self" / "stat").exists()


@dataclass(frozen=True)
class Snapshot:
    # pid -> (part, CPU seconds so far, is a PostgreSQL process of its own: WAL writer, checkpointer, ...)
    processes: dict[int, tuple[str, float, bool]] = field(default_factory=dict)
    busy: float = 0.0  # CPU seconds of the whole machine (every core), idle and iowait excluded
    wall: float = 0.0
    reaped: dict[int, float] = field(default_factory=dict)  # pid -> CPU seconds of its children it waited for
    parent: dict[int, int] = field(default_factory=dict)  # pid -> its parent's pid


def _stat_fields(path: Path) -> list[str] | None:
    try:
        text = path.read_text()
    except OSError:  # the process ended between listing and reading
        return None
    # comm may hold spaces and parentheses: the fields after it start after the last ')'
    head, _, rest = text.rpartition(")")
    return [head.partition("(")[2], *rest.split()]


def _cpu_seconds(fields: list[str]) -> float:
    # after comm: state(1) ppid(2) pgrp(3) ... utime(12) stime(13)
    return (int(fields[12]) + int(fields[13])) / TICK


def _reaped_seconds(fields: list[str]) -> float:
    # cutime(14) cstime(15): the CPU of the children this process has waited for
    return (int(fields[14]) + int(fields[15])) / TICK


def snapshot(*, web_pgid: int, wall: float) -> Snapshot:
    processes: dict[int, tuple[str, float, bool]] = {}
    reaped: dict[int, float] = {}
    parent: dict[int, int] = {}
    me = os.getpid()
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(entry / "stat")
        if fields is None:
            continue
        pid, comm, pgrp = int(entry.name), fields[0], int(fields[3])
        if pid == me:
            processes[pid] = ("client", _cpu_seconds(fields), False)
        elif pgrp == web_pgid:
            processes[pid] = ("web server", _cpu_seconds(fields), False)
        elif comm == "postgres":
            processes[pid] = ("PostgreSQL", _cpu_seconds(fields), _is_background(entry))
        else:
            continue
        reaped[pid], parent[pid] = _reaped_seconds(fields), int(fields[2])
    cpu = (PROC / "stat").read_text().splitlines()[0].split()[1:]
    # user nice system idle iowait irq softirq steal: busy = all but idle and iowait
    values = [int(v) for v in cpu[:8]]
    busy = (sum(values) - values[3] - values[4]) / TICK
    return Snapshot(processes=processes, busy=busy, wall=wall, reaped=reaped, parent=parent)


def _is_background(entry: Path) -> bool:
    """A PostgreSQL process that serves no client: the postmaster, the WAL writer, the checkpointer, the
    background writer, autovacuum... A backend's title names its user, database and client address."""
    try:
        title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return "(" not in title and "[local]" not in title


def split(before: Snapshot, after: Snapshot) -> tuple[dict[str, float], float]:
    """CPU seconds of each part during the phase (plus "rest of the machine"), and PostgreSQL's own
    processes' share of its part."""
    parts = dict.fromkeys(PARTS, 0.0)
    background = 0.0
    for pid, (part, seconds, own) in after.processes.items():
        earlier = before.processes.get(pid)
        if earlier is not None and earlier[0] == part:
            used, reaped_before = seconds - earlier[1], before.reaped.get(pid, 0.0)
        else:  # started during the phase
            used, reaped_before = seconds, 0.0
        parts[part] += used
        background += used if own else 0.0
        # children that ended during the phase and were waited for: their whole CPU, less (below) what those of
        # them alive at the start had used before it
        parts[part] += after.reaped.get(pid, 0.0) - reaped_before
    for pid, (part, seconds, _) in before.processes.items():
        parent = before.parent.get(pid)
        if pid not in after.processes and parent in after.processes and after.processes[parent][0] == part:
            parts[part] -= seconds
    for name in PARTS:
        parts[name] = max(0.0, parts[name])
    parts["rest of the machine"] = max(0.0, (after.busy - before.busy) - sum(parts.values()))
    return parts, background


def describe(before: Snapshot, after: Snapshot, *, requests: int, what: str) -> str:
    """One line: ms of CPU per request for each part, and how busy the machine's cores were."""
    if requests <= 0:
        return f"   CPU per {what}: no {what}s"
    parts, background = split(before, after)
    cores = os.cpu_count() or 1
    share = 100 * (after.busy - before.busy) / max(1e-9, (after.wall - before.wall) * cores)
    text = {name: f"{name} {1000 * seconds / requests:.2f} ms" for name, seconds in parts.items()}
    text["PostgreSQL"] += f" (its own processes: WAL writer, checkpointer... {1000 * background / requests:.2f} ms)"
    return f"   CPU per {what} (whole phase, all requests): {', '.join(text.values())}; the {cores} cores {share:.0f}% busy"
