"""The README's commands, the Makefile and CI say the same thing: torch pinned first, then the README's
own Test commands, run by CI as written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")

# what a calling make exports to its children: a dry run under `make test` must read as one from a shell
MAKE_ENV = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "MAKEFILES", "MAKE_TERMOUT", "MAKE_TERMERR")
PYTEST_COMMAND = "python -m pytest -q -n 2"


def readme_test_commands() -> list[str]:
    """The command lines of the README's Test section: what CI runs, in that order."""
    section = (ROOT / "README.md").read_text().split("\n## Test\n", 1)[1]
    block = section.split("```bash\n", 1)[1].split("\n```", 1)[0]
    return [line.strip() for line in block.splitlines() if line.strip()]


def ci_commands() -> list[str]:
    """The commands .ci/run executes (comments, `set`, `cd`, `export` and the data-root line left out)."""
    skip = ("#", "set ", "cd ", "export ", "if ")
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    return [line for line in lines if line and not line.startswith(skip)]


def _dry_run(target: str, venv: str, env: dict[str, str] | None = None) -> list[str]:
    """``make -n target``, whatever make (if any) launched this test."""
    clean = {k: v for k, v in (env if env is not None else os.environ).items() if k not in MAKE_ENV}
    out = subprocess.run(
        ["make", "--no-print-directory", "-n", target, f"VENV={venv}"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize("target", ["sweep", "test"])
def test_make_sets_up_with_the_torch_pin_first_then_runs(target, tmp_path):
    lines = _dry_run(target, str(tmp_path / "venv"))
    installs = [line for line in lines if " install " in line and "--upgrade pip" not in line]
    assert installs[0].endswith("pip install torch==2.13.0")
    assert installs[1].endswith('pip install -e ".[dev]"') and len(installs) == 2
    assert not any("--no-deps" in line for line in lines)
    if target == "test":
        assert lines[-1].endswith(PYTEST_COMMAND)
    else:  # the sweep, then the report of the very dir it wrote
        sweep_dir = lines[-2].split("hydra.sweep.dir=")[1]
        assert "run.py -m +sweeps=cross_ratio" in lines[-2]
        assert lines[-1].endswith(f"-m hybrid_retrieval.report {sweep_dir}")


def test_the_dry_run_reads_the_same_under_a_calling_make(tmp_path):
    """Run by `make test`, make exports MAKEFLAGS/MAKELEVEL: a nested make then prints 'Entering directory' lines."""
    venv = str(tmp_path / "venv")
    under_make = {**os.environ, "MAKELEVEL": "1", "MAKEFLAGS": "w", "MFLAGS": "-w"}
    assert _dry_run("test", venv, under_make) == _dry_run("test", venv)
    assert not any(line.startswith("make[") for line in _dry_run("test", venv, under_make))


def test_lint_runs_ruff_and_actionlint(tmp_path):
    lines = _dry_run("lint", str(tmp_path / "venv"))
    assert [line.split("/bin/", 1)[1] for line in lines if "/bin/ruff" in line or "/bin/actionlint" in line] == [
        "ruff check .",
        "ruff format --check .",
        "actionlint",
    ]


def test_ci_runs_the_readme_test_commands_as_written():
    readme = (ROOT / "README.md").read_text()
    commands = readme_test_commands()
    assert commands == ["make lint", "make test"]
    assert ci_commands() == commands  # CI sees exactly what a newcomer sees
    test_section = readme.split("\n## Test\n", 1)[1].split("\n## ", 1)[0]
    assert f"`{PYTEST_COMMAND}`" in test_section  # the README names what `make test` runs
    first_screen = readme.split("## Install")[0]
    assert re.search(r"^make sweep\b", first_screen, re.M) and re.search(r"^make test\b", first_screen, re.M)
    assert "--no-deps" not in (ROOT / ".ci" / "run").read_text() and "--no-deps" not in readme
