"""The two README commands and CI set up the same way: torch pinned first, no --no-deps extras."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def readme_test_command() -> str:
    """The one command in the README's Test section: CI and ``make test`` must run exactly it."""
    section = (ROOT / "README.md").read_text().split("## Test", 1)[1]
    return section.split("```bash\n", 1)[1].split("\n```", 1)[0].strip()


def _dry_run(target: str, venv: str) -> list[str]:
    out = subprocess.run(["make", "-n", target, f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize("target", ["sweep", "test"])
def test_make_sets_up_with_the_torch_pin_first_then_runs(target, tmp_path):
    lines = _dry_run(target, str(tmp_path / "venv"))
    installs = [line for line in lines if " install " in line and "--upgrade pip" not in line]
    assert installs[0].endswith("pip install torch==2.13.0")
    assert installs[1].endswith('pip install -e ".[dev]"') and len(installs) == 2
    assert not any("--no-deps" in line for line in lines)
    if target == "test":
        assert lines[-1].endswith(readme_test_command())
    else:  # the sweep, then the report of the very dir it wrote
        sweep_dir = lines[-2].split("hydra.sweep.dir=")[1]
        assert "run.py -m +sweeps=cross_ratio" in lines[-2]
        assert lines[-1].endswith(f"-m hybrid_retrieval.report {sweep_dir}")


def test_ci_sets_up_through_make_and_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert readme_test_command().startswith("python -m pytest")
    assert 'make setup VENV="$VENV"' in ci and f"\n{readme_test_command()}\n" in ci
    assert "make sweep" in readme.split("## Install")[0] and "make test" in readme.split("## Install")[0]
    assert "--no-deps" not in ci and "--no-deps" not in readme
