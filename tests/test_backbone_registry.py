"""One registry names the locally built backbones; the ``${hr.*}`` resolvers and ``materialise`` both read it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from hybrid_retrieval.backbones.errors import BackboneNotFoundError
from hybrid_retrieval.backbones.registry import LOCAL, LOCAL_BACKBONES, materialise
from hybrid_retrieval.config.resolvers import RESOLVERS

ROOT = Path(__file__).resolve().parents[1]


def test_every_registered_backbone_has_its_resolver_and_marker():
    assert RESOLVERS == {b.resolver: LOCAL + b.name for b in LOCAL_BACKBONES.values()}
    for resolver, marker in RESOLVERS.items():
        assert OmegaConf.create({"b": "${" + resolver + ":}"}).b == marker


def test_every_resolver_a_model_config_uses_is_registered():
    used = {m for p in (ROOT / "conf" / "model").glob("*.yaml") for m in re.findall(r"\$\{(hr\.\w+):", p.read_text())}
    assert used and used <= set(RESOLVERS)


def test_unknown_local_backbone_names_the_valid_ones():
    with pytest.raises(BackboneNotFoundError, match="local:tiny_bert.*local:me5_small"):
        materialise("local:nope")
    assert materialise("some/hub-id") == "some/hub-id"


def test_reading_the_registry_imports_no_model_library():
    code = (
        "import sys, hybrid_retrieval.config.resolvers; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'huggingface_hub'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
