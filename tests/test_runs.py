"""Every figure script in runs/ runs in its --quick mode and writes its PNG (+ data)."""

import runpy
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parents[1] / "runs").glob("*.py"))
#: even in --quick mode these sample millions of shots: run with -m slow
SLOW = {"machine_fig2a"}                      # 3 x 1.5 million atom collisions


@pytest.mark.parametrize("script", [
    pytest.param(s, id=s.stem, marks=[pytest.mark.slow] if s.stem in SLOW else [])
    for s in SCRIPTS])
def test_figure_script_quick(script, tmp_path):
    main = runpy.run_path(str(script))["main"]
    png = Path(main(["--quick", "--out", str(tmp_path)]))
    assert png.exists() and png.stat().st_size > 10_000
    assert png.parent == tmp_path
    assert any(tmp_path.glob(f"{script.stem}*.npz")) or any(tmp_path.glob("*.json"))


def test_reproduce_lists_all_scripts():
    from qtraj.cli import RUNS_DIR
    assert sorted(RUNS_DIR.glob("*.py")) == SCRIPTS and len(SCRIPTS) >= 18
