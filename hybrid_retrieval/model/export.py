"""Save a fine-tuned encoder where users' own pipelines can load it.

The directory is a plain transformers model (``AutoModel.from_pretrained``) and
also a sentence-transformers model with the module list the job encodes with:
Transformer, Pooling (its mode), each Dense layer (weights and activation, e.g.
LaBSE's tanh projection), Normalize, and the query/passage prefixes as named
prompts. So pooling, projection and prefixes travel with the weights instead of
living in a README, and ``model=sentence_transformers model.backbone=<export>``
reads them back (backbones/st_modules.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from hybrid_retrieval.backbones.st_modules import OWN_RECORD, POOLING_MODES

# the legacy flags every sentence-transformers version reads (v5+ also reads "pooling_mode")
ST_POOLING_FLAGS = {
    "cls": "pooling_mode_cls_token",
    "mean": "pooling_mode_mean_tokens",
    "max": "pooling_mode_max_tokens",
    "mean_sqrt_len_tokens": "pooling_mode_mean_sqrt_len_tokens",
    "weightedmean": "pooling_mode_weightedmean_tokens",
    "lasttoken": "pooling_mode_lasttoken",
}
assert set(ST_POOLING_FLAGS) == set(POOLING_MODES)


def _write_json(path: Path, obj: dict | list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def save_encoder(
    encoder,
    tokenizer,
    out_dir: str | Path,
    pooling: str,
    query_prefix: str,
    passage_prefix: str,
    max_length: int,
    dense: Sequence = (),
    lengths: dict[str, int] | None = None,
) -> Path:
    """Write the encoder; ``dense``: the head's Dense modules (model/head.py), in order."""
    from safetensors.torch import save_file

    from hybrid_retrieval.model.head import activation_name

    out = Path(out_dir)
    encoder.save_pretrained(out)
    tokenizer.save_pretrained(out)
    dim = int(encoder.config.hidden_size)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": max_length, "do_lower_case": False})
    flags = {flag: False for flag in ST_POOLING_FLAGS.values()}
    flags[ST_POOLING_FLAGS[pooling]] = True
    _write_json(out / "1_Pooling" / "config.json", {"word_embedding_dimension": dim, **flags, "include_prompt": True})
    for layer in dense:
        idx = len(modules)
        folder = out / f"{idx}_Dense"
        _write_json(
            folder / "config.json",
            {
                "in_features": layer.linear.in_features,
                "out_features": layer.linear.out_features,
                "bias": layer.linear.bias is not None,
                "activation_function": activation_name(layer.activation),
            },
        )
        save_file(
            {k: v.detach().float().contiguous().cpu() for k, v in layer.state_dict().items()},
            str(folder / "model.safetensors"),
        )
        modules.append(
            {"idx": idx, "name": str(idx), "path": folder.name, "type": "sentence_transformers.models.Dense"}
        )
    idx = len(modules)
    modules.append(
        {"idx": idx, "name": str(idx), "path": f"{idx}_Normalize", "type": "sentence_transformers.models.Normalize"}
    )
    (out / f"{idx}_Normalize").mkdir(exist_ok=True)
    _write_json(out / "modules.json", modules)
    prompts = {"query": query_prefix, "document": passage_prefix, "passage": passage_prefix}
    _write_json(
        out / "config_sentence_transformers.json",
        {"prompts": prompts, "default_prompt_name": None, "similarity_fn_name": "cosine"},
    )
    lengths = lengths or {"query": max_length, "passage": max_length}
    _write_json(
        out / OWN_RECORD,
        {
            "pooling": pooling,
            "query_prefix": query_prefix,
            "passage_prefix": passage_prefix,
            "max_length": max_length,
            "max_query_length": int(lengths["query"]),
            "max_passage_length": int(lengths["passage"]),
            "dense": [
                {
                    "in_features": d.linear.in_features,
                    "out_features": d.linear.out_features,
                    "activation": activation_name(d.activation),
                }
                for d in dense
            ],
        },
    )
    return out
