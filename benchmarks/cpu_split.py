"""Where the CPU of a load phase went: the load client, the web server, PostgreSQL, the rest of the machine.

Read from /proc (Linux only; elsewhere `available()` is False and the benchmark prints nothing). Each part is
the sum, over the processes alive at the phase's end, of the CPU they used since its start (or since they
started). A process that ends inside the phase (a pooled PostgreSQL connection the pool closed) takes its last
slice with it: that slice shows under "rest of the machine", never as a negative share of its part.
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


def snapshot(*, web_pgid: int, wall: float) -> Snapshot:
    processes: dict[int, tuple[str, float, bool]] = {}
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
    cpu = (PROC / "stat").read_text().splitlines()[0].split()[1:]
    # user nice system idle iowait irq softirq steal: busy = all but idle and iowait
    values = [int(v) for v in cpu[:8]]
    busy = (sum(values) - values[3] - values[4]) / TICK
    return Snapshot(processes=processes, busy=busy, wall=wall)


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
        used = seconds - earlier[1] if earlier is not None and earlier[0] == part else seconds
        parts[part] += used
        background += used if own else 0.0
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
