"""Cross-device negatives: 2 gloo processes give the loss and gradients of one process on the concatenated batch.

The workers are real DDP ranks (torch.multiprocessing + Lightning's DDP strategy
on CPU); the reference is computed here, in one process, on the global batch.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import compose_config, smoke_overrides
from torch import nn

from hybrid_retrieval.backbones.tiny import build_tiny_bert
from hybrid_retrieval.model.distributed import cross_device_loss
from hybrid_retrieval.model.loss import InfoNCELoss

WORLD = 2
VARIANTS = {"plain": [], "grad_cache": ["model.grad_cache.chunk_size=3"]}


# --- a toy encoder with uneven shards and a false negative across ranks ---------------------------


def toy_shards() -> list[dict[str, torch.Tensor]]:
    """Rank 0: 3 queries, 5 passages; rank 1: 2 queries, 2 passages. Rank 1's positive is rank 0's first."""
    g = torch.Generator().manual_seed(3)
    return [
        {
            "q": torch.randn(3, 6, generator=g),
            "p": torch.randn(5, 6, generator=g),
            "keys": torch.tensor([10, 11, 12, 50, 51]),
        },
        {"q": torch.randn(2, 6, generator=g), "p": torch.randn(2, 6, generator=g), "keys": torch.tensor([10, 20])},
    ]


def toy_encoder() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(6, 4)


def toy_reference() -> tuple[float, list[torch.Tensor]]:
    shards, enc, loss_fn = toy_shards(), toy_encoder(), InfoNCELoss(temperature=0.5)
    n_q = [s["q"].shape[0] for s in shards]
    q = torch.cat([enc(s["q"]) for s in shards])
    # one process: positives of all queries first (query i -> column i), then the other passages
    p = torch.cat([enc(s["p"][:n]) for s, n in zip(shards, n_q)] + [enc(s["p"][n:]) for s, n in zip(shards, n_q)])
    keys = torch.cat([s["keys"][:n] for s, n in zip(shards, n_q)] + [s["keys"][n:] for s, n in zip(shards, n_q)])
    loss = loss_fn(q, p, keys)
    loss.backward()
    return loss.item(), [prm.grad.clone() for prm in enc.parameters()]


def toy_rank(rank: int) -> tuple[float, list[torch.Tensor]]:
    shard, enc = toy_shards()[rank], toy_encoder()
    loss = cross_device_loss(InfoNCELoss(temperature=0.5), enc(shard["q"]), enc(shard["p"]), shard["keys"])
    loss.backward()
    grads = []
    for prm in enc.parameters():  # what DDP does: average parameter gradients over ranks
        dist.all_reduce(prm.grad)
        grads.append(prm.grad / WORLD)
    total = loss.detach().clone()
    dist.all_reduce(total)
    return total.item() / WORLD, grads


# --- the real training step under Lightning DDP ---------------------------------------------------


class FirstStepGrads(pl.Callback):
    def __init__(self):
        self.grads = None

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        if self.grads is None:
            self.grads = {n: p.grad.detach().clone() for n, p in pl_module.named_parameters() if p.grad is not None}


def config(data_root: Path, out_dir: Path, extra: list[str]):
    return compose_config(
        smoke_overrides(data_root, out_dir)
        + [
            "trainer=ddp",
            "trainer.accelerator=cpu",
            f"trainer.devices={WORLD}",
            "trainer.max_steps=1",
            "trainer.precision=32-true",  # exact comparison: no bf16 autocast
            "data.batch_size=4",
            "data.hard_negatives=1",
            "model.cross_device_negatives=true",
        ]
        + extra
    )


def no_dropout(model: nn.Module) -> nn.Module:
    """Ranks draw other dropout masks than one process would; the comparison is about the loss, not dropout."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    return model


def lightning_rank(data_root: Path, out_dir: Path, extra: list[str]) -> tuple[float, dict[str, torch.Tensor]]:
    from hybrid_retrieval.job.train import build, build_datamodule

    cfg = config(data_root, out_dir, extra)
    model = no_dropout(build(cfg.model))
    recorder = FirstStepGrads()
    trainer = build(
        cfg.trainer, logger=False, callbacks=[recorder], enable_progress_bar=False, enable_checkpointing=False
    )
    trainer.fit(model, datamodule=build_datamodule(cfg.data, collate_fn=model.make_collator()))
    return float(trainer.callback_metrics["train/loss"]), recorder.grads


def worker(rank: int, port: int, data_root: str, out: str) -> None:
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "WORLD_SIZE": str(WORLD),
            "LOCAL_RANK": str(rank),
            "NODE_RANK": "0",
        }
    )  # ranks started "externally", as under torchrun
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    results = {"toy": toy_rank(rank)}
    for name, extra in VARIANTS.items():
        results[name] = lightning_rank(Path(data_root), Path(out) / name, extra)
    torch.save(results, Path(out) / f"rank{rank}.pt")


@pytest.fixture(scope="module")
def rank_results(data_root, tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("ranks")
    build_tiny_bert()  # into the session cache before the ranks start, so they only read it
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(worker, args=(port, str(data_root), str(out)), nprocs=WORLD, join=True)
    return [torch.load(out / f"rank{r}.pt") for r in range(WORLD)]


def assert_close_grads(got, want) -> None:
    scale = max(float(g.abs().max()) for g in (want.values() if isinstance(want, dict) else want))
    pairs = [(n, got[n], want[n]) for n in want] if isinstance(want, dict) else list(zip(range(len(want)), got, want))
    assert pairs
    for name, a, b in pairs:
        torch.testing.assert_close(a, b, rtol=1e-4, atol=2e-5 * scale, msg=str(name))


def test_uneven_shards_and_cross_rank_false_negative_match_one_process(rank_results):
    loss, grads = toy_reference()
    for result in rank_results:
        got_loss, got_grads = result["toy"]
        assert got_loss == pytest.approx(loss, rel=1e-5)
        assert_close_grads(got_grads, grads)


def global_batch_reference(data_root: Path, out_dir: Path) -> tuple[float, dict[str, torch.Tensor]]:
    """One process, the first global batch (every rank's slice, concatenated), the same loss."""
    from hybrid_retrieval.job.train import build, build_datamodule

    cfg = config(data_root, out_dir, [])
    model = no_dropout(build(cfg.model))
    dm = build_datamodule(cfg.data, collate_fn=model.make_collator())
    samples = dm.make_sampler(WORLD, 0).plan(0)[0].samples
    assert len(samples) == WORLD * cfg.data.batch_size
    dataset = dm.make_dataset()
    batch = model.make_collator()([dataset[s] for s in samples])
    assert batch["passage"]["input_ids"].shape[0] == 2 * len(samples)  # one hard negative each
    loss = model.loss_fn(model.embed(**batch["query"]), model.embed(**batch["passage"]), batch["passage_keys"])
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_ddp_training_step_matches_one_process_on_global_batch(rank_results, data_root, tmp_path, variant):
    loss, grads = global_batch_reference(data_root, tmp_path)
    for result in rank_results:
        got_loss, got_grads = result[variant]
        assert got_loss == pytest.approx(loss, rel=1e-4)  # logged with sync_dist: the global batch's loss
        assert_close_grads(got_grads, grads)


def test_without_process_group_it_is_the_plain_loss():
    shard = toy_shards()[0]
    q, p = shard["q"][:, :4], shard["p"][:, :4]
    loss_fn = InfoNCELoss(temperature=0.5)
    assert cross_device_loss(loss_fn, q, p, shard["keys"]) == loss_fn(q, p, shard["keys"])
