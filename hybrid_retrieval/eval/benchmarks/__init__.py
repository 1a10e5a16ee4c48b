"""Benchmarks: each turns files into queries, candidates and relevance for evaluation."""
