"""Save a fine-tuned encoder where users' own pipelines can load it.

The directory is a plain transformers model (``AutoModel.from_pretrained``) and
also a sentence-transformers model (modules.json, pooling, normalisation, and
the query/passage prefixes as named prompts), so pooling and prefixes travel
with the weights instead of living in a README.
"""
from __future__ import annotations

import json
from pathlib import Path

ST_POOLING_FLAGS = {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token"}


def _write_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def save_encoder(encoder, tokenizer, out_dir: str | Path, pooling: str, query_prefix: str, passage_prefix: str,
                 max_length: int) -> Path:
    out = Path(out_dir)
    encoder.save_pretrained(out)
    tokenizer.save_pretrained(out)
    dim = int(encoder.config.hidden_size)
    _write_json(out / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": max_length, "do_lower_case": False})
    flags = {flag: False for flag in ("pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens",
                                      "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                                      "pooling_mode_lasttoken")}
    flags[ST_POOLING_FLAGS[pooling]] = True
    _write_json(out / "1_Pooling" / "config.json", {"word_embedding_dimension": dim, **flags, "include_prompt": True})
    (out / "2_Normalize").mkdir(exist_ok=True)
    prompts = {"query": query_prefix, "document": passage_prefix, "passage": passage_prefix}
    _write_json(out / "config_sentence_transformers.json",
                {"prompts": prompts, "default_prompt_name": None, "similarity_fn_name": "cosine"})
    _write_json(out / "hybrid_retrieval.json", {"pooling": pooling, "query_prefix": query_prefix,
                                                "passage_prefix": passage_prefix, "max_length": max_length})
    return out
