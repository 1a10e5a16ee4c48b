"""A saved fine-tuned encoder gives the same embeddings through sentence-transformers as through ours."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hybrid_retrieval.backbones.tiny import build_tiny_bert
from hybrid_retrieval.model.dual_encoder import DualEncoder

TEXTS = ["Where is the river 12?", "Wo ist der Fluss 12?", "¿Dónde está el río?", "河流在哪里？", "แม่น้ำอยู่ที่ไหน"]


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_saved_encoder_matches_through_sentence_transformers(tmp_path, pooling):
    st = pytest.importorskip("sentence_transformers")
    model = DualEncoder(build_tiny_bert(), pooling=pooling, query_prefix="query: ", passage_prefix="passage: ")
    with torch.no_grad():  # move away from the initial weights, as fine-tuning would
        for p in model.encoder.parameters():
            p.add_(0.01 * torch.randn_like(p))
    out = model.save_encoder(tmp_path / "encoder")
    ours = model.text_encoder(batch_size=2, precision="32")
    loaded = st.SentenceTransformer(str(out), device="cpu")
    for kind, prompt in (("query", "query"), ("passage", "passage")):
        theirs = loaded.encode(TEXTS, prompt_name=prompt, convert_to_numpy=True, normalize_embeddings=False)
        mine = ours.encode(TEXTS, kind)
        np.testing.assert_allclose(theirs, mine, atol=1e-5)
    meta = json.loads((out / "hybrid_retrieval.json").read_text())
    assert meta["pooling"] == pooling and meta["query_prefix"] == "query: "


def test_saved_encoder_loads_with_automodel(tmp_path):
    from transformers import AutoModel, AutoTokenizer

    model = DualEncoder(build_tiny_bert())
    out = model.save_encoder(tmp_path / "enc")
    reloaded, info = AutoModel.from_pretrained(out, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    AutoTokenizer.from_pretrained(out)
    for a, b in zip(model.encoder.state_dict().values(), reloaded.state_dict().values()):
        assert torch.equal(a, b)


def test_evaluation_batch_size_changes_embeddings_only_by_fp32_rounding():
    """eval.batch_size is a speed knob (32 by default, fastest on CPU): length-sorted batches of any size
    pad differently but mask the padding, so the embeddings agree to fp32 rounding."""
    from conftest import compose_config

    model = DualEncoder(build_tiny_bert())
    texts = [t * k for k in (1, 3, 7) for t in TEXTS]  # lengths spread across batches
    by_size = {
        size: model.text_encoder(batch_size=size, precision="32").encode(texts, "passage") for size in (1, 4, 32)
    }
    assert model.text_encoder().batch_size == 32
    for size in (4, 32):
        np.testing.assert_allclose(by_size[size], by_size[1], atol=1e-6)
    assert compose_config([]).eval.batch_size == 32
