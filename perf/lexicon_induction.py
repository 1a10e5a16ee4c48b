"""Time to induce the code-switching lexicon from the training set's parallel sentences (eflomal).

    python perf/lexicon_induction.py                      # MLQA-R de, en, es (3 pairs)
    python perf/lexicon_induction.py --languages ar de en es hi vi zh

Prints the CPU model, the load average, sentence pairs per language pair, entries and seconds.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

from hybrid_retrieval.data.corpus import ParallelCorpus
from hybrid_retrieval.data.lexicon import InducedLexicon, parallel_sentences


def cpu_model() -> str:
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        return next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "unknown")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", nargs="+", default=["de", "en", "es"])
    args = parser.parse_args()
    corpus = ParallelCorpus.from_lareqa("mlqa-r", args.languages)
    source = InducedLexicon()
    sents = parallel_sentences(corpus, source._pairs(corpus))
    with tempfile.TemporaryDirectory() as cache:  # a cold cache: the time of inducing, not of reading
        source.cache_dir = cache
        t0, c0 = time.perf_counter(), os.times()
        lexicon = source.load(corpus)
        seconds, c1 = time.perf_counter() - t0, os.times()
    cpu_s = sum(b - a for a, b in zip(c0[:4], c1[:4]))  # this process and the eflomal binaries it ran
    print(f"cpu: {cpu_model()} ({os.cpu_count()} cores), load average {os.getloadavg()[0]:.1f}")
    print(f"language pairs: {len(sents)}, sentence pairs: {sum(map(len, sents.values()))} "
          f"({', '.join(f'{a}-{b} {len(v)}' for (a, b), v in sents.items())})")
    print(f"entries: {sum(map(len, lexicon.entries.values()))} in {len(lexicon.entries)} directions")
    print(f"induction (eflomal alignment + counting, both directions): {seconds:.1f} s wall, {cpu_s:.1f} s CPU")


if __name__ == "__main__":
    main()
