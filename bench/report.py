"""bench/results.md: the machine, the settings, one table per scenario."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.scenarios import Measurement, Plan, ScenarioResult, _label

COLUMNS = ("| run | work packages | wall s | records | records/s | requests | peak RSS MiB | double CPU s "
           "| ratio | target | met |")


def machine() -> dict[str, str]:
    """CPU model, cores, RAM, Python, OS and library versions of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    os_name = platform.platform()
    try:
        lines = Path("/etc/os-release").read_text().splitlines()
        release = dict(line.split("=", 1) for line in lines if "=" in line)
        os_name = f"{release.get('PRETTY_NAME', '').strip(chr(34))} ({platform.system()} {platform.release()})"
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "CPU": cpu,
        "Cores": f"{os.cpu_count()} logical ({usable} usable by this process)",
        "RAM": ram,
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
        "OS": os_name,
        "singer-sdk": _version("singer-sdk"),
        "requests": _version("requests"),
    }


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def tap_revision(package: str) -> str:
    """Which tap was measured: the package directory, its git commit and whether it had uncommitted changes."""
    where = Path(package).parent
    revision = where / "REVISION"  # written by --tap-rev
    if revision.exists():
        return f"`tap_openproject` as committed at {revision.read_text().strip()} (`--tap-rev`)"
    try:
        commit = subprocess.run(["git", "-C", str(where), "rev-parse", "--short", "HEAD"],  # noqa: S603,S607
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--", "tap_openproject"],  # noqa: S603,S607
                               capture_output=True, text=True, check=True).stdout.strip()
        return f"`{package}` at {commit}{' + uncommitted changes' if dirty else ''}"
    except (OSError, subprocess.CalledProcessError):
        return f"`{package}` (not a git checkout)"


def render(results: list[ScenarioResult], plan: Plan, *, quick: bool, info: dict[str, Any]) -> str:
    """The whole results.md."""
    lines = ["# Benchmark results", "",
             f"Written by `python -m bench{' --quick' if quick else ''}` (`make bench`) on "
             f"{info['finished']:%Y-%m-%d %H:%M} UTC. Wall time is per process, from spawn to exit (interpreter "
             "start-up and imports included); requests are counted by the double; peak RSS is the process's own "
             "`ru_maxrss` (wait4). Ratios are measured within one run.",
             "", "## Summary", "",
             "| scenario | measure | measured | target | met |", "|:--|:--|--:|--:|:--:|"]
    for result in results:
        target = "n/a" if result.target is None else f"<= {result.target:g}"
        met = "n/a" if result.target is None else ("yes" if result.met else "**no**")
        lines.append(f"| {result.title} | {result.ratio_label} | {_num(result.ratio)} | {target} | {met} |")
    lines += ["", "## Machine", ""]
    lines += [f"- {key}: {value}" for key, value in info["machine"].items()]
    others = info["other_cores"]
    lines += [f"- Load average (1 min) before / after: {info['load_before']:.2f} / {info['load_after']:.2f}; "
              f"CPU used by other processes during the run: "
              + ("unknown" if others is None else f"{others:.2f} cores on average")
              + (" (**the machine was busy: timings are noisy**)" if info["busy"] else "")]
    lines += ["", "## Settings", "",
              f"- Mode: {'quick (small sizes for CI; the targets are for the full run)' if quick else 'full'}; "
              f"each client run {plan.repeat} time(s), the median wall time reported; in the record-path "
              f"scenario each client and size {plan.cpu_repeat} time(s), interleaved, the run of median CPU reported.",
              f"- Tap under test: {info['tap']}, default settings (page_size 1000), stdout to a file, "
              "a catalog with only the measured streams selected, no state (full sync).",
              "- Sequential floor: `python -m bench.floor`, one `requests` session, pages of 1000 "
              "(`filters=[]`, offset 1..n, no extra empty request), each record written as a JSON line; for "
              "child streams it reads the work packages the same way, then each one's activities in turn.",
              "- Server: the OpenProject double (`python -m tests.openproject_double`) in its own process, every "
              "work package serialised before it announces readiness; it sleeps the latency on every request "
              "and the per-record cost times the elements it returns. \"double CPU s\" is the CPU it spent "
              "answering one client run: well below the wall time, the server cost (sleeps) dominates.",
              f"- Fixed start-up cost with no request: tap {info['startup'].get('tap', 0):.2f} s "
              f"(`tap-openproject --about`), floor {info['startup'].get('floor', 0):.2f} s (`import requests`).",
              ""]
    for result in results:
        lines += _table(result)
    return "\n".join(lines) + "\n"


def _table(result: ScenarioResult) -> list[str]:
    out = [f"## {result.title}", "", f"Server cost: {result.server_cost}. Ratio: {result.ratio_label}.", ""]
    if result.table is not None:
        return [*out, *result.table, "", *(f"- **Check:** {note}" for note in result.notes), ""]
    out += [COLUMNS, "|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|:--:|"]
    headline = _headline(result)
    for row in result.rows:
        is_headline = row is headline
        target = f"<= {result.target:g}" if is_headline and result.target is not None else ""
        met = ("yes" if result.met else "**no**") if is_headline and result.target is not None else ""
        out.append(f"| {_label(row)} | {row.work_packages:,} | {row.wall_s:.2f} | {row.records:,} | "
                   f"{row.records_per_s:,.0f} | {row.requests:,} | {row.peak_rss_mib:.0f} | {_num(row.double_cpu_s)} | "
                   f"{_num(row.ratio)} | "
                   f"{target} | {met} |")
    out.append("")
    for row in result.rows:
        routes = ", ".join(f"{route} {count}" for route, count in sorted(row.requests_by_route.items()))
        out.append(f"- {_label(row)} at {row.work_packages:,}: requests by route: {routes or 'none'}")
    out += [f"- **Check:** {note}" for note in result.notes]
    out.append("")
    return out


def _headline(result: ScenarioResult) -> Measurement | None:
    taps = [row for row in result.rows if row.client == "tap"]
    return taps[-1] if taps else None


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def now() -> dt.datetime:
    """UTC now."""
    return dt.datetime.now(dt.timezone.utc)
