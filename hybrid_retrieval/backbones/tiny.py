"""A randomly initialised small BERT with a byte-level tokenizer, built locally.

For tests and smoke runs on machines without a model hub: the byte-level
vocabulary covers every script (Thai, Chinese, ...) without training a tokenizer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from hybrid_retrieval.files import cache_root, install_dir

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _build(out: Path, hidden_size: int, num_layers: int, num_heads: int, seed: int) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    for ch in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[ch] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )
    fast.save_pretrained(out)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=4 * hidden_size,
        max_position_embeddings=512,
        pad_token_id=vocab["[PAD]"],
    )
    with torch.random.fork_rng():  # the job's own random state (seeded by the caller) stays untouched
        torch.manual_seed(seed)
        BertModel(config).save_pretrained(out)


def build_tiny_bert(
    hidden_size: int = 64, num_layers: int = 2, num_heads: int = 2, seed: int = 0, cache_dir: str | Path | None = None
) -> str:
    """Return the path of a cached tiny BERT directory loadable by ``AutoModel``/``AutoTokenizer``."""
    spec = json.dumps({"v": 1, "h": hidden_size, "l": num_layers, "a": num_heads, "s": seed}, sort_keys=True)
    name = "tiny-bert-" + hashlib.sha256(spec.encode()).hexdigest()[:12]
    root = Path(cache_dir) if cache_dir else cache_root() / "models"
    dest = install_dir(root / name, lambda tmp: _build(tmp, hidden_size, num_layers, num_heads, seed))
    return str(dest)
