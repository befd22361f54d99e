"""``make bench``'s runner: every benchmark of bench/, one at a time, past a failure, naming it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_it_lists_every_benchmark_and_runs_none() -> None:
    listed = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--list"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    names = [line.split()[0] for line in listed]
    scripts = {p.stem for p in BENCH.glob("*.py") if p.name not in ("common.py", "run.py")}
    assert set(names) == scripts and {"tiles", "coverage_run", "reports"} <= set(names)
    assert all(line.endswith(f"bench/{line.split()[0]}.py") for line in listed)


def test_it_goes_on_past_a_failure_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _runner()
    for name, body in (("a_first", "raise SystemExit(3)"), ("b_second", "print('second ran')")):
        (tmp_path / f"{name}.py").write_text(f'def main():\n    {body}\n\n\nif __name__ == "__main__":\n    main()\n')
    (tmp_path / "common.py").write_text('def main():\n    pass\n\n\nif __name__ == "__main__":\n    main()\n')
    (tmp_path / "helper.py").write_text("X = 1\n")  # no main: not a benchmark
    found = run.benchmarks(tmp_path)
    assert [p.stem for p in found] == ["a_first", "b_second"]
    outcomes = run.run_all(found)
    assert [(o.name, o.status) for o in outcomes] == [("a_first", 3), ("b_second", 0)]
    assert "second ran" in subprocess.run(run.command(found[1]), capture_output=True, text=True).stdout
    assert "a_first: FAILED (3)" in capsys.readouterr().out
    monkeypatch.setattr(run, "benchmarks", lambda folder=None: found)
    assert run.main([]) == 1  # make bench fails when one did
    assert "1 of 2 failed: a_first" in capsys.readouterr().err
    assert run.main(["--only", "b_second"]) == 0
    with pytest.raises(SystemExit):
        run.main(["--only", "no_such_bench"])
