"""What MIRACL and BEIR benchmarks share: a list of query sets evaluated by :mod:`..retrieval_eval`."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from hybrid_retrieval.eval.index import IndexSpec
from hybrid_retrieval.eval.retrieval_eval import QuerySet, RetrievalOptions, evaluate_retrieval


@dataclass
class RetrievalBenchmark:
    """Monolingual query -> corpus retrieval; ``groups`` name language subsets to average (e.g. low_resource)."""

    name: str
    query_sets: list[QuerySet]
    options: RetrievalOptions = field(default_factory=RetrievalOptions)
    groups: dict[str, list[str]] = field(default_factory=dict)
    setting: str = "mono"

    @property
    def languages(self) -> list[str]:
        return [qs.lang for qs in self.query_sets]

    def evaluate(self, encoder, settings: Sequence[str] | None = None, metrics: Sequence[str] = ("ndcg@10", "recall@100"),
                 depth: int = 100, runs_dir=None, stats: dict | None = None):
        """One protocol, one setting (``self.setting``): ``eval.settings`` (LAReQA's mono/cross/multi) does not apply."""
        return evaluate_retrieval(self.query_sets, encoder, key=self.name, setting=self.setting, metrics=metrics,
                                  depth=depth, runs_dir=runs_dir, options=self.options, groups=self.groups, stats=stats)


def make_options(index: Mapping | IndexSpec | None, ignore_identical_ids: bool, embedding_dtype: str,
                 embeddings_dir: str | None, encode_chunk: int = 16384) -> RetrievalOptions:
    """Options from config values, failing early (before training) on a bad one."""
    from hybrid_retrieval.eval.embedding_store import DTYPES

    if embedding_dtype not in DTYPES:
        raise ValueError(f"eval.embedding_dtype={embedding_dtype!r}: valid values are {sorted(DTYPES)}")
    if int(encode_chunk) < 1:
        raise ValueError(f"eval.encode_chunk={encode_chunk}: must be a positive integer")
    if embeddings_dir not in (None, ""):
        embeddings_dir = Path(str(embeddings_dir)).expanduser()
        try:
            embeddings_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ValueError(f"eval.embeddings_dir={embeddings_dir}: cannot create it ({err.strerror})") from None
    return RetrievalOptions(IndexSpec.from_config(_plain(index)), bool(ignore_identical_ids), embedding_dtype,
                            None if embeddings_dir in (None, "") else str(embeddings_dir), int(encode_chunk))


def _plain(node: Any) -> Any:
    try:
        from omegaconf import DictConfig, OmegaConf
        if isinstance(node, DictConfig):
            return OmegaConf.to_container(node, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    return node
