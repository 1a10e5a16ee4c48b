"""Code-switching: words, lexicons (MUSE files; induced with eflomal from MLQA-R's own parallel text), switch rate."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hybrid_retrieval.data.code_switch import CodeSwitched, code_switch
from hybrid_retrieval.data.corpus import ParallelCorpus
from hybrid_retrieval.data.download import resolve_root
from hybrid_retrieval.data.lexicon import InducedLexicon, Lexicon, MuseLexicon
from hybrid_retrieval.data.words import words

REAL = resolve_root(None)
needs_real = pytest.mark.skipif(
    not (REAL / "mlqa-r" / "en.json").is_file(), reason="real MLQA-R not under the data root"
)

# common words written down by hand (not taken from any lexicon): English -> German, English -> Spanish
GOLD = {
    "de": {
        "what": "was",
        "who": "wer",
        "when": "wann",
        "where": "wo",
        "which": "welche",
        "how": "wie",
        "many": "viele",
        "year": "jahr",
        "city": "stadt",
        "people": "menschen",
        "first": "erste",
        "country": "land",
        "war": "krieg",
        "time": "zeit",
        "king": "könig",
        "born": "geboren",
        "the": "die",
        "is": "ist",
        "was": "war",
        "and": "und",
        "in": "in",
        "of": "der",
        "name": "name",
        "world": "welt",
        "two": "zwei",
        "new": "neue",
        "school": "schule",
        "church": "kirche",
        "water": "wasser",
        "largest": "größte",
        "family": "familie",
        "music": "musik",
        "university": "universität",
    },
    "es": {
        "what": "qué",
        "who": "quién",
        "when": "cuándo",
        "where": "dónde",
        "which": "qué",
        "how": "cómo",
        "many": "cuántos",
        "year": "año",
        "city": "ciudad",
        "people": "personas",
        "first": "primer",
        "country": "país",
        "war": "guerra",
        "time": "tiempo",
        "king": "rey",
        "born": "nació",
        "the": "el",
        "is": "es",
        "was": "fue",
        "and": "y",
        "in": "en",
        "of": "de",
        "name": "nombre",
        "world": "mundial",
        "two": "dos",
        "new": "nuevo",
        "school": "escuela",
        "church": "iglesia",
        "water": "agua",
        "largest": "más",
        "family": "familia",
        "music": "música",
        "university": "universidad",
    },
}


def test_words_of_scripts_with_and_without_spaces():
    assert words("Wer war der 1. Präsident?") == ["wer", "war", "der", "1", "präsident"]
    assert words("美国总统是谁？") == ["美", "国", "总", "统", "是", "谁"]  # Han: a character per word
    assert words("भारत के प्रधानमंत्री") == ["भारत", "के", "प्रधानमंत्री"]  # vowel signs stay inside the word
    assert words("ประเทศไทย is") == ["ประเทศไทย", "is"]  # Thai: one unsegmented run


def test_muse_file_and_switching(tmp_path):
    (tmp_path / "en-de.txt").write_text("river Fluss\nriver Strom\nold alt\n", encoding="utf-8")
    lexicon = MuseLexicon({"en-de": str(tmp_path / "en-de.txt")}).load()
    assert lexicon.translate("River", "en", "de") == "Fluss"  # casefolded look-up, first translation wins
    assert lexicon.targets("en") == ["de"]
    out = code_switch("The old river.", "en", "de", lexicon, 1.0, np.random.default_rng(0))
    assert (out.text, out.replaced, out.translatable, out.words) == ("The alt Fluss.", 2, 2, 3)
    zh = Lexicon({("zh", "en"): {"河": "river"}})
    assert code_switch("这条河很长", "zh", "en", zh, 1.0, np.random.default_rng(0)).text == "这条 river 很长"
    with pytest.raises(FileNotFoundError, match="lexicon file"):
        MuseLexicon({"en-de": str(tmp_path / "missing.txt")}).load()
    with pytest.raises(ValueError, match="must read '<source lang>-<target lang>'"):
        MuseLexicon({"ende": "x"})


@pytest.fixture(scope="module")
def mlqa():
    return ParallelCorpus.from_lareqa("mlqa-r", ["de", "en", "es"], REAL)


@pytest.fixture(scope="module")
def induced(mlqa, tmp_path_factory):
    source = InducedLexicon(cache_dir=str(tmp_path_factory.mktemp("lexicons")))
    t0 = time.perf_counter()
    lexicon = source.load(mlqa)
    return lexicon, time.perf_counter() - t0, source


@needs_real
@pytest.mark.parametrize("tgt", ["de", "es"])
def test_induced_lexicon_translates_common_words(induced, tgt):
    lexicon, seconds, _ = induced
    gold = GOLD[tgt]
    assert len(gold) >= 30
    hits = sum(lexicon.translate(w, "en", tgt) == t for w, t in gold.items())  # a missing entry counts as wrong
    precision = hits / len(gold)
    print(f"en-{tgt}: precision@1 {precision:.2f} on {len(gold)} pairs; induction of 3 pairs took {seconds:.1f} s")
    assert precision >= 0.6


@needs_real
def test_induced_lexicon_is_cached_and_shared(mlqa, induced):
    lexicon, _, source = induced
    again = InducedLexicon(cache_dir=source.cache_dir)
    assert again.load(mlqa).entries == lexicon.entries
    assert again.seconds == 0.0  # read from the cache, not induced again


@needs_real
@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8])
def test_code_switched_queries_replace_the_asked_share_of_words(mlqa, induced, rate):
    lexicon, _, _ = induced

    class Ready:
        def load(self, corpus):
            return lexicon

    kind = CodeSwitched(1.0, rate=rate, lexicon=Ready())
    kind.prepare(mlqa)
    replaced = translatable = changed = 0
    for item in range(len(mlqa)):
        for lang in np.flatnonzero(mlqa.available[item]):
            row = {"query": mlqa.example(item, lang).query, "positive": "p", "negatives": [], "query_lang": int(lang)}
            rng = np.random.default_rng([item, int(lang)])
            out = kind.transform(dict(row), np.random.default_rng([item, int(lang)]))
            src = mlqa.languages[lang]
            tgt = [t for t in lexicon.targets(src) if t != src][int(rng.integers(2))]  # the same draws as transform
            switched = code_switch(row["query"], src, tgt, lexicon, rate, rng)
            assert out["query"] == switched.text
            replaced, translatable = replaced + switched.replaced, translatable + switched.translatable
            changed += out["query"] != row["query"]
    assert translatable > 2000
    assert abs(replaced / translatable - rate) <= 0.05  # share of (translatable) words replaced
    assert changed > 0
