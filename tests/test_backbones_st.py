"""Every backbone family as its authors publish it: tiny random XLM-R, BERT, LaBSE-shaped (CLS -> Dense(tanh) ->
Normalize) and E5-shaped (mean pooling, prompts) models, built offline in a temp dir, run through
load -> train step -> evaluation -> export -> reload; zero-shot run-file scores equal sentence-transformers'."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import compose_config, smoke_overrides, without_timing

from hybrid_retrieval.backbones.tiny import build_tiny_bert

pytest.importorskip("sentence_transformers")

TOPICS = ["solar power", "river trade", "chess opening", "bread yeast", "glacier melt", "violin strings"]


def _save_xlmr(out: Path, seed: int = 1) -> str:
    """A tiny random XLM-R (XLMRobertaModel) with the byte-level tokenizer of the tiny BERT."""
    from transformers import AutoTokenizer, XLMRobertaConfig, XLMRobertaModel

    tokenizer = AutoTokenizer.from_pretrained(build_tiny_bert())
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=130,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    XLMRobertaModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


def _save_bert(out: Path, seed: int = 2) -> str:
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(build_tiny_bert())
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


def _save_st(out: Path, transformer_dir: str, pooling: str, dense: int | None, prompts: dict, max_len: int) -> str:
    """A sentence-transformers model folder written by sentence-transformers itself."""
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers >= 6
        from sentence_transformers.base.modules import Dense, Normalize, Transformer
        from sentence_transformers.sentence_transformer.modules import Pooling
    except ImportError:
        from sentence_transformers.models import Dense, Normalize, Pooling, Transformer

    transformer = Transformer(transformer_dir, max_seq_length=max_len)
    dim = 32
    modules = [transformer, Pooling(dim, pooling)]
    if dense:
        torch.manual_seed(3)
        layer = Dense(dim, dense, activation_function=torch.nn.Tanh())
        torch.nn.init.normal_(layer.linear.weight, std=0.3)  # far from identity: a skipped Dense shows
        modules.append(layer)
    modules.append(Normalize())
    SentenceTransformer(modules=modules, prompts=prompts, device="cpu").save(str(out))
    return str(out)


@pytest.fixture(scope="module")
def families(tmp_path_factory) -> dict[str, dict]:
    """Each family the configs name: its directory and the model overrides a plain model needs."""
    root = tmp_path_factory.mktemp("families")
    xlmr, bert = _save_xlmr(root / "xlmr"), _save_bert(root / "bert")
    plain = ["model.pooling=mean", "model.query_prefix='query: '", "model.passage_prefix='passage: '"]
    return {
        "xlmr": {"dir": xlmr, "overrides": plain},
        "bert": {"dir": bert, "overrides": plain},
        "labse": {"dir": _save_st(root / "labse", bert, "cls", 24, {}, 96), "overrides": []},
        "e5": {
            "dir": _save_st(root / "e5", xlmr, "mean", None, {"query": "query: ", "document": "passage: "}, 100),
            "overrides": [],
        },
    }


def _write_beir(folder: Path) -> None:
    docs = [{"_id": f"doc{i}", "title": "", "text": f"{TOPICS[i % 6]} fact {i}"} for i in range(18)]
    queries = [{"_id": f"q{q}", "text": f"{TOPICS[q % 6]} fact?"} for q in range(6)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{q}\tdoc{q}\t1\n" for q in range(6))
    )


def _run(overrides: list[str]) -> dict:
    from hybrid_retrieval.job.run_job import run_job

    return run_job(compose_config(overrides))


def _read_trec(path: Path) -> dict[tuple[str, str], float]:
    out = {}
    for line in path.read_text().splitlines():
        qid, _, doc, _, score, _ = line.split()
        out[(qid.split(":", 1)[-1], doc)] = float(score)
    return out


@pytest.mark.parametrize("family", ["labse", "e5"])
def test_zeroshot_run_scores_are_sentence_transformers_cosines(families, family, data_root, tmp_path):
    from sentence_transformers import SentenceTransformer

    beir = tmp_path / "beir"
    _write_beir(beir)
    model_dir, out = families[family]["dir"], tmp_path / "job"
    _run(
        [
            "experiment=zeroshot",
            "model=sentence_transformers",
            f"model.backbone={model_dir}",
            "eval=beir",
            f"eval.benchmarks.beir.path={beir}",
            "eval.save_runs=true",
            "trainer.precision=32-true",
            f"paths.output_dir={out}",
            f"paths.data_dir={data_root}",
            "data.languages=[de,en,es]",
        ]
    )
    scores = _read_trec(out / "runs" / "beir" / "mono.trec")
    st = SentenceTransformer(model_dir, device="cpu")
    queries = [json.loads(line) for line in (beir / "queries.jsonl").read_text().splitlines()]
    docs = [json.loads(line) for line in (beir / "corpus.jsonl").read_text().splitlines()]
    q = st.encode_query([x["text"] for x in queries])  # the model's query / document prompts, as peers use it
    d = st.encode_document([x["text"] for x in docs])
    cosine = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (d / np.linalg.norm(d, axis=1, keepdims=True)).T
    assert len(scores) == len(queries) * len(docs)  # depth 100 > 18 documents: every pair ranked
    for (qid, doc), score in scores.items():
        assert score == pytest.approx(cosine[int(qid[1:]), int(doc[3:])], abs=1e-4)
    card = json.loads((out / "backbone.json").read_text())
    assert card["published_as"] == "sentence-transformers" and card["revision"].startswith("sha256:")
    assert card["pooling"] == ("cls" if family == "labse" else "mean")
    assert card["dense"] == (["Dense(32->24, Tanh)"] if family == "labse" else [])
    assert card["prompts"] == (
        {"query": "", "passage": ""} if family == "labse" else {"query": "query: ", "passage": "passage: "}
    )
    assert card["max_length"] == ({"query": 96, "passage": 96} if family == "labse" else {"query": 100, "passage": 100})
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["backbone/parameters"] == card["parameters"] > 0


def test_fine_tuned_labse_exports_its_dense_layer_and_reloads_in_sentence_transformers(families, tmp_path):
    from sentence_transformers import SentenceTransformer

    from hybrid_retrieval.model.dual_encoder import DualEncoder

    model = DualEncoder(
        families["labse"]["dir"], lr=1e-2, speed={"fused_adamw": False, "sparse_embeddings": False, "unpad": False}
    )
    assert model.text_format.pooling == "cls" and model.head.dim == 24
    dense_before = model.head.dense[0].linear.weight.detach().clone()
    optimizer = model.make_optimizer()
    texts = [(f"{t} fact?", f"{t} fact {i}") for i, t in enumerate(TOPICS)]
    for _ in range(3):
        batch = _pair_batch(model, texts)
        loss = model.loss_fn(model.embed(**batch["query"]), model.embed(**batch["passage"]), None)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert not torch.allclose(model.head.dense[0].linear.weight, dense_before)  # Dense trains with the backbone
    out = model.save_encoder(tmp_path / "encoder")
    st = SentenceTransformer(str(out), device="cpu")
    assert [type(m).__name__ for m in st] == ["Transformer", "Pooling", "Dense", "Normalize"]
    sentences = [q for q, _ in texts] + ["a longer sentence about violin strings and chess openings"]
    ours = model.text_encoder(batch_size=4).encode(sentences, "query")
    theirs = st.encode(sentences, prompt_name="query")
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    ours_p = model.text_encoder(batch_size=4).encode(sentences, "passage")
    np.testing.assert_allclose(ours_p, st.encode(sentences, prompt_name="document"), atol=1e-5)


def _pair_batch(model, texts):
    tok = model.tokenizer
    fmt = model.text_format

    def enc(strings, n):
        out = tok(strings, truncation=True, max_length=n, padding=True, return_tensors="pt")
        return {"input_ids": out["input_ids"], "attention_mask": out["attention_mask"]}

    return {
        "query": enc([fmt.query_prefix + q for q, _ in texts], fmt.max_query_length),
        "passage": enc([fmt.passage_prefix + p for _, p in texts], fmt.max_passage_length),
    }


@pytest.mark.parametrize("family", ["xlmr", "bert", "labse", "e5"])
def test_family_trains_evaluates_exports_and_the_export_reproduces_the_evaluation(
    families, family, data_root, tmp_path
):
    from sentence_transformers import SentenceTransformer

    spec = families[family]
    base = smoke_overrides(data_root, tmp_path / "train") + ["trainer.max_steps=2", "trainer.precision=32-true"]
    trained = _run(
        base + ["model=sentence_transformers", f"model.backbone={spec['dir']}", "save_encoder=true", *spec["overrides"]]
    )
    assert trained["train/steps"] == 2
    export = tmp_path / "train" / "encoder"
    assert (export / "modules.json").is_file()
    st = SentenceTransformer(str(export), device="cpu")
    names = [type(m).__name__ for m in st]
    assert names == (
        ["Transformer", "Pooling", "Dense", "Normalize"]
        if family == "labse"
        else ["Transformer", "Pooling", "Normalize"]
    )
    again = _run(
        smoke_overrides(data_root, tmp_path / "zeroshot")
        + [
            "trainer.max_steps=0",
            "trainer.precision=32-true",
            "model=sentence_transformers",
            f"model.backbone={export}",
        ]
    )
    drop = ("train/", "backbone/", "data/")
    assert {k: v for k, v in without_timing(again).items() if not k.startswith(drop)} == pytest.approx(
        {k: v for k, v in without_timing(trained).items() if not k.startswith(drop)}, abs=1e-6
    )
    card = json.loads((tmp_path / "train" / "backbone.json").read_text())
    expected_pooling = "cls" if family == "labse" else "mean"
    assert card["pooling"] == expected_pooling and card["parameters"] == sum(p.numel() for p in st.parameters())


def test_model_config_value_overrides_what_the_model_says(families):
    from hybrid_retrieval.model.dual_encoder import DualEncoder

    model = DualEncoder(families["e5"]["dir"], pooling="max", query_prefix="", max_passage_length=16)
    fmt = model.text_format
    assert (fmt.pooling, fmt.query_prefix, fmt.passage_prefix, fmt.max_query_length, fmt.max_passage_length) == (
        "max",
        "",
        "passage: ",
        100,
        16,
    )


def test_a_hub_model_is_read_through_huggingface_hub_with_its_commit(families, tmp_path, monkeypatch):
    """A hub id's modules come through huggingface_hub (here its local cache, offline) and the card's revision is the
    snapshot's commit hash."""
    import shutil

    import huggingface_hub.constants as hub_constants

    from hybrid_retrieval.backbones.st_modules import ModelFiles, read_modules

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--acme--tiny-labse"
    shutil.copytree(families["labse"]["dir"], repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    modules = read_modules("acme/tiny-labse", local_files_only=True)
    assert modules is not None and modules.pooling == "cls" and modules.normalize
    assert [(d.in_features, d.out_features, d.activation.rsplit(".", 1)[-1]) for d in modules.dense] == [
        (32, 24, "Tanh")
    ]
    assert modules.max_seq_length == 96 or modules.max_seq_length is None  # ST >= 6 keeps it in the tokenizer config
    assert ModelFiles("acme/tiny-labse", local_files_only=True).revision() == commit
    assert read_modules(families["bert"]["dir"]) is None  # a plain transformers model: no modules.json
