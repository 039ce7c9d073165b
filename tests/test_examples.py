"""The scripts in examples/ run and print what they promise (in-process, in a scratch dir)."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("name, expect", [
    ("collision_model", ["largest |z|", "energy from the ancillas"]),
    ("protocol_cycle", ["heat per cycle  (exact)", "first law per cycle"]),
    ("long_run", ["resumed result identical: True", "same as an uninterrupted run: True"]),
])
def test_example_runs(name, expect, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    out = capsys.readouterr().out
    for text in expect:
        assert text in out, (name, text)
