"""Run one measured process: wall time, exit code and its own peak RSS (from wait4, not polling)."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

#: The wrapper every measured command runs under: it spawns the command, waits for it with wait4 and writes
#: wall time, exit code and the command's peak RSS to a file. A wrapper, because a child's ru_maxrss also
#: counts the memory of the process that spawned it (Linux keeps the pre-exec high-water mark): a bare
#: interpreter (`-S`, ~10 MiB) adds nothing to a measured client, the harness (which reads outputs) could.
WRAPPER = """
import json, os, sys, time
result, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.posix_spawnp(argv[0], argv, os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(result, "w") as out:
    json.dump({"wall_s": wall, "maxrss_kib": usage.ru_maxrss, "cpu_s": usage.ru_utime + usage.ru_stime,
               "exit": os.waitstatus_to_exitcode(status)}, out)
"""


@dataclass
class Run:
    """What one measured process did."""

    wall_s: float
    peak_rss_mib: float
    returncode: int
    cpu_s: float = 0.0  # user + system CPU of the command itself (wait4), all its threads


class MeasuredProcessError(RuntimeError):
    """A measured process failed or timed out; the message names its stderr file."""


def run_measured(command: list[str], *, stdout: Path, stderr: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None, timeout_s: float = 3600.0) -> Run:
    """Run `command` to completion under the wrapper, stdout and stderr to files.

    Wall time runs from spawn to exit (interpreter start-up and imports included, as a scheduler would see
    them). Peak RSS is the command's own ``ru_maxrss`` from wait4: exact, not polled, and not mixed with the
    harness or the double.
    """
    result = stdout.with_name(stdout.name + ".rusage.json")
    result.unlink(missing_ok=True)
    wrapper = [sys.executable, "-S", "-c", WRAPPER, str(result), *command]
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        # Its own process group, so that a timeout or an interrupted harness can stop the command with it.
        process = subprocess.Popen(wrapper, stdout=out, stderr=err, env=env, cwd=cwd,  # noqa: S603
                                   start_new_session=True)
        try:
            process.wait(timeout=timeout_s)
        except BaseException:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
    if process.returncode != 0 or not result.exists():
        raise MeasuredProcessError(f"the measuring wrapper failed ({process.returncode}); stderr in {stderr}")
    measured = json.loads(result.read_text())
    run = Run(wall_s=measured["wall_s"], peak_rss_mib=measured["maxrss_kib"] / 1024, returncode=measured["exit"],
              cpu_s=measured["cpu_s"])
    if run.returncode != 0:
        tail = stderr.read_text(errors="replace").strip().splitlines()[-5:]
        raise MeasuredProcessError(f"{command[0]} ... exited {run.returncode}; stderr in {stderr}:\n"
                                   + "\n".join(tail))
    return run


class OtherLoad:
    """How many cores other processes kept busy while the benchmark ran (Linux /proc/stat): the noise gauge.

    Busy CPU time of the whole machine minus what this process and its children (the doubles, the measured
    clients) used, divided by the wall time. Near 0: the timings are clean; near a core: another process
    competed with the double or the client.
    """

    def __init__(self) -> None:
        self._start = (time.perf_counter(), _machine_busy_s(), _own_cpu_s())

    def cores(self) -> float | None:
        """Average cores used by other processes since construction (None where /proc/stat is missing)."""
        wall, busy, own = time.perf_counter(), _machine_busy_s(), _own_cpu_s()
        if busy is None or self._start[1] is None or wall <= self._start[0]:
            return None
        return max(0.0, ((busy - self._start[1]) - (own - self._start[2])) / (wall - self._start[0]))


def _machine_busy_s() -> float | None:
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    ticks = [int(v) for v in fields]
    busy = sum(ticks[:8]) - ticks[3] - ticks[4]  # user nice system [idle iowait] irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total
