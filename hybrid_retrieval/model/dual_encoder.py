"""DualEncoder: one shared backbone for queries and passages, trained with a contrastive loss."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from hybrid_retrieval.data.collate import PairCollator
from hybrid_retrieval.eval.encode import TextEncoder
from hybrid_retrieval.model.backbones import load_backbone
from hybrid_retrieval.model.loss import InfoNCELoss
from hybrid_retrieval.model.optim import AdamWSparseRows
from hybrid_retrieval.model.pooling import get_pooler


class DualEncoder(pl.LightningModule):
    """Bi-encoder with L2-normalised pooled embeddings.

    The loss is injected (``loss``) so the same encoder serves InfoNCE, its
    cross-device variant and GradCache without knowing which one it runs.
    """

    def __init__(self, backbone: str, pooling: str = "mean", query_prefix: str = "query: ",
                 passage_prefix: str = "passage: ", max_query_length: int = 64, max_passage_length: int = 128,
                 loss: nn.Module | None = None, lr: float = 3e-5, weight_decay: float = 0.01,
                 warmup_steps: int = 0, size: int | None = None, name: str | None = None,
                 sparse_embeddings: bool = True, freeze_embeddings: bool = False, fused_adamw: bool = True):
        super().__init__()
        self.save_hyperparameters(ignore=["loss"])
        self.encoder, self.tokenizer = load_backbone(backbone)
        self.encoder.train()  # from_pretrained returns eval mode; fine-tuning wants dropout on
        if freeze_embeddings:  # opt-in: a different model (token vectors fixed), not a speed-up of the same one
            self.encoder.get_input_embeddings().weight.requires_grad_(False)
        self.pool = get_pooler(pooling)
        self.loss_fn = loss if loss is not None else InfoNCELoss()
        self._cross_batches = 0
        self._batches = 0

    # -- encoding ---------------------------------------------------------------------------
    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return F.normalize(self.pool(hidden, attention_mask).float(), dim=-1)

    def make_collator(self) -> PairCollator:
        hp = self.hparams
        return PairCollator(self.tokenizer, hp.query_prefix, hp.passage_prefix, hp.max_query_length, hp.max_passage_length)

    def text_encoder(self, batch_size: int = 128, precision: str = "32") -> TextEncoder:
        """This model as the evaluation encoder (length-sorted batches, inference mode)."""
        hp = self.hparams
        return TextEncoder(self.encoder, self.tokenizer, self.pool, hp.query_prefix, hp.passage_prefix,
                           hp.max_query_length, hp.max_passage_length, batch_size=batch_size, precision=precision)

    def save_encoder(self, out_dir) -> Path:
        """Write the encoder for transformers and sentence-transformers users (see model/export.py)."""
        from hybrid_retrieval.model.export import save_encoder

        hp = self.hparams
        return save_encoder(self.encoder, self.tokenizer, out_dir, hp.pooling, hp.query_prefix, hp.passage_prefix,
                            max(hp.max_query_length, hp.max_passage_length))

    # -- training ---------------------------------------------------------------------------
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        q = self.embed(**batch["query"])
        p = self.embed(**batch["passage"])
        loss = self.loss_fn(q, p, batch.get("passage_keys"))
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite training loss ({loss.item()}) at step {self.global_step}")
        self._batches += 1
        self._cross_batches += int(batch["is_cross"])
        self.log("train/loss", loss, prog_bar=True, batch_size=q.shape[0])
        self.log("train/cross_batch", batch["is_cross"].float(), batch_size=q.shape[0])
        return loss

    @property
    def trained_batches(self) -> int:
        return self._batches

    @property
    def cross_batch_fraction(self) -> float:
        """Realised share of cross-lingual batches among the batches this process trained on."""
        return self._cross_batches / self._batches if self._batches else float("nan")

    def setup(self, stage: str) -> None:
        """Sparse embedding gradients on one process; DDP all-reduces dense gradients only."""
        world = self.trainer.world_size if self._trainer is not None else 1
        self.encoder.get_input_embeddings().sparse = bool(self.hparams.sparse_embeddings) and world == 1

    def configure_optimizers(self):
        """AdamW; no weight decay on biases, LayerNorm and embedding tables (which makes sparse rows exact)."""
        from transformers import get_linear_schedule_with_warmup

        decay, no_decay = [], []
        for name, param in self.named_parameters():
            if param.requires_grad:
                (no_decay if param.ndim < 2 or "embeddings" in name else decay).append(param)
        optimizer = AdamWSparseRows(
            [{"params": decay, "weight_decay": self.hparams.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=self.hparams.lr, fused=self.hparams.fused_adamw)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        scheduler = get_linear_schedule_with_warmup(optimizer, self.hparams.warmup_steps, total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
