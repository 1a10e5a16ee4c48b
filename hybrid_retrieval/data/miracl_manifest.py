"""Pinned MIRACL v1.0 corpus: the hub revision, and what the evaluation plan needs to know offline.

Pure data.  The passage counts are the published ones (MIRACL's corpus table, github.com/project-miracl/miracl
and the TACL paper, Table 1; de and yo from the same paper); the query counts are the lines of the pinned
topics files (:mod:`hybrid_retrieval.data.miracl_checksums`), which agree with that table.

The shards of a language (``miracl-corpus-v1.0-<lang>/docs-<n>.jsonl.gz``), their sizes and sha256 are
**not** listed here: they could not be read offline when this was written, and none are made up.  A
download reads them from the hub's own LFS metadata for the pinned revision
(``GET <endpoint>/api/datasets/miracl/miracl-corpus/tree/<revision>/<folder>``: each file's ``size`` and
``lfs.oid``, the sha256 of its content) and verifies every shard against them
(:mod:`hybrid_retrieval.data.miracl_corpus`).
"""

HUB_REPO = "miracl/miracl-corpus"
# the commit of miracl/miracl-corpus on the hub that every download reads (its files never change under it)
REVISION = "d921ec7e349ce0d28daf30b2da9da5ee698bef0d"
HUB_ENDPOINT = "https://huggingface.co"  # $HF_ENDPOINT or eval.benchmarks.miracl.hub_endpoint override it

PASSAGES = {
    "ar": 2_061_414,
    "bn": 297_265,
    "de": 15_866_222,
    "en": 32_893_221,
    "es": 10_373_953,
    "fa": 2_207_172,
    "fi": 1_883_509,
    "fr": 14_636_953,
    "hi": 506_264,
    "id": 1_446_315,
    "ja": 6_953_614,
    "ko": 1_486_752,
    "ru": 9_543_918,
    "sw": 131_924,
    "te": 518_079,
    "th": 542_166,
    "yo": 49_043,
    "zh": 4_934_368,
}

QUERIES = {
    "dev": {
        "ar": 2896,
        "bn": 411,
        "de": 305,
        "en": 799,
        "es": 648,
        "fa": 632,
        "fi": 1271,
        "fr": 343,
        "hi": 350,
        "id": 960,
        "ja": 860,
        "ko": 213,
        "ru": 1252,
        "sw": 482,
        "te": 828,
        "th": 733,
        "yo": 119,
        "zh": 393,
    },
    "train": {
        "ar": 3495,
        "bn": 1631,
        "en": 2863,
        "es": 2162,
        "fa": 2107,
        "fi": 2897,
        "fr": 1143,
        "hi": 1169,
        "id": 4071,
        "ja": 3477,
        "ko": 868,
        "ru": 4683,
        "sw": 1901,
        "te": 3452,
        "th": 2972,
        "zh": 1312,
    },
}
