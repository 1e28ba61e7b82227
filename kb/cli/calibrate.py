"""``python -m kb.cli.calibrate``: fit the reader's calibration on several collections at once (the fitting is
``kb.tuning.calibrate``'s; this opens each collection's index)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path

from kb.tuning.calibrate import Calibration, card_section, choose_floors, collect, fit, outcomes

log = logging.getLogger(__name__)


def fit_doc() -> str:
    import kb.tuning.calibrate as module

    return module.__doc__.split("\n\n")[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kb.cli.calibrate", description=fit_doc(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reader", default="models/kb-reader", help="the reader model folder")
    parser.add_argument("--collection", action="append", required=True, metavar="DOCS=GOLD",
                        help="a documents folder and its gold questions (repeat for each collection)")
    parser.add_argument("--work", default="runs/calibrate", help="where the collections' indexes are kept")
    parser.add_argument("--out", help="calibration file to write (default: <reader>/calibration.json)")
    parser.add_argument("--max-confident-wrong", type=float, default=0.04)
    parser.add_argument("--likely-wrong-cost", type=float, default=1.5)
    parser.add_argument("--features", help="reuse (or write) the collected spans in this JSON file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from kb import KnowledgeBase, Settings
    from kb.answering.evaluate import load_gold
    from kb.reader.model import Reader

    features = Path(args.features) if args.features else None
    if features is not None and features.is_file():
        collections = json.loads(features.read_text())
    else:
        collections = {}
        reader = Reader(Path(args.reader))
        for spec in args.collection:
            docs, _, gold = spec.partition("=")
            name = f"{Path(docs).name}-{Path(gold).stem}"
            settings = Settings.load(index_dir=Path(args.work) / Path(docs).name, reader_model="")
            kb = KnowledgeBase(settings)
            if not (settings.index_dir / "CURRENT").exists():
                kb.ingest([Path(docs)])
            started = time.perf_counter()
            collections[name] = collect(kb, load_gold(Path(gold)), reader)
            log.info("%s: %d questions read in %.0f s", name, len(collections[name]), time.perf_counter() - started)
        if features is not None:
            features.write_text(json.dumps(collections))
    weights = fit(collections)
    calibration = choose_floors(collections, weights, args.max_confident_wrong, args.likely_wrong_cost)
    calibration = Calibration(**{**asdict(calibration), "fitted_on": " ".join(["python -m kb.cli.calibrate",
                                                                              *(argv or sys.argv[1:])])})
    report = {name: outcomes(rows, calibration) for name, rows in collections.items()}
    out = Path(args.out) if args.out else Path(args.reader) / "calibration.json"
    out.write_text(json.dumps({**asdict(calibration), "figures": report}, indent=1))
    for name, figures in report.items():
        log.info("%s: %s", name, {k: (round(v, 3) if v is not None else None) for k, v in figures.items()})
    card = Path(args.reader) / "README.md"
    if out.parent == Path(args.reader) and card.is_file():
        card_section(card, calibration, report)
    print(json.dumps(asdict(calibration), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
