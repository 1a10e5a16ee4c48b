"""Composing any config does no I/O: local backbones are only named (``local:<name>``) until a job loads them.

Every option of every config group, every experiment and every sweep is composed and
fully resolved in a fresh process whose home and cache directories are empty and
unwritable; the process must succeed and leave them empty.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

COMPOSE_ALL = r"""
import json, sys
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
import hybrid_retrieval.config.resolvers  # noqa: F401

conf, out, runs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
with initialize_config_dir(config_dir=conf, version_base="1.3"):
    for overrides in runs:
        cfg = compose(config_name="config", overrides=[*overrides, f"paths.output_dir={out}"])
        OmegaConf.to_container(cfg, resolve=True)  # every interpolation, ${hr.*} included
print(len(runs), "composed")
"""


def every_choice() -> list[list[str]]:
    """One override list per group option (``group=option``), per sweep (``+sweeps=x``), plus the defaults."""
    runs: list[list[str]] = [[]]
    for group in sorted(p for p in CONF.rglob("*") if p.is_dir() and not p.is_symlink()):
        rel = group.relative_to(CONF).as_posix()
        if rel.startswith("hydra"):
            continue  # Hydra's own settings (launchers): composed by Hydra at launch, not into the job config
        options = sorted(p.stem for p in group.glob("*.yaml") if not p.stem.startswith("_"))
        if rel == "eval/benchmarks":
            runs += [[f"eval/benchmarks=[{o}]"] for o in options]
        elif rel == "reference":
            runs += [[f"+reference={o}"] for o in options]
        else:
            runs += [[f"{rel}={o}"] for o in options]
    runs += [[f"+sweeps={p.stem}"] for p in sorted((ROOT / "sweeps").glob("*.yaml"))]
    return runs


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_composing_every_config_writes_nothing(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(stat.S_IRUSR | stat.S_IXUSR)  # unwritable: a write anywhere under it fails
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HYBRID_RETRIEVAL_CACHE", "XDG_"))}
    env.update(
        HOME=str(home),
        HYBRID_RETRIEVAL_CACHE=str(home / "cache"),
        XDG_CACHE_HOME=str(home / "xdg"),
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
    )
    runs = every_choice()
    assert any("model=me5_small" in r for r in runs) and any(r and r[0].startswith("+sweeps=") for r in runs)
    try:
        done = subprocess.run(
            [sys.executable, "-c", COMPOSE_ALL, str(CONF), str(tmp_path / "out"), json.dumps(runs)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert _tree(home) == []
        assert not (tmp_path / "out").exists()
    finally:
        home.chmod(stat.S_IRWXU)


def test_backbone_size_sweep_is_one_family_at_one_weight_precision():
    """``+sweeps=backbone_size``: me5 small, base and large, all from the hub at full precision; the bundled
    me5_small_q4 (from 4-bit weights) is the offline default experiment's model and never in the sweep."""
    import yaml
    from conftest import compose_config

    sweep = yaml.safe_load((ROOT / "sweeps" / "backbone_size.yaml").read_text())
    models = str(sweep["hydra"]["sweeper"]["params"]["model"]).split(",")
    assert models == ["me5_small", "me5_base", "me5_large"]
    sizes = []
    for model in models:
        cfg = compose_config(["+sweeps=backbone_size", f"model={model}"])
        assert cfg.model.backbone == f"intfloat/multilingual-e5-{model.split('_')[1]}"  # a hub id, not local:
        assert (cfg.model.query_prefix, cfg.model.passage_prefix) == ("query: ", "passage: ")
        assert cfg.model.pooling is None  # the model's own Pooling (mean), read from its modules
        sizes.append(cfg.model.size)
    assert sizes == sorted(sizes) and len(set(sizes)) == 3
    for experiment in ("default", "zeroshot", "low_resource"):
        cfg = compose_config([f"experiment={experiment}"])
        assert (cfg.model.name, cfg.model.backbone) == ("me5_small_q4", "local:me5_small_q4")  # runs offline
