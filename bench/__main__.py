"""`python -m bench`: measure the tap against the sequential floor and write bench/results.md.

    python -m bench                  # every scenario (several minutes)
    python -m bench --quick          # small sizes, for CI (seconds)
    python -m bench --only memory    # one scenario (work_packages, activities, memory, record_path, startup, large)
    python -m bench --profile        # cProfile of the tap on 20,000 work packages at zero server cost
    python -m bench --tap-src DIR    # measure the tap_openproject package of another checkout
    python -m bench --tap-rev HEAD   # measure tap_openproject as committed at a git revision
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from bench.double import REPO
from bench.measure import OtherLoad
from bench.profile import profile_tap
from bench.report import machine, now, render, tap_revision
from bench.scenarios import QUICK, QUICK_STARTUP_PROJECTS, SCENARIOS, STARTUP_PROJECTS, Bench, Plan


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; sizes and costs default to issue 5's (or the quick plan)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and costs: a smoke run for CI")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results.md", help="results file")
    parser.add_argument("--work-dir", type=Path, default=REPO / "bench" / "out",
                        help="configs, catalogs, outputs and logs of every run (git-ignored)")
    parser.add_argument("--only", action="append", choices=SCENARIOS, help="run only this scenario (repeatable)")
    parser.add_argument("--repeat", type=int, help="runs per client; the median wall time is reported")
    parser.add_argument("--tap-src", type=Path, help="directory holding the tap_openproject package to measure")
    parser.add_argument("--tap-rev", help="measure tap_openproject as of this git revision (git archive)")
    parser.add_argument("--profile", action="store_true", help="profile the tap instead of benchmarking")
    parser.add_argument("--profile-records", type=int, default=20_000, help="work packages for --profile")
    parser.add_argument("--profile-top", type=int, default=15, help="entries per --profile listing")
    sizes = parser.add_argument_group("sizes, server costs and targets (wp: work_packages scenario, children: "
                                      "activities, rss: memory; latency per request, per_record per element)")
    for field in dataclasses.fields(Plan):
        if field.name != "repeat":
            sizes.add_argument(f"--{field.name.replace('_', '-')}", type=type(field.default), dest=field.name,
                               metavar=type(field.default).__name__.upper(),
                               help=f"default {field.default:g} (quick: {getattr(QUICK, field.name):g})")
    return parser.parse_args(argv)


def checkout(revision: str, parent: Path) -> Path:
    """tap_openproject as of `revision`, extracted under `parent` (the working tree is untouched)."""
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", revision],  # noqa: S603,S607
                            capture_output=True, text=True, check=True).stdout.strip()
    target = parent / f"tap-{commit}"
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "tap_openproject"],  # noqa: S603,S607
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4
            tar.extractall(target, filter="data")
        else:
            tar.extractall(target)  # noqa: S202 - our own repository's archive
    (target / "REVISION").write_text(f"{commit}\n")
    return target


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or the profile) and write the results."""
    args = parse_args(argv)
    # A --tap-rev checkout lives outside the repository (type checkers must not find a second package).
    with tempfile.TemporaryDirectory(prefix="tap-openproject-bench-") as scratch:
        return run(args, Path(scratch))


def run(args: argparse.Namespace, scratch: Path) -> int:
    """main() with a scratch directory."""
    plan = QUICK if args.quick else Plan()
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(Plan)
                 if f.name != "repeat" and getattr(args, f.name) is not None}
    plan = dataclasses.replace(plan, **overrides, repeat=args.repeat or plan.repeat)
    if args.tap_src is not None and not (args.tap_src / "tap_openproject" / "__init__.py").exists():
        print(f"--tap-src {args.tap_src}: no tap_openproject package there", file=sys.stderr)
        return 2
    args.work_dir.mkdir(parents=True, exist_ok=True)
    if args.tap_rev:
        args.tap_src = checkout(args.tap_rev, scratch)
    bench = Bench(plan, args.work_dir.resolve(), tap_src=args.tap_src.resolve() if args.tap_src else None,
                  log=lambda text: print(text, flush=True))
    if args.profile:
        report = profile_tap(bench, args.profile_records, args.profile_top)
        (args.work_dir / "profile.txt").write_text(report + "\n")
        print(report)
        return 0
    load_before = os.getloadavg()[0]
    other_load = OtherLoad()
    bench.measure_startup()
    results = []
    runs = {"work_packages": bench.work_packages, "activities": bench.children, "memory": bench.memory,
            "record_path": bench.record_path, "large": bench.large,
            "startup": lambda: bench.startup_requests(QUICK_STARTUP_PROJECTS if args.quick else STARTUP_PROJECTS)}
    for name in args.only or SCENARIOS:
        print(f"scenario {name}", flush=True)
        outcome = runs[name]()
        results.extend(outcome if isinstance(outcome, list) else [outcome])
    load_after = os.getloadavg()[0]
    others = other_load.cores()
    finished = now()
    info: dict[str, Any] = {
        "machine": machine(), "tap": tap_revision(bench.tap_package()), "startup": bench.startup,
        "load_before": load_before, "load_after": load_after, "finished": finished, "other_cores": others,
        # the double and the measured client each take up to one core: competing for it skews timings
        "busy": others is not None and others > 0.25}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(results, plan, quick=args.quick, info=info))
    (args.work_dir / "results.json").write_text(json.dumps(
        {"plan": dataclasses.asdict(plan), "quick": args.quick, "scenarios": [r.to_json() for r in results],
         **{k: v for k, v in info.items() if k != "finished"}, "finished": finished.isoformat()},
        indent=2))
    print(f"wrote {args.out}")
    for result in results:
        verdict = "no target" if result.target is None else f"target <= {result.target:g}: " + (
            "met" if result.met else "NOT met")
        print(f"  {result.title}: {result.ratio_label} = {result.ratio:.2f} ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
