"""GradCache: chunked contrastive steps give the plain loss's gradients (masking, hard negatives, dropout,
Lightning)."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from conftest import compose_config, smoke_overrides
from torch import nn

from hybrid_retrieval.backbones.tiny import build_tiny_bert
from hybrid_retrieval.job.train import build, build_datamodule
from hybrid_retrieval.model.dual_encoder import DualEncoder
from hybrid_retrieval.model.grad_cache import GradCache, split_inputs


def rows(n: int, shared_answer: bool = True, negatives: int = 2) -> list[dict]:
    """Training rows of varied length; rows 0 and 1 share an answer sentence; hard negatives per row."""
    out = []
    for i in range(n):
        pid = "en:0-0-0" if shared_answer and i in (0, 1) else f"en:0-{i}-1"
        out.append(
            {
                "query": "where is the river " + "x" * (3 * i),
                "positive": f"the river {pid} is long " + "y" * i,
                "positive_id": pid,
                "negatives": [f"neg {i}-{j} " + "z" * (i + j) for j in range(negatives)],
                "negative_ids": [f"en:9-{i}-{j}" for j in range(negatives)],
                "query_lang": 0,
                "passage_lang": 0,
            }
        )
    return out


@pytest.fixture(scope="module")
def model() -> DualEncoder:
    return DualEncoder(build_tiny_bert(), speed={"sparse_embeddings": False})


def param_grads(model: nn.Module) -> dict[str, torch.Tensor]:
    return {
        n: (p.grad.to_dense() if p.grad.is_sparse else p.grad).clone()
        for n, p in model.named_parameters()
        if p.grad is not None
    }


def plain_grads(model: DualEncoder, batch: dict) -> tuple[float, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss = model.contrastive_loss(model.embed(**batch["query"]), model.embed(**batch["passage"]), batch["passage_keys"])
    loss.backward()
    return loss.item(), param_grads(model)


def cached_grads(model: DualEncoder, batch: dict, chunk_size: int) -> tuple[float, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss = GradCache(chunk_size)(
        model.embed,
        [batch["query"], batch["passage"]],
        lambda q, p: model.contrastive_loss(q, p, batch["passage_keys"]),
    )
    return loss.item(), param_grads(model)


def assert_same_grads(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys() and len(a) > 10
    scale = max(float(g.abs().max()) for g in b.values())  # float32 sums in another order: tiny against the gradient
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=2e-5 * scale, msg=name)


@pytest.mark.parametrize("chunk_size", [2, 64])  # 2: the last chunk holds one text
def test_grad_cache_equals_plain_loss_with_masking_and_hard_negatives(model, chunk_size):
    batch = model.make_collator()(rows(5))
    assert batch["passage"]["input_ids"].shape[0] == 5 * 3  # positives + 2 hard negatives each
    assert batch["passage_keys"][0] == batch["passage_keys"][1]  # a false negative the loss must mask
    model.eval()  # no dropout: one big forward and chunked forwards are the same function
    with torch.no_grad():
        q, p = model.embed(**batch["query"]), model.embed(**batch["passage"])
        assert model.contrastive_loss(q, p, batch["passage_keys"]) != model.contrastive_loss(q, p, None)
    plain_loss, plain = plain_grads(model, batch)
    cached_loss, cached = cached_grads(model, batch, chunk_size)
    assert cached_loss == pytest.approx(plain_loss, rel=1e-5)
    assert_same_grads(cached, plain)


@pytest.fixture(scope="module")
def torch_dropout_model() -> DualEncoder:
    return DualEncoder(build_tiny_bert(), speed={"sparse_embeddings": False, "unpad": False})


@pytest.fixture(scope="module")
def fast_dropout_model() -> DualEncoder:
    return DualEncoder(build_tiny_bert(), speed={"sparse_embeddings": False, "fast_dropout": True, "unpad": False})


# torch's masks (the padded step) and NumPy masks seeded from torch's generator (fast_dropout; unpad's chunks) replay
@pytest.mark.parametrize("masks", ["torch", "fast_dropout", "unpad"])
def test_grad_cache_replays_dropout(model, torch_dropout_model, fast_dropout_model, masks):
    """With dropout on, the recomputed chunks must use the masks the loss saw in the no-grad pass."""
    model = {"torch": torch_dropout_model, "fast_dropout": fast_dropout_model, "unpad": model}[masks]
    batch = model.make_collator()(rows(4, negatives=1))
    model.train()
    torch.manual_seed(7)
    model.zero_grad(set_to_none=True)
    chunks = [split_inputs(batch[k], 2) for k in ("query", "passage")]
    q, p = (torch.cat([model.embed(**c) for c in group]) for group in chunks)  # same draw order as GradCache
    reference_loss = model.contrastive_loss(q, p, batch["passage_keys"])
    reference_loss.backward()
    reference = param_grads(model)
    torch.manual_seed(7)
    cached_loss, cached = cached_grads(model, batch, 2)
    assert cached_loss == pytest.approx(reference_loss.item(), rel=1e-5)
    assert_same_grads(cached, reference)
    torch.manual_seed(8)
    _, other_seed = cached_grads(model, batch, 2)  # dropout really is on: other masks, other gradients
    assert any(not torch.allclose(other_seed[n], reference[n]) for n in reference)


def test_split_inputs_trims_only_trailing_padding():
    ids = torch.tensor([[5, 6, 7, 0], [5, 6, 0, 0], [5, 0, 0, 0]])
    mask = (ids != 0).long()
    chunks = split_inputs({"input_ids": ids, "attention_mask": mask}, 2)
    assert [c["input_ids"].shape for c in chunks] == [(2, 3), (1, 1)]
    left = {"input_ids": ids.flip(1), "attention_mask": mask.flip(1)}  # left padding: nothing to cut
    assert split_inputs(left, 2)[1]["input_ids"].shape == (1, 4)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "4", True])
def test_bad_chunk_size_names_the_key(bad):
    with pytest.raises(ValueError, match=r"model\.grad_cache\.chunk_size"):
        GradCache(bad)


class GradRecorder(pl.Callback):
    """Keeps the gradients the optimizer is about to apply at the first step."""

    def __init__(self):
        self.grads: dict[str, torch.Tensor] | None = None

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        if self.grads is None:
            self.grads = param_grads(pl_module)


def first_step_grads(data_root, tmp_path, extra: list[str]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    cfg = compose_config(
        smoke_overrides(data_root, tmp_path)
        + ["trainer.max_steps=1", "data.hard_negatives=1", "trainer.precision=32-true"]
        + extra
    )
    pl.seed_everything(0)
    model = build(cfg.model)
    for module in model.modules():  # dropout off: the plain step encodes the batch in one pass, GradCache in chunks
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    recorder = GradRecorder()
    trainer = build(
        cfg.trainer, logger=False, callbacks=[recorder], enable_progress_bar=False, enable_checkpointing=False
    )
    trainer.fit(model, datamodule=build_datamodule(cfg.data, collate_fn=model.make_collator()))
    assert trainer.global_step == 1
    return recorder.grads, {n: p.detach().clone() for n, p in model.named_parameters()}


def test_lightning_grad_cache_step_matches_plain_step(data_root, tmp_path):
    """Manual optimisation with chunked backward passes applies the same update as Lightning's automatic step."""
    plain, plain_params = first_step_grads(data_root, tmp_path / "plain", [])
    cached, cached_params = first_step_grads(data_root, tmp_path / "gc", ["model.grad_cache.chunk_size=3"])
    assert_same_grads(cached, plain)
    for name in plain_params:  # the optimizer step ran the same way
        torch.testing.assert_close(cached_params[name], plain_params[name], rtol=1e-3, atol=1e-4, msg=name)


@pytest.mark.parametrize("trainer_key", ["trainer.gradient_clip_val=1.0", "trainer.accumulate_grad_batches=4"])
def test_grad_cache_with_lightning_clipping_or_accumulation_fails_naming_both_keys(data_root, tmp_path, trainer_key):
    from hybrid_retrieval.config.validate import ConfigError, validate

    cfg = compose_config(smoke_overrides(data_root, tmp_path) + ["model.grad_cache.chunk_size=4", trainer_key])
    with pytest.raises(ConfigError, match=rf"model\.grad_cache\.chunk_size=4 with {trainer_key.split('=')[0]}"):
        validate(cfg)
    validate(compose_config(smoke_overrides(data_root, tmp_path) + [trainer_key]))  # fine without GradCache
