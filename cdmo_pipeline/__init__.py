"""cdmo-pipeline: figures from market-research sources as an audited, queryable dataset."""

__version__ = "0.1.0"
