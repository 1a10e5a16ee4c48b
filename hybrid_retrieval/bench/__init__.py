"""Measuring: what an encoder's work costs (tokens, FLOPs), what this machine computes, and running
contenders against each other.  The library of the scripts in ``perf/``; it imports only the base layer."""
