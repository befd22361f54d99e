"""Run every benchmark in bench/ (``make bench``): one at a time, each with its default arguments,
going on past a failure, and saying at the end which failed (exit status 1 if any did).

Usage: ``.venv/bin/python bench/run.py [--list] [--only NAME ...] [--skip NAME ...]``. ``--list``
prints what would run, and runs nothing. A benchmark is a module of bench/ with a ``main()``
run under ``if __name__ == "__main__"`` (``common.py`` and this file are not); each records its
results in bench/RESULTS.md itself. Some take many minutes (the province scale takes longer).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
NOT_BENCHMARKS = {"common.py", "run.py"}


@dataclass(frozen=True)
class Outcome:
    """How one benchmark ended."""

    name: str
    status: int
    seconds: float


def benchmarks(folder: Path = BENCH) -> list[Path]:
    """The benchmarks of ``folder``, by name: modules that run a ``main()`` as a script."""
    found = []
    for path in sorted(folder.glob("*.py")):
        if path.name in NOT_BENCHMARKS or path.name.startswith("_"):
            continue
        source = path.read_text("utf-8")
        if "def main(" in source and '__name__ == "__main__"' in source:
            found.append(path)
    return found


def command(path: Path) -> list[str]:
    """How a benchmark is run: this Python, the script, its default arguments."""
    return [sys.executable, str(path)]


def run_all(paths: list[Path]) -> list[Outcome]:
    """Run each benchmark in turn (output passed through), whatever the others did."""
    outcomes = []
    for k, path in enumerate(paths, 1):
        print(f"\n=== [{k}/{len(paths)}] {path.stem}: {' '.join(command(path))}", flush=True)
        start = time.perf_counter()
        try:
            status = subprocess.run(command(path), cwd=BENCH.parent, check=False).returncode
        except OSError as exc:  # the interpreter could not be started: that benchmark failed
            print(exc, file=sys.stderr)
            status = 127
        outcomes.append(Outcome(path.stem, status, time.perf_counter() - start))
        print(f"=== {path.stem}: {'ok' if status == 0 else f'FAILED ({status})'} in {outcomes[-1].seconds:.0f} s")
    return outcomes


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run (or list) the benchmarks, report; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="print the benchmarks and their commands, run nothing")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these (file names without .py)")
    parser.add_argument("--skip", nargs="+", metavar="NAME", default=[], help="leave these out")
    args = parser.parse_args(argv)
    paths = benchmarks()
    names = {p.stem for p in paths}
    unknown = sorted((set(args.only or []) | set(args.skip)) - names)
    if unknown:
        parser.error(f"no benchmark {', '.join(unknown)}: there are {', '.join(sorted(names))}")
    chosen = [p for p in paths if (not args.only or p.stem in args.only) and p.stem not in args.skip]
    if args.list:
        for path in chosen:
            print(f"{path.stem:16} {' '.join(command(path))}")
        return 0
    outcomes = run_all(chosen)
    failed = [o for o in outcomes if o.status != 0]
    print("\n=== benchmarks: " + ", ".join(f"{o.name} {'ok' if o.status == 0 else 'FAILED'}" for o in outcomes))
    if failed:
        print(f"=== {len(failed)} of {len(outcomes)} failed: {', '.join(o.name for o in failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
