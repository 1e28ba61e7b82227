"""Benchmarks of the knowledge base: ingest throughput, search latency, retrieval quality.

Run one with ``python -m bench.<name>`` or all with ``python -m bench``; see ``bench/README.md``.
"""
