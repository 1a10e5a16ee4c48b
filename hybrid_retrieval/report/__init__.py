"""Sweep reports: ``python -m hybrid_retrieval.report <multirun dir>`` (see docs/sweeps.md).

collect (job dirs -> table), aggregate (mean ± std over seeds), significance
(paired randomisation tests, Holm), plots, build (writes the files), cli.
"""
