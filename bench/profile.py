"""Where the tap spends its time per record: cProfile of one tap run at zero server cost."""

from __future__ import annotations

import io
import pstats
import sys
from pathlib import Path

from bench.double import REPO
from bench.measure import run_measured
from bench.scenarios import Bench, count_records

#: Code of ours and of the SDK: what the lead can change or configure.
OWN_CODE = ("tap_openproject", "singer_sdk")


def profile_tap(bench: Bench, work_packages: int, top: int = 15) -> str:
    """Run the tap (work_packages only) on a zero-cost double twice, plain and under cProfile; a report."""
    out: list[str] = []
    with bench.double(work_packages, 0.0, 0.0) as double:
        config = bench._config(double)  # noqa: SLF001 - same package
        catalog = bench.catalog(double, ("work_packages",))
        args = ["--config", str(config), "--catalog", str(catalog)]
        plain = run_measured([*bench.tap_command(), *args], stdout=bench.work_dir / "profile-plain.out",
                             stderr=bench.work_dir / "profile-plain.err", env=bench.env(), cwd=bench.work_dir)
        records, _ = count_records(bench.work_dir / "profile-plain.out")
        prof = bench.work_dir / "tap.prof"
        command = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "tap_openproject", *args]
        profiled = run_measured(command,
                                stdout=bench.work_dir / "profile.out", stderr=bench.work_dir / "profile.err",
                                env=bench.env(), cwd=bench.work_dir)
    out.append(f"tap package {bench.tap_package()}")
    out.append(f"tap, {work_packages:,} work packages, zero server cost: {plain.wall_s:.2f} s wall, "
               f"{records:,} records, {plain.wall_s / max(records, 1) * 1e6:.0f} us per record "
               f"(whole process); under cProfile {profiled.wall_s:.2f} s. Profile: {prof}")
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        stats = pstats.Stats(str(prof), stream=text)
        stats.sort_stats(order).print_stats("|".join(OWN_CODE) if order == "cumulative" else "", top)
        out.append(f"\n--- top {top} by {order}" + (" in tap_openproject / singer_sdk" if order == "cumulative"
                                                    else " (all code)") + " ---")
        out.append(_trim(text.getvalue()))
    return "\n".join(out)


def _trim(text: str) -> str:
    """Drop pstats' preamble down to the table; shorten site-packages paths."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("ncalls")), 0)
    return "\n".join(_short(line) for line in lines[start:] if line.strip())


def _short(line: str) -> str:
    prefixes = (str(Path(sys.prefix)) + "/", str(Path(sys.base_prefix)) + "/")
    for marker in ("site-packages/", str(REPO) + "/", *prefixes):
        if marker in line:
            head, _, tail = line.partition(marker)
            line = head + tail
    return line
