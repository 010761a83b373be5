"""scripts/bench.py on a made-up module directory: one good module, one failing, one
missing a dependency, one without `sections` (skipped). No real benchmark runs."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

GOOD = '''
import benchlib

def sections(quick):
    size = 3 if quick else 30
    return [benchlib.Section(
        key="good", title="Good table", command="python bench_good.py",
        headers=["what", "seconds"], rows=[["size", str(size)]],
        notes=["met: goal 9 speed: 1.5 s against 2.0 s. Nothing left to do.",
               "MISSED: goal 10 memory: 80 MB against 50 MB. Free the per-trial dicts.",
               "a plain note"])]

if __name__ == "__main__":
    benchlib.main(sections)
'''

FAILING = '''
def sections(quick):
    raise RuntimeError("the bench broke")

if __name__ == "__main__":
    import benchlib
    benchlib.main(sections)
'''

MISSING = '''
import no_such_package_for_bench

def sections(quick):
    return []
'''


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_suite_under_test", ROOT / "scripts" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def modules(tmp_path: Path) -> Path:
    folder = tmp_path / "benches"
    folder.mkdir()
    (folder / "bench_good.py").write_text(textwrap.dedent(GOOD))
    (folder / "bench_broken.py").write_text(textwrap.dedent(FAILING))
    (folder / "bench_needs.py").write_text(textwrap.dedent(MISSING))
    (folder / "bench_old.py").write_text("print('an old-style script without sections')\n")
    return folder


def test_suite_writes_tables_summary_and_failures(modules: Path, tmp_path: Path) -> None:
    bench = _bench_module()
    out = tmp_path / "BENCHMARKS.md"
    code = bench.main(["--quick", "--dir", str(modules), "--out", str(out), "--timeout", "120"])
    text = out.read_text()

    assert code == 1  # two modules could not run
    assert "bench_old" not in text  # no `sections`: not a suite module
    assert "### Good table" in text and "| size | 3 |" in text  # --quick reached the module
    assert "`python bench_good.py`" in text
    assert "| goal 9 speed | 1.5 s against 2.0 s | met | Nothing left to do. |" in text
    assert "| goal 10 memory | 80 MB against 50 MB | MISSED | Free the per-trial dicts. |" in text
    assert "| bench_broken | — | NOT RUN | failed: exit 1: RuntimeError: the bench broke |" in text
    assert "missing dependency: no_such_package_for_bench" in text
    assert "git revision" in text and "Machine: python" in text


def test_only_runs_the_named_modules(modules: Path, tmp_path: Path) -> None:
    bench = _bench_module()
    out = tmp_path / "B.md"
    assert bench.main(["--only", "bench_good.py", "--dir", str(modules), "--out", str(out)]) == 0
    text = out.read_text()
    assert "| size | 30 |" in text  # full settings without --quick
    assert "bench_broken" not in text and "bench_needs" not in text
    with pytest.raises(SystemExit, match="no bench module nope; expected some of: broken, good, needs"):
        bench.main(["--only", "nope", "--dir", str(modules), "--out", str(out)])


@pytest.mark.parametrize("note, figure, gap", [
    ("1.5x (goal <= 1.0x); what would close it: warm workers", "1.5x (goal <= 1.0x)", "warm workers"),
    ("83 ms (1.11x). To close: fewer callbacks", "83 ms (1.11x)", "fewer callbacks"),
    ("ratio <= 1.1, i.e. at most 0.04 above; 1/2 tuning. Where missed, a portfolio", "ratio <= 1.1, i.e. at most 0.04 above; 1/2 tuning",
     "Where missed, a portfolio"),
    ("4/4 cases score", "4/4 cases score", ""),
])
def test_a_goal_note_splits_into_figure_and_what_would_close_it(note: str, figure: str, gap: str) -> None:
    module = _bench_module()
    assert module._split_gap(note) == (figure, gap)
