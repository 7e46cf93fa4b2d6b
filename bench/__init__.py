"""Benchmarks against peer implementations, measured side by side in one run.

Each module ``bench/bench_*.py`` has a ``main()`` that prints its figures and the ratio
ours/peer. ``python -m bench`` runs them all; ``python -m bench.bench_NAME`` runs one.
"""
