"""Draft source files from raw text, and account for every number (issue 7).

Public API: :func:`extract` (text -> draft source document, DESIGN §3), :func:`to_yaml`,
:func:`number_tokens` and :func:`coverage` (the numbers a document does not account for).
"""

from cdmo_pipeline.extract.extract import coverage, extract, number_tokens, to_yaml

__all__ = ["coverage", "extract", "number_tokens", "to_yaml"]
