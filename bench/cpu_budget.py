"""Where a load's CPU goes: the load generator, the app server's processes, PostgreSQL's.

On two cores shared by the clients, the app and the database, a request rate is a CPU budget:
CPU seconds per request, by side, say which side a faster path would have to shrink. Read from
/proc (Linux): a process tree's CPU is what its live processes used plus what the root has
reaped from children that exited (PostgreSQL's backends that closed, say).

    with CpuMeter(server_pid) as cpu:
        ... run the load ...
    cpu.ms_per(requests)  # {"client": …, "server": …, "postgres": …}
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from pathlib import Path
from typing import Any

from bench_demo import PG_SERVER

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float, float]:
    """(parent pid, own CPU seconds, reaped children's CPU seconds) from /proc/<pid>/stat."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return ppid, (utime + stime) / TICKS, (cutime + cstime) / TICKS


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of `root` and every live descendant, plus what `root` reaped from children."""
    children: dict[int, list[int]] = {}
    own: dict[int, float] = {}
    reaped = 0.0
    for entry in filter(str.isdigit, os.listdir("/proc")):
        pid = int(entry)
        try:
            ppid, cpu, reaped_by_pid = _stat(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited while we read
        children.setdefault(ppid, []).append(pid)
        own[pid] = cpu
        if pid == root:
            reaped = reaped_by_pid
    total, frontier = reaped, [root]
    while frontier:
        pid = frontier.pop()
        total += own.get(pid, 0.0)
        frontier += children.get(pid, [])
    return total


def postmaster_pid() -> int:
    """The first line of postmaster.pid in the server's data directory (same machine, run as root)."""
    data = subprocess.run(
        ["psql", f"{PG_SERVER}/postgres", "-qtAc", "SHOW data_directory"], capture_output=True, text=True, check=True
    )
    return int((Path(data.stdout.strip()) / "postmaster.pid").read_text().split()[0])


class CpuMeter:
    """CPU seconds used between enter and exit by this process (the clients), the server's process
    tree (when given) and PostgreSQL's (the postmaster and every backend and helper)."""

    def __init__(self, server_pid: int | None = None, postgres: bool = True) -> None:
        self.server_pid = server_pid
        self.postmaster = postmaster_pid() if postgres else None
        self.used: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        reading = {"client": time.process_time() + children.ru_utime + children.ru_stime}
        if self.server_pid is not None:
            reading["server"] = tree_cpu_seconds(self.server_pid)
        if self.postmaster is not None:
            reading["postgres"] = tree_cpu_seconds(self.postmaster)
        return reading

    def __enter__(self) -> CpuMeter:
        self._start, self._wall = self._read(), time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._read()
        self.used = {side: end[side] - self._start[side] for side in end}
        self.wall = time.monotonic() - self._wall

    def ms_per(self, requests: int) -> dict[str, Any]:
        """CPU ms per request by side, and the cores the whole load kept busy."""
        if not requests:
            return {}
        out: dict[str, Any] = {side: round(seconds * 1000 / requests, 2) for side, seconds in self.used.items()}
        out["cores_busy"] = round(sum(self.used.values()) / self.wall, 2)
        return out


def describe(ms: dict[str, Any]) -> str:
    """'client 0.41 + server 15.20 + postgres 3.10 = 18.71 ms CPU each, 1.98 cores busy'."""
    sides = [side for side in ("client", "server", "postgres") if side in ms]
    if not sides:
        return "no CPU reading"
    total = sum(ms[side] for side in sides)
    parts = " + ".join(f"{side} {ms[side]:.2f}" for side in sides)
    return f"{parts} = {total:.2f} ms CPU each, {ms.get('cores_busy', 0):.2f} cores busy"
