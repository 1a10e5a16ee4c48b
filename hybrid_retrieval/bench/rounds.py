"""Contenders of a benchmark, each in its own process, interleaved over rounds, quoted by their medians.

A process per run gives each contender its own peak memory and warm caches; interleaving makes a
machine whose speed drifts over minutes (a shared VM: +-15% seen) slow every contender alike.  A
contender is a script run as ``script --mode MODE ARGS...`` that prints its result as a JSON line last.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def run_isolated(script: str, mode: str, args: list[str]) -> dict:
    """Run one contender in its own process and return the JSON line it printed last."""
    proc = subprocess.run([sys.executable, script, "--mode", mode, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_rounds(script: str, contenders: dict[Any, tuple[str, list[str]]], rounds: int, key: str) -> dict[Any, dict]:
    """Each contender ``rounds`` times, interleaved (round r starts r places further on); per contender the
    run with the median ``key`` (the lower middle for an even count), with every measured value in ``values``."""
    names = list(contenders)
    runs: dict[Any, list[dict]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            mode, args = contenders[name]
            runs[name].append(run_isolated(script, mode, args))
    out = {}
    for name, results in runs.items():
        ordered = sorted(results, key=lambda res: res[key])
        out[name] = {**ordered[(len(ordered) - 1) // 2], "values": [res[key] for res in results]}
    return out


def run_against_peer(
    script: str, peer: dict[str, list[str]], ours: dict[str, list[str]], rounds: int, key: str
) -> tuple[dict[str, dict], dict[str, dict]]:
    """The peer's configurations (``--mode st``) and ours (``--mode ours``), interleaved by :func:`run_rounds`;
    each side's results by its own names."""
    contenders = {("st", name): ("st", args) for name, args in peer.items()}
    contenders.update({("ours", name): ("ours", args) for name, args in ours.items()})
    results = run_rounds(script, contenders, rounds, key)
    return ({name: results["st", name] for name in peer}, {name: results["ours", name] for name in ours})


def fastest(results: dict[str, dict], key: str) -> tuple[str, dict]:
    """The configuration that measured fastest in this run (by ``key``)."""
    name = max(results, key=lambda n: results[n][key])
    return name, results[name]


def spread(result: dict) -> str:
    """``  (median of N: a, b, c)`` when a contender ran more than once, else nothing."""
    values = result.get("values", [])
    return f"  (median of {len(values)}: {', '.join(f'{v:.1f}' for v in values)})" if len(values) > 1 else ""


def emit(result: dict) -> None:
    """Print a contender's result as the JSON line :func:`run_isolated` reads."""
    print(json.dumps(result))
