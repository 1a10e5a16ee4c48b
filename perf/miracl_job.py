"""A generated MIRACL-layout corpus of N passages through a real job (run.py, eval=miracl): time and peak RSS.

Writes topics, qrels and N passages (sw, official hub layout, 4 shards) under --work-dir, then runs

    python run.py experiment=smoke model=tiny eval=miracl eval.benchmarks.miracl.languages=[sw]
        eval.benchmarks.miracl.corpus_dir=<work>/corpus trainer.max_steps=0 ...

and prints the job's wall time, its metrics' time/eval_miracl_s and mem/peak_rss_gib, and the child's
max RSS (getrusage).  python perf/miracl_job.py --passages 200000 --work-dir /tmp/miracl200k
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

WORDS = ["mto", "ngome", "injini", "bustani", "soko", "baridi", "mlima", "ziwa", "jiji", "shamba", "kisiwa", "mvua"]


def generate(work: Path, n: int, queries: int = 500, shards: int = 4) -> None:
    corpus = work / "corpus" / "miracl-corpus-v1.0-sw"
    corpus.mkdir(parents=True, exist_ok=True)
    per = -(-n // shards)
    for s in range(shards):
        with gzip.open(corpus / f"docs-{s}.jsonl.gz", "wt", encoding="utf-8") as fh:
            for i in range(s * per, min(n, (s + 1) * per)):
                words = " ".join(WORDS[(i * k + k) % len(WORDS)] for k in range(1, 40))
                fh.write(
                    json.dumps({"docid": f"{i // 5}#{i % 5}", "title": f"Makala {i // 5}", "text": f"{words} {i}"})
                    + "\n"
                )
    (work / "root" / "miracl" / "topics").mkdir(parents=True, exist_ok=True)
    (work / "root" / "miracl" / "qrels").mkdir(parents=True, exist_ok=True)
    topics, qrels = [], []
    for q in range(queries):
        i = q * 397 % n
        topics.append(f"{q + 1}\t{WORDS[i % len(WORDS)]} {i}")
        qrels.append(f"{q + 1}\tQ0\t{i // 5}#{i % 5}\t1")
    shared = Path(os.environ.get("HYBRID_RETRIEVAL_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
    for folder in ("mlqa-r", "xquad-r"):  # the smoke experiment's training data (read even with max_steps=0)
        if (shared / folder).is_dir() and not (work / "root" / folder).exists():
            (work / "root" / folder).symlink_to(shared / folder)
    (work / "root" / "miracl" / "topics" / "topics.miracl-v1.0-sw-dev.tsv").write_text("\n".join(topics) + "\n")
    (work / "root" / "miracl" / "qrels" / "qrels.miracl-v1.0-sw-dev.tsv").write_text("\n".join(qrels) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=200_000)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("extra", nargs="*", help="more run.py overrides")
    args = parser.parse_args(argv)
    work = Path(args.work_dir)
    if not (work / "corpus").is_dir():
        generate(work, args.passages)
    job = work / "job"
    cmd = [
        sys.executable,
        "run.py",
        "experiment=smoke",
        f"model={args.model}",
        "eval=miracl",
        "eval.benchmarks.miracl.languages=[sw]",
        f"eval.benchmarks.miracl.corpus_dir={work / 'corpus'}",
        f"paths.data_dir={work / 'root'}",
        "trainer.max_steps=0",
        "save_encoder=false",
        "eval.batch_size=256",
        f"hydra.run.dir={job}",
        *args.extra,
    ]
    env = {**os.environ, "HYBRID_RETRIEVAL_CACHE": str(work / "cache"), "WANDB_MODE": "offline"}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=Path(__file__).resolve().parents[1], env=env)
    wall = time.perf_counter() - t0
    if done.returncode:
        return done.returncode
    metrics = json.loads((job / "metrics.json").read_text())
    child_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    print(
        f"passages={args.passages} model={args.model} wall={wall:.1f}s "
        f"eval_miracl={metrics['time/eval_miracl_s']:.1f}s "
        f"job_peak_rss_gib={metrics.get('mem/peak_rss_gib', float('nan')):.3f} child_max_rss_gib={child_gib:.3f} "
        f"ndcg@10={metrics['miracl/mono/ndcg@10']:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
