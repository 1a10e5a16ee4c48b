"""A job's arithmetic (hybrid_retrieval.job.cost, which perf/job_floor.py divides by the measured peak): every
training text of every step, every evaluation text once."""

from __future__ import annotations

from hybrid_retrieval.bench import flops
from hybrid_retrieval.job import cost


def test_sequence_flops_is_two_per_parameter_per_token_plus_attention_and_three_times_with_backward():
    forward = 2 * 10 * (3 + 5) + 4 * 2 * 4 * (3 * 3 + 5 * 5)  # 160 for the weights, 1088 for attention
    assert flops.sequence_flops([3, 5], params=10, layers=2, width=4, backward=False) == forward
    assert flops.sequence_flops([3, 5], params=10, layers=2, width=4, backward=True) == 3 * forward


def test_counts_every_step_of_the_job_across_epochs_and_every_evaluation_text_once(data_root, tmp_path):
    from conftest import compose_config

    from hybrid_retrieval.job.train import build

    # 40 steps of 16 pairs need more than one epoch of the 3 x 48 training questions
    cfg = compose_config(
        ["experiment=smoke", f"paths.data_dir={data_root}", f"paths.output_dir={tmp_path}", "trainer.max_steps=40"]
    )
    model = build(cfg.model)
    lengths, pairs = cost.training_lengths(cfg, model)
    assert pairs == 40 * 16 and len(lengths) == 2 * pairs
    assert 0 < min(lengths) and max(lengths) <= max(cfg.model.max_query_length, cfg.model.max_passage_length)

    evaluated = cost.evaluation_lengths(cfg, model)
    assert set(evaluated) == {"xquad_r", "tydi"}
    assert len(evaluated["xquad_r"]) == 3 * 48 + 3 * 72  # de, en, es: 48 questions and 72 sentences each
    from hybrid_retrieval.job.evaluate import load_benchmarks

    encoded = flops.count_tokens(model.encoder)  # what the evaluation itself feeds the backbone
    load_benchmarks(cfg)["xquad_r"].evaluate(model.text_encoder(batch_size=32))
    assert encoded["real"] == sum(evaluated["xquad_r"])


def test_job_costs_turn_each_phases_lengths_into_tokens_and_flops(monkeypatch):
    from types import SimpleNamespace

    import torch

    backbone = torch.nn.Linear(4, 5)  # 25 non-embedding parameters
    backbone.config = SimpleNamespace(num_hidden_layers=2, hidden_size=4)
    monkeypatch.setattr(cost, "training_lengths", lambda cfg, model: ([3, 5], 1))
    monkeypatch.setattr(cost, "evaluation_lengths", lambda cfg, model: {"xquad_r": [2, 2, 7]})
    phases, pairs = cost.job_costs(None, SimpleNamespace(encoder=backbone))
    assert pairs == 1 and set(phases) == {"train", "eval_xquad_r"}
    assert (phases["train"].texts, phases["train"].tokens) == (2, 8)
    assert phases["train"].flops == flops.sequence_flops([3, 5], params=25, layers=2, width=4, backward=True)
    assert phases["eval_xquad_r"] == cost.PhaseCost(3, 11, flops.sequence_flops([2, 2, 7], 25, 2, 4, backward=False))
