"""Mining hard negatives for the training corpus: ``python -m hybrid_retrieval.mine`` (docs/recipes.md).

For each training query and each language L the corpus has it in, the passages of L that a retriever
(BM25, or any backbone through the evaluation's own encoder and FAISS search) ranks highest without
being the query's answer, after skipping the first ``skip`` ranks, sampled from a rank window.  The
result is a JSON-lines file (format: :mod:`hybrid_retrieval.data.hard_negatives`) that training reads
with ``data.hard_negatives.source=file``.  Layer: beside ``job/`` (it composes the project config,
builds a backbone through the model and searches through the evaluation).
"""
