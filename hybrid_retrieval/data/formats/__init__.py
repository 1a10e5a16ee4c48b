"""Readers for benchmark and training-data file formats (one module per format)."""
