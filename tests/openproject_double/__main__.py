"""Serve a double from the command line until SIGTERM/SIGINT.

    python -m tests.openproject_double --port 0 --work-packages 2000 --seed 1 --api-key KEY [--release 12]

The benchmark adds ``--prerender all`` (serialise every work package before announcing readiness) and
``--stats`` (GET /__stats answers request counts).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from .data import Dataset
from .releases import RELEASES
from .server import OpenProjectDouble


def _count_or_all(text: str) -> int:
    """A work package count for --prerender; "all" is -1."""
    return -1 if text == "all" else int(text)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, start the double, print its URL, wait for a signal, stop."""
    parser = argparse.ArgumentParser(prog="python -m tests.openproject_double", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = ephemeral)")
    parser.add_argument("--work-packages", type=int, default=2000)
    parser.add_argument("--projects", type=int, default=4)
    parser.add_argument("--users", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--api-key", default="test-key-for-double")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="sleep per request")
    parser.add_argument("--per-record-ms", type=float, default=0.0, help="sleep per element returned")
    parser.add_argument("--max-page-size", type=int, default=None,
                        help="the server's page size maximum (default: the release's, 1000; 500 on 12)")
    parser.add_argument("--release", type=int, choices=RELEASES, default=None,
                        help="the OpenProject line to imitate (default: the newest surface, unpinned)")
    parser.add_argument("--no-login-required", action="store_true", help="anonymous fallback without a key")
    parser.add_argument("--port-file", type=Path, help="write the bound port to this file when ready")
    parser.add_argument("--prerender", type=_count_or_all, default=0, metavar="N|all",
                        help="serialise the first N work packages (or all) before announcing readiness")
    parser.add_argument("--stats", action="store_true", help="answer GET /__stats with request counts")
    args = parser.parse_args(argv)

    dataset = Dataset.generate(work_packages=args.work_packages, projects=args.projects, users=args.users,
                               seed=args.seed)
    double = OpenProjectDouble(dataset, api_key=args.api_key, login_required=not args.no_login_required,
                               max_page_size=args.max_page_size, latency_ms=args.latency_ms,
                               per_record_ms=args.per_record_ms, port=args.port, prerender=args.prerender,
                               stats_endpoint=args.stats, release=args.release)
    stopped = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    double.start()
    try:
        if args.port_file:
            args.port_file.write_text(f"{double.port}\n")
        print(f"openproject-double listening on {double.url}", flush=True)
        while not stopped.wait(0.5):
            pass
    finally:
        double.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
