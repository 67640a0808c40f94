"""How fast the worker would be without Faust: dongbo's own normaliser and merge engine behind a
plain confluent-kafka loop, beside the raw ceiling and the real (Faust) worker, on the same city in
one run.

The prototype (``dongbo.bench_prototype``) keeps the worker's order of acknowledgements but is
not a finished worker; ``dongbo bench`` prints its figure too. This script runs it beside the
Faust worker alone, at any size.

    .venv/bin/python -m dongbo stack up
    .venv/bin/python benchmarks/engine_on_confluent.py --dossiers 1500

Prints, for the same published records: the raw ceiling (the source topics consumed and decoded,
nothing else), the prototype, the Faust worker (``dongbo.bench.pipeline``), and the merge engine
in-process; records/s and the share of the raw ceiling.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from contract.settings import Settings
from contract.topics import ensure_topics
from dongbo import bench
from dongbo.bench import city, in_process, isolated
from dongbo.bench_prototype import prototype, source_ceiling
from producers.simulator import run_simulation


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dossiers", type=int, default=1500)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--skip-faust", action="store_true", help="not the Faust worker (it is the slow one)")
    args = parser.parse_args()
    base = Settings()
    config = city(args.dossiers)
    with tempfile.TemporaryDirectory(prefix="dongbo-proto-") as tmp:
        work = Path(tmp)
        proto = isolated(base, work / "p")
        ensure_topics(proto)
        records = run_simulation(proto, config).records_total
        print(f"published {records:,} raw records ({args.dossiers:,} dossiers)", flush=True)
        ceiling = source_ceiling(proto, args.timeout)
        print(ceiling.line(), flush=True)
        print(prototype(proto, args.timeout).line(ceiling), flush=True)
        if not args.skip_faust:
            faust = isolated(base, work / "f")
            (work / "f").mkdir()
            run = bench.pipeline(faust, config, work / "f", args.timeout, lambda m: print(m, flush=True))
            print(run.records.line(ceiling), flush=True)
        (work / "e").mkdir()
        with_rules, _ = in_process(base, config, work / "e")
        print(with_rules.line(ceiling), flush=True)


if __name__ == "__main__":
    main()
