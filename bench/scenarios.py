"""What the benchmark measures: three scenarios of issue 5, each a floor and the tap against one double."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.double import REPO, DoubleProcess, child_env, request_delta
from bench.measure import Run, run_measured

API_KEY = "bench-api-key-for-the-local-double"


@dataclass(frozen=True)
class Plan:
    """Sizes and server costs of one benchmark run (the full run is issue 5's; quick is for CI)."""

    wp_records: int = 20_000
    wp_latency_ms: float = 30.0
    wp_per_record_ms: float = 1.0
    wp_target: float = 0.5
    children_parents: int = 1_000
    children_latency_ms: float = 20.0
    children_per_record_ms: float = 0.0
    children_target: float = 0.35
    rss_small: int = 5_000
    rss_large: int = 40_000
    rss_latency_ms: float = 30.0
    rss_per_record_ms: float = 0.0
    rss_target: float = 1.5
    cpu_small: int = 10_000
    cpu_large: int = 30_000
    cpu_slope_target_us: float = 50.0
    #: Runs of each client and size in the record-path scenario, interleaved; the run of median CPU is reported.
    cpu_repeat: int = 3
    zero_cost_target: float = 1.2
    startup_latency_ms: float = 20.0
    large_parents: int = 100_000
    repeat: int = 1


QUICK = Plan(wp_records=2_000, wp_latency_ms=10.0, wp_per_record_ms=0.1, children_parents=100,
             children_latency_ms=5.0, rss_small=1_000, rss_large=3_000, rss_latency_ms=5.0, cpu_small=1_000,
             cpu_large=3_000, cpu_repeat=1, startup_latency_ms=2.0, large_parents=500)
#: Instance sizes (projects) of the start-up scenario: full run and quick run.
STARTUP_PROJECTS = (20, 100, 500)
QUICK_STARTUP_PROJECTS = (5, 20)


@dataclass
class Measurement:
    """One measured client run (the median of `repeat` runs by wall time; peak RSS is the largest seen)."""

    client: str  # "floor" or "tap"
    work_packages: int
    wall_s: float
    records: int
    records_by_stream: dict[str, int]
    requests: int
    requests_by_route: dict[str, int]
    peak_rss_mib: float
    double_cpu_s: float | None = None  # CPU the double spent answering this client
    ratio: float | None = None  # filled by the scenario
    cpu_s: float | None = None  # CPU (user + system) of the client process itself

    @property
    def records_per_s(self) -> float:
        """Records written per second of wall time."""
        return self.records / self.wall_s if self.wall_s else 0.0


@dataclass
class ScenarioResult:
    """A scenario's measurements and its verdict against the issue's target."""

    key: str
    title: str
    server_cost: str
    ratio_label: str
    target: float | None  # None: measured and reported, no target to meet
    rows: list[Measurement] = field(default_factory=list)
    ratio: float | None = None
    notes: list[str] = field(default_factory=list)
    #: A table of its own instead of the per-run one (the start-up scenario measures other things).
    table: list[str] | None = None

    @property
    def met(self) -> bool:
        """Whether the measured ratio is within the target (always, when there is none)."""
        return self.ratio is not None and (self.target is None or self.ratio <= self.target)

    def to_json(self) -> dict[str, Any]:
        """A plain dict for results.json."""
        out = asdict(self)
        out["met"] = self.met
        for row, data in zip(self.rows, out["rows"], strict=True):
            data["records_per_s"] = row.records_per_s
        return out


class Bench:
    """Runs scenarios: doubles, a catalog discovered once, measured floor and tap processes."""

    def __init__(self, plan: Plan, work_dir: Path, *, tap_src: Path | None = None, log: Any = print) -> None:
        self.plan = plan
        self.work_dir = work_dir
        self.tap_src = tap_src
        self.log = log
        self._catalog: dict[str, Any] | None = None
        self.startup: dict[str, float] = {}

    # --- commands -----------------------------------------------------------------------------------------
    def tap_command(self) -> list[str]:
        """The tap under test: the installed `tap-openproject`, or the checkout at --tap-src."""
        if self.tap_src is None:
            script = Path(sys.executable).parent / "tap-openproject"
            if script.exists():
                return [str(script)]
        return [sys.executable, "-m", "tap_openproject"]

    def env(self) -> dict[str, str]:
        """Environment of the tap and floor processes: --tap-src first, then this checkout (for bench.floor).

        Measured processes run in the work directory, so the current directory never shadows --tap-src.
        """
        paths = [str(self.tap_src)] if self.tap_src else []
        return child_env(os.pathsep.join([*paths, str(REPO)]))

    def _config(self, double: DoubleProcess) -> Path:
        path = self.work_dir / f"config-{double.port}.json"
        path.write_text(json.dumps({"base_url": double.url, "api_key": double.api_key}))
        path.chmod(0o600)
        return path

    def catalog(self, double: DoubleProcess, streams: tuple[str, ...]) -> Path:
        """A catalog with only `streams` selected (discovered once: every double has the same custom fields)."""
        if self._catalog is None:
            out, err = self.work_dir / "discover.json", self.work_dir / "discover.stderr"
            run_measured([*self.tap_command(), "--config", str(self._config(double)), "--discover"],
                         stdout=out, stderr=err, env=self.env(), cwd=self.work_dir)
            self._catalog = json.loads(out.read_text())
        catalog = json.loads(json.dumps(self._catalog))
        for entry in catalog["streams"]:
            for metadata in entry["metadata"]:
                if metadata["breadcrumb"] == []:
                    metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
        path = self.work_dir / f"catalog-{'-'.join(streams)}.json"
        path.write_text(json.dumps(catalog))
        return path

    def tap_package(self) -> str:
        """Where the measured processes import tap_openproject from (proof that --tap-src took effect)."""
        done = subprocess.run([sys.executable, "-c", "import tap_openproject; print(tap_openproject.__file__)"],  # noqa: S603
                              env=self.env(), cwd=self.work_dir, capture_output=True, text=True, check=True)
        return str(Path(done.stdout.strip()).parent)

    def measure_startup(self) -> None:
        """Fixed cost of starting each client with no request: part of every wall time below."""
        for name, command in (("tap", [*self.tap_command(), "--about"]),
                              ("floor", [sys.executable, "-c", "import requests, json"])):
            run = run_measured(command, stdout=self.work_dir / f"startup-{name}.out",
                               stderr=self.work_dir / f"startup-{name}.err", env=self.env(), cwd=self.work_dir)
            self.startup[name] = run.wall_s

    # --- one measured client ----------------------------------------------------------------------------
    def _measure(self, double: DoubleProcess, client: str, command: list[str], label: str,
                 count: Any) -> Measurement:
        runs: list[tuple[Run, int, dict[str, int], float | None]] = []
        for attempt in range(self.plan.repeat):
            stem = self.work_dir / f"{label}-{attempt + 1}"
            before, cpu_before = double.stats(), double.cpu_s()
            run = run_measured(command, stdout=stem.with_suffix(".out"), stderr=stem.with_suffix(".err"),
                               env=self.env(), cwd=self.work_dir)
            cpu_after = double.cpu_s()
            cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
            requests, routes = request_delta(before, double.stats())
            runs.append((run, requests, routes, cpu))
            self.log(f"    {label}: {run.wall_s:.2f} s, {requests} requests, peak RSS {run.peak_rss_mib:.0f} MiB"
                     + ("" if cpu is None else f", double CPU {cpu:.2f} s"))
        median_wall = statistics.median_low([item[0].wall_s for item in runs])
        run, requests, routes, cpu = next(item for item in runs if item[0].wall_s == median_wall)
        records, by_stream = count(self.work_dir / f"{label}-1.out")
        return Measurement(client, double.work_packages, run.wall_s, records, by_stream, requests, routes,
                           max(item[0].peak_rss_mib for item in runs), cpu, cpu_s=run.cpu_s)

    def floor(self, double: DoubleProcess, what: str, label: str) -> Measurement:
        """The sequential floor client for `what` (work_packages or activities)."""
        command = [sys.executable, "-m", "bench.floor", what, "--base-url", double.url, "--api-key",
                   double.api_key, "--out", str(self.work_dir / f"{label}.jsonl")]

        def count(stdout: Path) -> tuple[int, dict[str, int]]:
            lines = (self.work_dir / f"{label}.jsonl").read_text().splitlines()
            activities = sum(1 for line in lines if '"_type": "Activity' in line[:40])
            by_stream = {"work_packages": len(lines) - activities}
            if activities:
                by_stream["activities"] = activities
            return len(lines), by_stream

        return self._measure(double, "floor", command, label, count)

    def tap(self, double: DoubleProcess, streams: tuple[str, ...], label: str) -> Measurement:
        """The tap with default settings and only `streams` selected, stdout to a file."""
        command = [*self.tap_command(), "--config", str(self._config(double)), "--catalog",
                   str(self.catalog(double, streams))]
        return self._measure(double, "tap", command, label, count_records)

    def double(self, work_packages: int, latency_ms: float, per_record_ms: float, projects: int = 4,
               ) -> DoubleProcess:
        """A double (not yet started) with this size and server cost."""
        return DoubleProcess(self.work_dir, work_packages=work_packages, latency_ms=latency_ms,
                             per_record_ms=per_record_ms, api_key=API_KEY, projects=projects)

    def _started(self, double: DoubleProcess) -> DoubleProcess:
        double.start()
        self.log(f"  double: {double.work_packages} work packages, {double.latency_ms:g} ms/request + "
                 f"{double.per_record_ms:g} ms/record, ready in {double.startup_s:.1f} s")
        return double

    # --- scenarios ------------------------------------------------------------------------------------------
    def work_packages(self) -> ScenarioResult:
        """(a) + (b): the tap extracting work_packages only vs the sequential floor."""
        p = self.plan
        result = ScenarioResult(
            "work_packages", f"Work packages: {p.wp_records:,} at {p.wp_latency_ms:g} ms/request + "
            f"{p.wp_per_record_ms:g} ms/record", _cost(p.wp_latency_ms, p.wp_per_record_ms),
            "tap wall time / floor wall time", p.wp_target)
        with self._started(self.double(p.wp_records, p.wp_latency_ms, p.wp_per_record_ms)) as double:
            floor = self.floor(double, "work_packages", "wp-floor")
            tap = self.tap(double, ("work_packages",), "wp-tap")
        floor.ratio, tap.ratio = 1.0, tap.wall_s / floor.wall_s
        result.rows, result.ratio = [floor, tap], tap.ratio
        _check_records(result, tap, "work_packages", p.wp_records)
        _check_records(result, floor, "work_packages", p.wp_records)
        return result

    def children(self) -> ScenarioResult:
        """(c): activities of every work package (work_packages + activities selected) vs their floor."""
        p = self.plan
        result = ScenarioResult(
            "activities", f"Child streams: activities of {p.children_parents:,} work packages at "
            f"{p.children_latency_ms:g} ms/request", _cost(p.children_latency_ms, p.children_per_record_ms),
            "tap wall time / floor wall time", p.children_target)
        with self._started(self.double(p.children_parents, p.children_latency_ms,
                                       p.children_per_record_ms)) as double:
            floor = self.floor(double, "activities", "children-floor")
            tap = self.tap(double, ("work_packages", "activities"), "children-tap")
        floor.ratio, tap.ratio = 1.0, tap.wall_s / floor.wall_s
        result.rows, result.ratio = [floor, tap], tap.ratio
        _check_records(result, tap, "work_packages", p.children_parents)
        if tap.records_by_stream.get("activities") != floor.records_by_stream.get("activities"):
            result.notes.append(f"activities: the tap wrote {tap.records_by_stream.get('activities', 0)}, "
                                f"the floor {floor.records_by_stream.get('activities', 0)}")
        return result

    def memory(self) -> ScenarioResult:
        """Peak RSS of the tap at a large vs a small dataset (flat memory: pages stream through)."""
        p = self.plan
        result = ScenarioResult(
            "memory", f"Memory: peak RSS of the tap at {p.rss_large:,} vs {p.rss_small:,} work packages",
            _cost(p.rss_latency_ms, p.rss_per_record_ms),
            f"peak RSS at {p.rss_large:,} / peak RSS at {p.rss_small:,}", p.rss_target)
        rows: dict[tuple[str, int], Measurement] = {}
        for size in (p.rss_small, p.rss_large):
            with self._started(self.double(size, p.rss_latency_ms, p.rss_per_record_ms)) as double:
                rows["floor", size] = self.floor(double, "work_packages", f"rss-{size}-floor")
                rows["tap", size] = self.tap(double, ("work_packages",), f"rss-{size}-tap")
            _check_records(result, rows["tap", size], "work_packages", size)
        for client in ("floor", "tap"):
            rows[client, p.rss_small].ratio = 1.0
            small, large = rows[client, p.rss_small], rows[client, p.rss_large]
            large.ratio = large.peak_rss_mib / small.peak_rss_mib
        result.rows = [rows["floor", p.rss_small], rows["tap", p.rss_small], rows["floor", p.rss_large],
                       rows["tap", p.rss_large]]
        result.ratio = rows["tap", p.rss_large].ratio
        return result

    def record_path(self) -> list[ScenarioResult]:
        """The tap's own cost per record: CPU slope between two sizes, and wall time vs the floor, at zero
        server cost (the double answers as fast as it can; its CPU is reported beside the client's)."""
        p = self.plan
        runs: dict[tuple[str, int], list[Measurement]] = {}
        doubles = [self._started(self.double(size, 0.0, 0.0)) for size in (p.cpu_small, p.cpu_large)]
        try:
            # Both sizes and both clients in turn, cpu_repeat times: a machine whose speed drifts during the
            # scenario (a shared host) moves every row alike instead of one size's.
            for _ in range(p.cpu_repeat):
                for double in doubles:
                    size = double.work_packages
                    runs.setdefault(("floor", size), []).append(
                        self.floor(double, "work_packages", f"cpu-{size}-floor"))
                    runs.setdefault(("tap", size), []).append(self.tap(double, ("work_packages",), f"cpu-{size}-tap"))
        finally:
            for double in doubles:
                double.stop()
        rows = {key: _median_cpu(measured) for key, measured in runs.items()}
        small, large = rows["tap", p.cpu_small], rows["tap", p.cpu_large]
        slope = ((large.cpu_s or 0.0) - (small.cpu_s or 0.0)) / (p.cpu_large - p.cpu_small) * 1e6
        cost = _cost(0.0, 0.0)
        slope_result = ScenarioResult(
            "cpu_slope", f"Record path: tap CPU per work package between {p.cpu_small:,} and {p.cpu_large:,}",
            cost, "microseconds of tap CPU per work package (slope)", p.cpu_slope_target_us, ratio=slope)
        zero = ScenarioResult(
            "zero_cost", f"Record path: {p.cpu_large:,} work packages at zero server cost", cost,
            "tap wall time / floor wall time", p.zero_cost_target)
        for size in (p.cpu_small, p.cpu_large):
            floor, tap = rows["floor", size], rows["tap", size]
            floor.ratio, tap.ratio = 1.0, tap.wall_s / floor.wall_s
            _check_records(zero, tap, "work_packages", size)
            zero.rows += [floor, tap]
        zero.ratio = large.ratio
        cpu = {key: row.cpu_s or 0.0 for key, row in rows.items()}
        floor_slope = (cpu["floor", p.cpu_large] - cpu["floor", p.cpu_small]) / (p.cpu_large - p.cpu_small) * 1e6
        slope_result.table = [
            "| client | work packages | CPU s | wall s | double CPU s |", "|:--|--:|--:|--:|--:|",
            *(f"| {_label(row)} | {size:,} | {cpu[client, size]:.2f} | {row.wall_s:.2f} | "
              f"{_fmt(row.double_cpu_s)} |" for (client, size), row in sorted(rows.items(), key=lambda i: i[0][1])),
            "", f"Slope: ({cpu['tap', p.cpu_large]:.2f} - {cpu['tap', p.cpu_small]:.2f}) s / "
            f"{p.cpu_large - p.cpu_small:,} = {slope:.1f} us per work package; the floor's: "
            f"{floor_slope:.1f} us (tap / floor: {slope / floor_slope if floor_slope else 0:.2f}; the floor's slope "
            "shows how fast the machine ran).",
        ]
        return [slope_result, zero]

    def startup_requests(self, sizes: tuple[int, ...]) -> ScenarioResult:
        """Requests a sync with a catalog makes before its first stream request, and what --discover costs, as
        the number of projects grows (every request costs startup_latency_ms)."""
        p = self.plan
        result = ScenarioResult(
            "startup", f"Start-up: {sizes[0]:,} to {sizes[-1]:,} projects at {p.startup_latency_ms:g} ms/request",
            _cost(p.startup_latency_ms, 0.0),
            f"requests before the first stream request at {sizes[-1]:,} / at {sizes[0]:,} projects", 1.0)
        table = ["| projects | --discover s | --discover requests | sync with a catalog: requests before the first "
                 "stream request |", "|--:|--:|--:|--:|"]
        counts = []
        for projects in sizes:
            with self._started(self.double(40, p.startup_latency_ms, 0.0, projects=projects)) as double:
                config = self._config(double)
                out = self.work_dir / f"startup-{projects}-discover"
                before = double.stats()
                run = run_measured([*self.tap_command(), "--config", str(config), "--discover"],
                                   stdout=out.with_suffix(".json"), stderr=out.with_suffix(".err"),
                                   env=self.env(), cwd=self.work_dir)
                discovered, _ = request_delta(before, double.stats())
                catalog = json.loads(out.with_suffix(".json").read_text())
                for entry in catalog["streams"]:
                    for metadata in entry["metadata"]:
                        if metadata["breadcrumb"] == []:
                            metadata["metadata"]["selected"] = entry["tap_stream_id"] == "statuses"
                catalog_path = out.with_name(f"startup-{projects}-catalog.json")
                catalog_path.write_text(json.dumps(catalog))
                before = double.stats()
                run_measured([*self.tap_command(), "--config", str(config), "--catalog", str(catalog_path)],
                             stdout=out.with_name(f"startup-{projects}-sync.out"),
                             stderr=out.with_name(f"startup-{projects}-sync.err"), env=self.env(), cwd=self.work_dir)
                total, routes = request_delta(before, double.stats())
            counts.append(total - routes.get("/api/v3/statuses", 0))
            table.append(f"| {projects:,} | {run.wall_s:.2f} | {discovered:,} | {counts[-1]:,} |")
        result.ratio = counts[-1] / max(counts[0], 1)
        result.table = table
        return result

    def large(self) -> ScenarioResult:
        """A large instance end to end: work packages with their activities, zero server cost."""
        p = self.plan
        result = ScenarioResult(
            "large", f"Large: {p.large_parents:,} work packages with activities at zero server cost",
            _cost(0.0, 0.0), "peak RSS of the tap in MiB (reported, no target)", None)
        with self._started(self.double(p.large_parents, 0.0, 0.0)) as double:
            tap = self.tap(double, ("work_packages", "activities"), "large-tap")
        _check_records(result, tap, "work_packages", p.large_parents)
        result.rows, result.ratio = [tap], tap.peak_rss_mib
        return result


def _median_cpu(measured: list[Measurement]) -> Measurement:
    """The run of median CPU (the lower middle of an even count)."""
    ordered = sorted(measured, key=lambda row: row.cpu_s or 0.0)
    return ordered[(len(ordered) - 1) // 2]


def _label(row: Measurement) -> str:
    return "sequential floor" if row.client == "floor" else "tap (default settings)"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def count_records(path: Path) -> tuple[int, dict[str, int]]:
    """RECORD messages in a tap's stdout, in total and per stream."""
    by_stream: dict[str, int] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if '"RECORD"' not in line[:100]:  # cheap pre-filter: the type sits before the record
                continue
            message = json.loads(line)
            if message.get("type") == "RECORD":
                by_stream[message["stream"]] = by_stream.get(message["stream"], 0) + 1
    return sum(by_stream.values()), by_stream


def _check_records(result: ScenarioResult, row: Measurement, stream: str, expected: int) -> None:
    got = row.records_by_stream.get(stream, 0)
    if got != expected:
        result.notes.append(f"{row.client} at {row.work_packages:,}: {got} {stream} records, expected {expected}")


def _cost(latency_ms: float, per_record_ms: float) -> str:
    return f"{latency_ms:g} ms per request + {per_record_ms:g} ms per record returned"


SCENARIOS = ("work_packages", "activities", "memory", "record_path", "startup", "large")
