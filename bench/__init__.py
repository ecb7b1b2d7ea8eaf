"""Benchmarks of cdmo-pipeline against their floors (``python -m bench``; see BENCHMARKS.md)."""
