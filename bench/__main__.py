"""Run every benchmark, each in its own process (so peak-memory numbers do not mix): ``python -m bench``."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time

from bench.common import RESULTS, setup_logging

log = logging.getLogger("bench")

BENCHMARKS = ("ingest_throughput", "search_latency", "retrieval_quality", "answer_quality", "ocr_quality")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Run all benchmarks (ingest throughput, search latency, retrieval quality) with their "
                    "defaults; each prints its tables and writes bench/results/<name>.json.")
    parser.add_argument("--quick", action="store_true",
                        help="smaller runs: 3 PDFs, 10k chunks only, 50 queries per dataset")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset to run")
    parser.add_argument("--sizes", default=None, help="passed to search_latency (e.g. 10k,100k to skip 1M)")
    parser.add_argument("--results-dir", default=str(RESULTS), help="where the JSON results are written")
    parser.add_argument("--wait-for-load", type=float, default=None, metavar="LOAD",
                        help="before each benchmark, wait (up to --wait-max seconds) until the 1-minute load "
                             "average is below LOAD, so concurrent work disturbs the timings less")
    parser.add_argument("--wait-max", type=float, default=600.0, help="longest wait for --wait-for-load, seconds")
    parser.add_argument("--no-progress", action="store_true", help="hide tqdm progress bars")
    return parser.parse_args(argv)


def wait_for_load(limit: float, longest: float) -> None:
    deadline = time.monotonic() + longest
    while os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        log.info("load average %.2f >= %.2f: waiting", os.getloadavg()[0], limit)
        time.sleep(15)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    chosen = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = [b for b in chosen if b not in BENCHMARKS]
    if unknown:
        log.error("unknown benchmark(s) %s; choose from %s", ", ".join(unknown), ", ".join(BENCHMARKS))
        return 2
    status = {}
    for name in chosen:
        cmd = [sys.executable, "-m", f"bench.{name}", "--results-dir", args.results_dir]
        if args.quick:
            cmd.append("--quick")
        if args.no_progress:
            cmd.append("--no-progress")
        if name == "search_latency" and args.sizes:
            cmd += ["--sizes", args.sizes]
        if args.wait_for_load is not None:
            wait_for_load(args.wait_for_load, args.wait_max)
        log.info("running %s", " ".join(cmd[1:]))
        started = time.perf_counter()
        code = subprocess.call(cmd)
        status[name] = (code, time.perf_counter() - started)
    print("\nSummary")
    for name, (code, seconds) in status.items():
        print(f"  {name:<20} {'ok' if code == 0 else f'FAILED (exit {code})':<16} {seconds:7.0f} s  "
              f"-> {args.results_dir}/{name}.json")
    return 0 if all(code == 0 for code, _ in status.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
