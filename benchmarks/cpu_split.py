"""Where the CPU of a load phase went: the load client, the web server, PostgreSQL, the rest of the machine.

Read from /proc (Linux only; elsewhere `available()` is False and the benchmark prints nothing). A process
that starts and ends inside a phase is missed, so the figures are lower bounds for short-lived processes;
the benchmark's own processes (client, gunicorn workers, pooled PostgreSQL backends) live through a phase.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def available() -> bool:
    return (PROC / "stat").exists() and (PROC / "self" / "stat").exists()


@dataclass(frozen=True)
class Snapshot:
    client: float  # CPU seconds of this process (every thread)
    web: float  # of the processes in the web server's process group
    database: float  # of every process named postgres
    database_background: float  # of those, the server's own processes (WAL writer, checkpointer, ...)
    busy: float  # of the whole machine (every core), idle and iowait excluded
    wall: float


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
    client = web = database = background = 0.0
    me = os.getpid()
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(entry / "stat")
        if fields is None:
            continue
        comm, pgrp = fields[0], int(fields[3])
        if int(entry.name) == me:
            client = _cpu_seconds(fields)
        elif pgrp == web_pgid:
            web += _cpu_seconds(fields)
        elif comm == "postgres":
            seconds = _cpu_seconds(fields)
            database += seconds
            if _is_background(entry):
                background += seconds
    cpu = (PROC / "stat").read_text().splitlines()[0].split()[1:]
    # user nice system idle iowait irq softirq steal: busy = all but idle and iowait
    values = [int(v) for v in cpu[:8]]
    busy = (sum(values) - values[3] - values[4]) / TICK
    return Snapshot(client=client, web=web, database=database, database_background=background, busy=busy, wall=wall)


def _is_background(entry: Path) -> bool:
    """A PostgreSQL process that serves no client: the postmaster, the WAL writer, the checkpointer, the
    background writer, autovacuum... A backend's title names its user, database and client address."""
    try:
        title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return "(" not in title and "[local]" not in title


def describe(before: Snapshot, after: Snapshot, *, requests: int, what: str) -> str:
    """One line: ms of CPU per request for each part, and how busy the machine's cores were."""
    if requests <= 0:
        return f"   CPU per {what}: no {what}s"
    parts = {
        "client": after.client - before.client,
        "web server": after.web - before.web,
        "PostgreSQL": after.database - before.database,
    }
    background = after.database_background - before.database_background
    busy = after.busy - before.busy
    parts["rest of the machine"] = max(0.0, busy - sum(parts.values()))
    cores = os.cpu_count() or 1
    share = 100 * busy / max(1e-9, (after.wall - before.wall) * cores)
    text = {name: f"{name} {1000 * seconds / requests:.2f} ms" for name, seconds in parts.items()}
    text["PostgreSQL"] += f" (its own processes: WAL writer, checkpointer... {1000 * background / requests:.2f} ms)"
    return f"   CPU per {what} (whole phase, all requests): {', '.join(text.values())}; the {cores} cores {share:.0f}% busy"
