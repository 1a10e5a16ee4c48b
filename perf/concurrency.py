"""Should a sweep run several jobs at once on this machine? Aggregate throughput, measured.

A job's non-matrix work (Python, element-wise kernels, tokenising, small products) does not
scale across cores the way its large matrix products do, so k jobs with cores/k threads each can
finish a sweep sooner than the same jobs one after another with every core
(`hydra/launcher=joblib hydra.launcher.n_jobs=k`; joblib gives each job cores/k threads).
This runs our training step benchmark or our encoder alone with all cores, and k copies of it
at the same time with cores/k threads each, interleaved over rounds, and prints the ratio of
the aggregate rates (the sum of the k copies' rates against the lone run's rate).

    python perf/concurrency.py [--what train|encode] [--jobs 2] [--rounds 3]

Memory grows k-fold: each copy's peak resident set is printed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_line, machine, result_of, start_isolated  # noqa: E402

SCRIPTS = {  # benchmark script, its rate key, the arguments of a short but steady run
    "train": ("train_throughput.py", "pairs_per_s", ["--steps=12", "--warmup=3"]),
    "encode": ("eval_throughput.py", "texts_per_s", ["--languages", "en", "de"]),
}


def aggregate_rate(script: Path, key: str, args: list[str], jobs: int, threads: int) -> tuple[float, list[dict]]:
    """``jobs`` copies started together, ``threads`` threads each: the sum of their rates, and their results."""
    procs = [start_isolated(str(script), "ours", args, threads=threads) for _ in range(jobs)]
    results = [result_of(p, f"copy {i + 1} of {jobs}") for i, p in enumerate(procs)]
    return sum(r[key] for r in results), results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--what", choices=sorted(SCRIPTS), default="train")
    parser.add_argument("--jobs", type=int, default=2, help="copies at once (k)")
    parser.add_argument("--rounds", type=int, default=3, help="alone/together pairs, alternating which goes first")
    parser.add_argument("extra", nargs="*", help="more arguments for the benchmark script (after --)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    if args.jobs < 2 or cores // args.jobs < 1:
        parser.error(f"--jobs must be at least 2 and at most the {cores} cores")
    name, key, base = SCRIPTS[args.what]
    script = Path(__file__).resolve().parent / name
    bench_args = base + args.extra
    print(cpu_line())
    print(f"machine: {machine()}")
    print(f"benchmark: {name} --mode ours {' '.join(bench_args)}; alone: {cores} threads; together: {args.jobs} "
          f"copies x {cores // args.jobs} threads")
    alone, together, peaks = [], [], []
    t0 = time.perf_counter()
    for r in range(args.rounds):
        order = ["alone", "together"] if r % 2 == 0 else ["together", "alone"]
        for which in order:
            if which == "alone":
                rate, results = aggregate_rate(script, key, bench_args, 1, cores)
                alone.append(rate)
            else:
                rate, results = aggregate_rate(script, key, bench_args, args.jobs, cores // args.jobs)
                together.append(rate)
                peaks += [res["peak_rss_gib"] for res in results]
            print(f"round {r + 1} {which}: {rate:.2f} {key.replace('_per_s', '/s')} in all", flush=True)
    a, t = statistics.median(alone), statistics.median(together)
    print(f"alone ({cores} threads): {a:.2f}  (median of {len(alone)}: {', '.join(f'{v:.2f}' for v in alone)})")
    print(f"{args.jobs} at once ({cores // args.jobs} thread(s) each): {t:.2f} in all  (median of {len(together)}: "
          f"{', '.join(f'{v:.2f}' for v in together)}); peak RSS per copy up to {max(peaks):.2f} GiB")
    print(f"aggregate_throughput_ratio={t / a:.2f}")
    print(f"({time.perf_counter() - t0:.0f} s wall)")


if __name__ == "__main__":
    main()
