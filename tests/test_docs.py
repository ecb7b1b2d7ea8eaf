"""Documentation that is generated stays true to the code."""

from cdmo_pipeline.core.schemas import markdown_reference
from tests.conftest import ROOT


def test_table_reference_matches_the_models() -> None:
    assert (ROOT / "docs" / "TABLES.md").read_text() == markdown_reference(), "run `make docs`"
