"""Batch kinds on the real MLQA-R (and TyDi GoldP) data: shares, languages, sources, code-switching; the toy kind."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from conftest import ROOT, compose_config
from scipy.stats import chisquare

from hybrid_retrieval.data.batch_kinds import CrossLingual, Monolingual, MultilingualMono, hybrid_recipe
from hybrid_retrieval.data.corpus import ParallelCorpus
from hybrid_retrieval.data.download import resolve_root
from hybrid_retrieval.data.sampler import HybridBatchSampler

REAL = resolve_root(None)
needs_real = pytest.mark.skipif(
    not (REAL / "mlqa-r" / "en.json").is_file(), reason="real MLQA-R not under the data root"
)
needs_tydi = pytest.mark.skipif(
    not (REAL / "tydiqa-goldp" / "train").is_dir(), reason="TyDi GoldP train not under the data root"
)
MLQA = ["ar", "de", "en", "es", "hi", "vi", "zh"]


@pytest.fixture(scope="module")
def mlqa() -> ParallelCorpus:
    return ParallelCorpus.from_lareqa("mlqa-r", MLQA, REAL)


def kinds(**shares) -> dict:
    make = {
        "cross": lambda s: CrossLingual(s, "per_sample"),
        "pair": lambda s: CrossLingual(s, "per_batch"),
        "mono": Monolingual,
        "multilingual": MultilingualMono,
    }
    return {name: make[name](share) for name, share in shares.items()}


@needs_real
# exact: counts fixed per epoch; bernoulli: 1000 batches put 0.05 at >= 3.4 standard deviations
@pytest.mark.parametrize("schedule,batches", [("exact", 250), ("bernoulli", 1000)])
def test_realised_share_of_each_kind_is_the_asked_share(mlqa, schedule, batches):
    asked = {"cross": 0.3, "multilingual": 0.2, "pair": 0.1, "mono": 0.4}
    s = HybridBatchSampler(
        mlqa.available, 8, schedule=schedule, num_batches=batches, seed=5, batch_kinds=kinds(**asked)
    )
    for epoch in range(2):
        plans = s.plan(epoch)
        assert len(plans) == batches
        got = Counter(p.kind for p in plans)
        for name, share in asked.items():
            assert abs(got[name] / len(plans) - share) <= 0.05, (name, got)
        for plan in plans:  # every sample says which kind it belongs to, and the kind did what it says
            assert {smp.kind for smp in plan.samples} == {plan.kind}
            cross = [q != p for _, q, p, _ in plan.samples]
            assert all(cross) if plan.kind in ("cross", "pair") else not any(cross)


@needs_real
def test_standard_multilingual_batches_mix_languages_with_monolingual_pairs(mlqa):
    s = HybridBatchSampler(mlqa.available, 16, num_batches=200, seed=1, batch_kinds=kinds(multilingual=1.0))
    for plan in s.plan(0):
        assert all(q == p for _, q, p, _ in plan.samples)  # every pair monolingual
        assert len({q for _, q, _, _ in plan.samples}) >= 2  # languages mixed inside the batch
        items = [i for i, _, _, _ in plan.samples]
        assert len(set(items)) == len(items)
        assert all(mlqa.available[i, q] for i, q, _, _ in plan.samples)


def language_counts(corpus, alpha, kind="multilingual", batches=300, seed=3) -> np.ndarray:
    s = HybridBatchSampler(
        corpus.available, 8, num_batches=batches, seed=seed, language_alpha=alpha, batch_kinds=kinds(**{kind: 1.0})
    )
    counts = np.zeros(len(corpus.languages))
    for plan in s.plan(0):
        for _, q, _, _ in plan.samples:
            counts[q] += 1
    return counts


@needs_real
def test_language_alpha_zero_is_uniform_and_one_follows_the_data(mlqa):
    sizes = mlqa.available.sum(axis=0)
    assert sizes.max() > 2 * sizes.min()  # en has twice the items of the others: the test can tell
    uniform = language_counts(mlqa, 0.0)
    assert chisquare(uniform).pvalue > 0.001  # within sampling error of uniform
    proportional = language_counts(mlqa, 1.0)
    assert chisquare(proportional, sizes / sizes.sum() * proportional.sum()).pvalue > 0.001
    assert chisquare(proportional).pvalue < 1e-6  # and clearly not uniform
    # monolingual batches choose their language by the same temperature
    mono = language_counts(mlqa, 0.0, kind="mono", batches=700) / 8
    assert chisquare(mono).pvalue > 0.001


@needs_real
@needs_tydi
@pytest.mark.parametrize("cross_mode", ["per_sample", "per_batch"])
def test_monolingual_only_items_never_make_a_cross_lingual_pair(mlqa, cross_mode):
    tydi = ParallelCorpus.from_tydi_goldp(["en", "ko", "sw"], REAL)
    langs = MLQA + ["ko", "sw"]
    corpus = ParallelCorpus.combine({"mlqa_r": mlqa, "tydi": tydi}, langs)
    from_tydi = np.array([name.startswith("tydi:") for name in corpus.items])
    assert (corpus.available[from_tydi].sum(axis=1) == 1).all()  # one language each
    s = HybridBatchSampler(corpus.available, 16, hybrid_recipe(0.5, cross_mode), num_batches=300, seed=2)
    seen_mono_tydi = set()
    for plan in s.plan(0):
        for i, q, p, _ in plan.samples:
            if q != p:
                assert not from_tydi[i], corpus.items[i]
            elif from_tydi[i]:
                seen_mono_tydi.add(corpus.languages[q])
    assert {"ko", "sw"} <= seen_mono_tydi  # they are trained on, in monolingual batches


def test_toy_kind_from_the_docs_is_one_class_and_one_config_entry(data_root, tmp_path, monkeypatch):
    """docs/recipes.md: tests/toy_kind.py (the class) + tests/conf/recipe/english_queries.yaml (the entry)."""
    import pytorch_lightning as pl

    from hybrid_retrieval.config.validate import check_cross_lingual_languages
    from hybrid_retrieval.job.train import build, build_datamodule
    from hybrid_retrieval.job.training_record import TrainingRecord

    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    cfg = compose_config(
        [
            "experiment=smoke",
            f"paths.data_dir={data_root}",
            f"paths.output_dir={tmp_path}",
            f"hydra.searchpath=[file://{ROOT / 'tests' / 'conf'}]",
            "recipe=english_queries",
            "data.batch_size=4",
            "data.num_batches=8",
            "trainer.max_steps=8",
            "trainer.precision=32-true",
        ]
    )
    check_cross_lingual_languages(cfg)
    model = build(cfg.model)
    dm = build_datamodule(cfg.data, collate_fn=model.make_collator())
    plans = dm.make_sampler().plan(0)
    assert Counter(p.kind for p in plans) == {"cross": 4, "english_queries": 2, "mono": 2}
    for plan in plans:
        if plan.kind == "english_queries":
            assert {q for _, q, _, _ in plan.samples} == {1} and all(p != 1 for _, _, p, _ in plan.samples)
    record = TrainingRecord()
    trainer = build(
        cfg.trainer, logger=False, callbacks=[record], enable_progress_bar=False, enable_checkpointing=False
    )
    pl.seed_everything(0)
    trainer.fit(model, datamodule=dm)
    shares = record.counts.metrics(list(dm.batch_kinds))
    assert shares["train/batch_share/english_queries"] == pytest.approx(0.25)
    assert shares["train/batch_share/cross"] == pytest.approx(0.5)
    assert shares["train/cross_batch_fraction"] == pytest.approx(0.75)  # both cross-lingual kinds


def test_recipe_needing_two_languages_fails_before_loading_naming_the_kind(tmp_path):
    from hybrid_retrieval.config.validate import ConfigError, check_cross_lingual_languages

    cfg = compose_config(["experiment=smoke", "recipe=multilingual", "data.languages=[en]"])
    with pytest.raises(
        ConfigError,
        match=r"data\.batch_kinds\.multilingual \(MultilingualMono, share 1\.0\) needs at "
        r"least 2 training languages",
    ):
        check_cross_lingual_languages(cfg)
    check_cross_lingual_languages(compose_config(["experiment=smoke", "recipe=xx", "data.languages=[en]"]))


def test_shares_that_do_not_add_up_are_refused():
    avail = np.ones((100, 2), dtype=bool)
    with pytest.raises(ValueError, match=r"sum to 0\.8; they must sum to 1"):
        HybridBatchSampler(avail, 4, batch_kinds=kinds(cross=0.4, multilingual=0.4))
    with pytest.raises(ValueError, match=r"data\.batch_kinds\.mono\.share=1\.5"):
        HybridBatchSampler(avail, 4, batch_kinds=kinds(mono=1.5))
    # a kind with share 0 is never drawn and need not be feasible
    s = HybridBatchSampler(np.ones((100, 1), dtype=bool), 4, batch_kinds=kinds(cross=0.0, mono=1.0))
    assert {p.kind for p in s.plan(0)} == {"mono"}


@needs_real
@needs_tydi
def test_combined_corpus_is_checked_before_loading(tmp_path):
    from hybrid_retrieval.config.validate import ConfigError, check_training_corpus
    from hybrid_retrieval.data.download import DataNotFoundError

    base = ["experiment=smoke", "data=mlqa_r_tydi", f"paths.data_dir={REAL}"]
    check_training_corpus(compose_config(base + ["data.languages=[de,en,sw]"]))
    with pytest.raises(ConfigError, match=r"data\.languages: \['fi'\] in no source of data\.corpus\.sources"):
        check_training_corpus(compose_config(base + ["data.languages=[de,en,fi]"]))
    with pytest.raises(DataNotFoundError, match=r"data\.corpus\.sources\.tydi: no data for 'sw'"):
        check_training_corpus(
            compose_config(
                base
                + [
                    "data.languages=[de,sw]",
                    "data.corpus.sources.tydi.split=dev",
                    f"data.corpus.sources.tydi.root={tmp_path}",
                ]
            )
        )


@pytest.mark.parametrize("ratio, mode", [(0.25, "per_batch"), (0.5, "per_sample")])
def test_hybrid_recipe_helper_is_the_recipe_yaml(ratio, mode):
    """hybrid_recipe (for scripts and tests without Hydra) builds what conf/recipe/hybrid.yaml instantiates."""
    from hydra.utils import instantiate

    cfg = compose_config(["experiment=smoke", f"data.cross_ratio={ratio}", f"data.cross_mode={mode}"])

    def described(kinds):
        return [(name, type(k), k.share, getattr(k, "pairing", None), k.share_key) for name, k in kinds.items()]

    assert described(instantiate(cfg.data.batch_kinds)) == described(hybrid_recipe(ratio, mode))


def two_language_corpus(items: int = 40) -> ParallelCorpus:
    from hybrid_retrieval.data.corpus import Example, Passage

    return ParallelCorpus(
        {
            (f"it{i:02d}", lang): Example(f"q{i} {lang}", Passage(f"p{i}-{lang}", f"a{i} {lang}"))
            for i in range(items)
            for lang in ("de", "en")
        },
        ["de", "en"],
    )


def test_no_batch_kinds_is_an_error_naming_the_recipe():
    from hybrid_retrieval.config.validate import ConfigError, check_cross_lingual_languages
    from hybrid_retrieval.data.datamodule import HybridDataModule

    with pytest.raises(ValueError, match=r"data\.batch_kinds: empty; .*recipe"):
        HybridBatchSampler(np.ones((100, 2), dtype=bool), 4, {})
    with pytest.raises(ValueError, match=r"data\.batch_kinds: empty; .*recipe"):
        HybridDataModule(two_language_corpus(), {})
    cfg = compose_config(["experiment=smoke"])
    cfg.data.batch_kinds = {}  # a recipe of your own that names no kind
    with pytest.raises(ConfigError, match=r"data\.batch_kinds: empty; .*recipe"):
        check_cross_lingual_languages(cfg)


def test_an_error_names_the_key_that_set_the_share():
    one_language = np.ones((100, 1), dtype=bool)
    with pytest.raises(ValueError, match=r"^data\.cross_ratio=0\.5 needs cross-lingual batches"):
        HybridBatchSampler(one_language, 4, hybrid_recipe(0.5))
    with pytest.raises(ValueError, match=r"^data\.batch_kinds\.cross\.share=0\.5 needs cross-lingual batches"):
        HybridBatchSampler(one_language, 4, kinds(cross=0.5, mono=0.5))


class MarkedCross(Monolingual):
    """Monolingual pairs in a kind that calls itself cross-lingual: the counts follow the kind, not the languages."""

    cross_lingual = True


def test_cross_batch_fraction_comes_from_the_kinds_attribute():
    from hybrid_retrieval.data.datamodule import HybridDataModule
    from hybrid_retrieval.job.batch_counts import BatchCounts

    def collate(rows):
        return {"kind": rows[0]["kind"], "cross_lingual": rows[0]["cross_lingual"], "rows": rows}

    dm = HybridDataModule(
        two_language_corpus(),
        {"marked": MarkedCross(0.5), "mono": Monolingual(None)},
        batch_size=4,
        num_batches=20,
        collate_fn=collate,
    )
    counts = BatchCounts()
    for batch in dm.train_dataloader():
        assert all(r["query_lang"] == r["passage_lang"] for r in batch["rows"])  # no pair is cross-lingual ...
        assert batch["cross_lingual"] == (batch["kind"] == "marked")  # ... but the batch carries its kind's flag
        counts.add(batch)
    metrics = counts.metrics(list(dm.batch_kinds))
    assert metrics["train/cross_batch_fraction"] == metrics["train/batch_share/marked"] == 0.5


def test_data_keys_are_the_datamodules_arguments_less_the_recipe_knobs():
    """The job passes every data key to the data module except the recipe's knobs, which the recipe reads."""
    import inspect
    from dataclasses import fields

    from hybrid_retrieval.config.schema import RECIPE_KNOBS, DataSchema
    from hybrid_retrieval.data.datamodule import HybridDataModule

    assert set(RECIPE_KNOBS) == {"cross_ratio", "cross_mode", "code_switch_rate"}
    arguments = set(inspect.signature(HybridDataModule).parameters)
    keys = {f.name for f in fields(DataSchema)} - {"_target_"}
    assert keys - set(RECIPE_KNOBS) <= arguments and not arguments & set(RECIPE_KNOBS)
