"""What every benchmark shares: paths, logging, machine facts, timing, percentiles, tables and JSON output."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# the read-only shared data lives next to the project: ../shared/data (see its README.md)
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = ROOT / "bench" / "results"
CACHE = RESULTS / "cache"

log = logging.getLogger("bench")

_VERSIONED = ("faiss-cpu", "torch", "bm25s", "numpy", "sentence-transformers", "pypdf", "pypdfium2", "PyStemmer",
              "tqdm")


# ---------------------------------------------------------------------------------------------- CLI

def make_parser(name: str, description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark takes."""
    parser = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--results-dir", type=Path, default=RESULTS,
                        help="where the JSON result is written (as <name>.json)")
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run (for smoke tests)")
    parser.add_argument("--no-progress", action="store_true", help="hide tqdm progress bars")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for handler in logging.getLogger().handlers:  # libraries that lower their own logger level stay quiet
        handler.setLevel(logging.DEBUG if verbose else logging.INFO)
    # the product logs every loaded version and ingest at INFO; keep that, but quiet chatty libraries
    for noisy in ("sentence_transformers", "faiss", "urllib3", "filelock", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


_SHOW_PROGRESS = True


def set_progress(enabled: bool) -> None:
    global _SHOW_PROGRESS
    _SHOW_PROGRESS = enabled


def progress(iterable: Iterable | None = None, **kwargs):
    """A tqdm bar on stderr (updates at most every 10 s when stderr is not a terminal)."""
    from tqdm import tqdm

    kwargs.setdefault("disable", not _SHOW_PROGRESS)
    kwargs.setdefault("mininterval", 0.5 if sys.stderr.isatty() else 10.0)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)


# ------------------------------------------------------------------------------------- machine facts

def versions() -> dict[str, str | None]:
    """Installed versions of the libraries that decide the numbers (read from metadata, no imports)."""
    out: dict[str, str | None] = {}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine_facts() -> dict[str, Any]:
    """CPU, memory, load and library versions: what a reader needs to compare two result files."""
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        ram = None
    return {
        "cpu_count": os.cpu_count(),
        "cpu_usable": usable,
        "cpu_model": cpu_model,
        "ram_bytes": ram,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions(),
        "env_threads": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TORCH_NUM_THREADS")
                        if k in os.environ},
    }


# ------------------------------------------------------------------------------------ memory, disk

def rss_bytes() -> int:
    """Current resident set size of this process."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # not Linux: fall back to the peak
        return peak_rss_bytes()


def peak_rss_bytes(children: bool = False) -> int:
    """Peak RSS of this process (or the largest of its waited-for children), from getrusage."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is KiB on Linux, bytes on macOS
    return int(usage.ru_maxrss * scale)


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def mib(n: float | None) -> float | None:
    return None if n is None else round(n / (1024 * 1024), 1)


# ---------------------------------------------------------------------------------- timing, stats

@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """``with stopwatch() as elapsed: ...; elapsed()`` gives seconds (frozen at exit)."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def time_calls(fn: Callable[[Any], Any], inputs: Sequence[Any], warmup: int = 5,
               desc: str | None = None) -> np.ndarray:
    """Seconds per call of ``fn(x)`` for each input, after ``warmup`` untimed calls."""
    for x in inputs[:warmup]:
        fn(x)
    out = np.empty(len(inputs), dtype=np.float64)
    for i, x in enumerate(progress(inputs, desc=desc, leave=False) if desc else inputs):
        t0 = time.perf_counter()
        fn(x)
        out[i] = time.perf_counter() - t0
    return out


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean/max in milliseconds."""
    a = np.asarray(seconds, dtype=np.float64) * 1000.0
    if a.size == 0:
        return {"n": 0}
    return {"n": int(a.size), "p50_ms": round(float(np.percentile(a, 50)), 3),
            "p95_ms": round(float(np.percentile(a, 95)), 3), "p99_ms": round(float(np.percentile(a, 99)), 3),
            "mean_ms": round(float(a.mean()), 3), "max_ms": round(float(a.max()), 3)}


def paired_bootstrap(a: Sequence[float], b: Sequence[float], rounds: int = 2000,
                     seed: int = 0) -> dict[str, float]:
    """Mean of ``a - b`` over paired per-query values, with a 95 % bootstrap interval."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if d.size == 0:
        return {"delta": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(rounds, d.size))].mean(axis=1)
    return {"delta": round(float(d.mean()), 4), "ci_low": round(float(np.percentile(means, 2.5)), 4),
            "ci_high": round(float(np.percentile(means, 97.5)), 4)}


# ---------------------------------------------------------------------------------- tables, JSON

@dataclass
class Column:
    key: str
    header: str
    fmt: str = ""  # format spec for numbers, e.g. ".3f"; "" = str()
    align: str = ">"


def format_table(rows: Sequence[dict], columns: Sequence[Column], title: str = "") -> str:
    """A plain-text table; missing values print as '-'."""
    def cell(row: dict, col: Column) -> str:
        value = row.get(col.key)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        if col.fmt and isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            return format(value, col.fmt)
        return str(value)

    body = [[cell(r, c) for c in columns] for r in rows]
    widths = [max([len(c.header)] + [len(line[i]) for line in body]) for i, c in enumerate(columns)]
    lines = []
    if title:
        lines += [title, "=" * len(title)]
    lines.append("  ".join(c.header.ljust(w) if c.align == "<" else c.header.rjust(w)
                           for c, w in zip(columns, widths)))
    lines.append("  ".join("-" * w for w in widths))
    for line in body:
        lines.append("  ".join(v.ljust(w) if c.align == "<" else v.rjust(w)
                               for v, c, w in zip(line, columns, widths)))
    return "\n".join(lines)


def print_table(rows: Sequence[dict], columns: Sequence[Column], title: str = "") -> str:
    text = format_table(rows, columns, title)
    print(text + "\n", flush=True)
    return text


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "__dict__"):
        return value.__dict__
    return str(value)


def write_results(results_dir: Path, name: str, payload: dict) -> Path:
    """Write ``<results_dir>/<name>.json`` (pretty, UTF-8) and return its path."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1, ensure_ascii=False, default=_json_default), encoding="utf-8")
    os.replace(tmp, path)
    log.info("wrote %s", path)
    return path


@dataclass
class Run:
    """One benchmark run: its name, arguments and machine facts, captured at the start."""

    name: str
    args: dict
    machine: dict = field(default_factory=machine_facts)
    started_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S"))
    _t0: float = field(default_factory=time.perf_counter)

    @classmethod
    def start(cls, name: str, args: argparse.Namespace) -> "Run":
        setup_logging(getattr(args, "verbose", False))
        set_progress(not getattr(args, "no_progress", False))
        run = cls(name, {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()})
        log.info("%s: %d CPUs, load average %s", name, run.machine["cpu_count"],
                 run.machine["load_average_start"])
        return run

    def finish(self, results_dir: Path, **payload: Any) -> Path:
        machine = dict(self.machine, load_average_end=[round(x, 2) for x in os.getloadavg()])
        doc = {"benchmark": self.name, "started_at": self.started_at,
               "wall_seconds": round(time.perf_counter() - self._t0, 2), "args": self.args,
               "machine": machine, **payload}
        return write_results(results_dir, self.name, doc)
