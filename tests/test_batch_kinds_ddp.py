"""Two DDP ranks (gloo, CPU) take the same batch kind at every step, with four kinds in the recipe."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from test_ddp import read_trace, run_cli

STEPS = 12


@pytest.mark.slow
def test_two_ranks_agree_on_the_kind_at_every_step(data_root, tmp_path):
    job = tmp_path / "job"
    kinds = [
        "+data.batch_kinds.multilingual._target_=hybrid_retrieval.data.batch_kinds.MultilingualMono",
        "+data.batch_kinds.multilingual.share=0.25",
        "+data.batch_kinds.pair._target_=hybrid_retrieval.data.batch_kinds.CrossLingual",
        "+data.batch_kinds.pair.share=0.25",
        "+data.batch_kinds.pair.pairing=per_batch",
    ]
    proc = run_cli(
        [
            "experiment=smoke",
            f"paths.data_dir={data_root}",
            f"hydra.run.dir={job}",
            "trainer=ddp",
            "trainer.accelerator=cpu",
            "trainer.devices=2",
            f"trainer.max_steps={STEPS}",
            "data.batch_size=4",
            "data.num_batches=12",
            "data.cross_ratio=0.25",
            "data.schedule=bernoulli",
            "callbacks=with_batch_trace",
            "save_encoder=false",
            "eval.benchmarks.xquad_r.depth=10",
            "eval.benchmarks.xquad_r.metrics=[map,recall@1,recall@10]",
            *kinds,
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [read_trace(job, 0), read_trace(job, 1)]
    assert [len(t) for t in ranks] == [STEPS, STEPS]
    for step, (a, b) in enumerate(zip(*ranks)):
        assert a["step"] == b["step"] == step
        assert a["kind"] == b["kind"]  # the same kind on both ranks
        if a["kind"] in ("mono", "pair"):  # one language (pair) per global batch: the same on both ranks
            assert set(a["query_langs"]) == set(b["query_langs"]) and len(set(a["query_langs"])) == 1
            assert set(a["passage_langs"]) == set(b["passage_langs"])
        cross = [q != p for q, p in zip(a["query_langs"], a["passage_langs"])]
        assert all(cross) if a["kind"] in ("cross", "pair") else not any(cross)
    seen = Counter(r["kind"] for r in ranks[0])
    assert len(seen) >= 3  # several kinds occur, so agreement is not trivial
    metrics = json.loads((job / "metrics.json").read_text())
    for kind in ("cross", "mono", "multilingual", "pair"):
        assert metrics[f"train/batch_share/{kind}"] == pytest.approx(seen[kind] / STEPS)
    assert metrics["train/cross_batch_fraction"] == pytest.approx((seen["cross"] + seen["pair"]) / STEPS)
