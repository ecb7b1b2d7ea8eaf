"""The text_coverage check (issue 7, item 3): every number of a source's named text is in a
claim, in `unassigned` or in `ignored`; the check fails listing the ones that are not."""

from pathlib import Path

import pandas as pd

from cdmo_pipeline.core.tables import load_corpus
from cdmo_pipeline.defs.checks import coverage_result
from cdmo_pipeline.textcoverage import uncovered_numbers

TEXT = (
    "Widget CDMO outlook\n"
    "The widget CDMO market was USD 5.2 billion in 2024 and should reach USD 9.8 billion by 2030.\n"
    "Page 7\n"
)
SOURCE = """\
source:
  id: widget-2025
  title: Widget outlook
  publisher: Example
  published: "2025"
  kind: article
  text: {text}
markets:
  widget-cdmo: {{label: Widget CDMO market}}
claims:
  - id: widget
    kind: trajectory
    market: widget-cdmo
    currency: USD
    start: {{year: "2024", value: "5.2", scale: billion}}
{end}    locator: {{paragraph: 2}}
ignored:
  - {{literal: "Page 7", reason: page number, locator: {{paragraph: 3, text: "Page 7"}}}}
"""
END = '    end: {year: "2030", value: "9.8", scale: billion}\n'


def _uncovered(tmp_path: Path, *, end: str = END, text: str = "widget.txt") -> pd.DataFrame:
    sources = tmp_path / "sources"
    sources.mkdir(exist_ok=True)
    (sources / "widget.txt").write_text(TEXT, encoding="utf-8")
    (sources / "widget.yaml").write_text(SOURCE.format(text=text, end=end), encoding="utf-8")
    return uncovered_numbers(sources, load_corpus(sources).sources)


# must not flag


def test_every_number_accounted_for_passes(tmp_path: Path) -> None:
    uncovered = _uncovered(tmp_path)
    assert uncovered.empty, uncovered
    result = coverage_result(uncovered, 1)
    assert result.passed
    assert result.metadata["texts_checked"].value == 1


# must flag


def test_a_number_left_out_is_listed(tmp_path: Path) -> None:
    uncovered = _uncovered(tmp_path, end="")
    # The end value and its year are in no claim, unassigned or ignored entry.
    assert sorted(uncovered["literal"]) == ["2030", "9.8"]
    assert set(uncovered["problem"]) == {"not in a claim, unassigned or ignored"}
    assert TEXT[int(uncovered["start"].min()) :].startswith("9.8")
    result = coverage_result(uncovered, 1)
    assert not result.passed
    assert result.description == "2 number(s) of the sources' texts are not accounted for."
    assert "9.8" in result.metadata["numbers"].value


def test_an_unreadable_text_says_so(tmp_path: Path) -> None:
    uncovered = _uncovered(tmp_path, text="missing.txt")
    assert list(uncovered["problem"].str.startswith("cannot read the text")) == [True]
    result = coverage_result(uncovered, 1)
    assert not result.passed
    assert result.description == "1 text file(s) cannot be read (missing.txt)."
