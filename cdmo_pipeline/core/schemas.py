"""The published tables (DESIGN §8) as pandera models: columns, types, keys and invariants.

Every table is validated lazily (all failures reported at once) before anything is published.
The ``cagr_checks`` model also carries the CAGR check itself as a *soft* check
(``raise_warning=True``): its failure cases are exactly the inconsistent claims, a finding
about a source rather than a reason to stop publishing.
"""

import copy
import functools
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.dtypes import DataType, immutable
from pandera.engines import pandas_engine
from pandera.errors import SchemaErrors
from pandera.typing import Series

from cdmo_pipeline.core.cagr import VERDICTS
from cdmo_pipeline.core.numbers import QUALIFIERS, overlap_gap
from cdmo_pipeline.core.projections import BASES, SHARE_VERDICTS
from cdmo_pipeline.core.source_format import CLAIM_KINDS, SOURCE_KINDS

NullableInt = pd.Int64Dtype


@immutable(init=True)
class Text(pandas_engine.STRING):
    """Text columns are Arrow strings (vectorised kernels, compact); the projections' repeated
    ids are categoricals (one dictionary, a code per row). Checked by the column's dtype:
    pandera's own string type answers row by row even when the dtype matches, and reports
    the (empty) failures of every column, about 1 ms a column and chunk."""

    storage: Literal["python", "pyarrow"] | None = "pyarrow"

    def check(self, pandera_dtype: DataType, data_container: object = None) -> bool:
        try:
            return pandas_engine.Engine.dtype(pandera_dtype).type == self.type
        except TypeError:
            return False


Category = pd.CategoricalDtype
ROLES = ("start", "point", "end", "cagr", "share")
QUANTITIES = ("cagr", "value")


def _ordered(df: pd.DataFrame, low: str, central: str, high: str) -> pd.Series:
    """low <= central <= high wherever they are present (a tiny float slack)."""
    lo, c, hi = df[low], df[central], df[high]
    slack = 1e-9 * np.maximum(1.0, np.abs(c.fillna(0.0)))
    ok = (lo <= c + slack) & (c <= hi + slack)
    return ok | c.isna()


class _Base(pa.DataFrameModel):
    class Config:
        strict = True  # a column appearing or vanishing is a change of contract
        coerce = False


class SourcesModel(_Base):
    """One row per source file entry (a YAML source, or a source_id of a bulk table)."""

    source_id: Series[Text] = pa.Field(
        unique=True,
        str_matches=r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
        description="Source id (lowercase slug), unique across sources",
    )
    title: Series[Text] = pa.Field(description="Title of the article or report")
    publisher: Series[Text] = pa.Field(description="Who published it")
    published: Series[Text] = pa.Field(description="Publication date as given: a year or an ISO date")
    published_year: Series[int] = pa.Field(ge=1900, le=2100, description="Year of publication; resolves `current`")
    kind: Series[Text] = pa.Field(isin=SOURCE_KINDS, description="article | report | press_release | survey")
    url: Series[Text] = pa.Field(nullable=True, description="Where the source can be read")
    file: Series[Text] = pa.Field(description="Source file, relative to the sources directory")
    sha256: Series[Text] = pa.Field(str_matches=r"^[0-9a-f]{64}$", description="SHA-256 of the source file's bytes")
    format: Series[Text] = pa.Field(isin=("yaml", "table"), description="yaml, or table (bulk CSV/Parquet)")
    n_claims: Series[int] = pa.Field(ge=0, description="Number of claims of the source")
    confidence: Series[Text] = pa.Field(
        nullable=True, isin=("high", "medium", "low"), description="Confidence in the citation (reference sources)"
    )
    report: Series[Text] = pa.Field(nullable=True, description="Report id shared by successive editions")
    edition: Series[Text] = pa.Field(nullable=True, description="Edition of the report")
    date_as_printed: Series[Text] = pa.Field(nullable=True, description="The source's date exactly as printed")
    note: Series[Text] = pa.Field(nullable=True, description="Our note on the source")
    text: Series[Text] = pa.Field(
        nullable=True, description="The source's plain text, relative to its file (coverage check)"
    )


class MarketsModel(_Base):
    """One row per declared market."""

    market_id: Series[Text] = pa.Field(unique=True, description="Market id (lowercase slug)")
    label: Series[Text] = pa.Field(description="Human label (the first declaration's)")
    parent_market_id: Series[Text] = pa.Field(nullable=True, description="The market this one is a segment of")
    region: Series[Text] = pa.Field(nullable=True, description="Region (Global, India, ...)")
    modality: Series[Text] = pa.Field(nullable=True, description="Modality (biologics, small molecules, ...)")
    comparable_to: Series[Text] = pa.Field(nullable=True, description="A market defined differently but comparable")
    relation: Series[Text] = pa.Field(
        nullable=True,
        isin=("segment_of", "comparable_to"),
        description="How this market relates to another: segment_of (parent) or comparable_to",
    )
    related_market_id: Series[Text] = pa.Field(nullable=True, description="The market named by `relation`")
    declared_in: Series[Text] = pa.Field(description="File of the first declaration")


class ClaimsModel(_Base):
    """One row per claim: a trajectory of values and a CAGR, or a share."""

    claim_id: Series[Text] = pa.Field(unique=True, description="<source_id>/<claim id>, unique across sources")
    source_id: Series[Text] = pa.Field(description="Source of the claim")
    local_id: Series[Text] = pa.Field(description="Claim id within its source")
    market_id: Series[Text] = pa.Field(nullable=True, description="Market the claim is about")
    kind: Series[Text] = pa.Field(isin=CLAIM_KINDS, description="trajectory | share")
    currency: Series[Text] = pa.Field(
        nullable=True, description="Currency of its values (values are in billions of it)"
    )
    start_year: Series[NullableInt] = pa.Field(
        nullable=True, description="First year the claim states a value for (reading chosen by the check)"
    )
    end_year: Series[NullableInt] = pa.Field(nullable=True, description="Last year the claim states a value for")
    n_values: Series[int] = pa.Field(ge=0, description="Number of values stated")
    stated_cagr_literal: Series[Text] = pa.Field(nullable=True, description="The CAGR exactly as written (percent)")
    cagr_from: Series[NullableInt] = pa.Field(nullable=True, description="Stated start year of the CAGR's period")
    cagr_to: Series[NullableInt] = pa.Field(nullable=True, description="Stated end year of the CAGR's period")
    reading: Series[Text] = pa.Field(
        nullable=True, description="Reading of `current` used: current=YYYY, or as_written"
    )
    population: Series[Text] = pa.Field(nullable=True, description="Who a share is of (share claims)")
    confidence: Series[Text] = pa.Field(nullable=True, description="Confidence flag carried from the source")
    note: Series[Text] = pa.Field(nullable=True, description="Our note on the claim")
    file: Series[Text] = pa.Field(description="Source file")
    line: Series[NullableInt] = pa.Field(
        nullable=True, description="Line (YAML) or row (table) of the claim in its file"
    )
    paragraph: Series[NullableInt] = pa.Field(nullable=True, description="Paragraph of the source stating it")


class FiguresModel(_Base):
    """One row per number as written."""

    source_id: Series[Text] = pa.Field(description="Source")
    claim_id: Series[Text] = pa.Field(description="Claim the number belongs to")
    role: Series[Text] = pa.Field(isin=ROLES, description="start | point | end | cagr | share")
    idx: Series[int] = pa.Field(ge=0, description="Position among the claim's points")
    literal: Series[Text] = pa.Field(description="The number exactly as written")
    qualifier: Series[Text] = pa.Field(
        nullable=True, isin=QUALIFIERS, description="Qualifier as written (over, nearly, about, ...)"
    )
    decimals: Series[int] = pa.Field(ge=0, description="Decimals written (the precision)")
    value: Series[float] = pa.Field(description="Central value: as written, a range's midpoint (billions, or percent)")
    low: Series[float] = pa.Field(description="Low end of the interval the literal stands for")
    high: Series[float] = pa.Field(description="High end of the interval")
    low_open: Series[bool] = pa.Field(description="Low end excluded (over, more than, above)")
    high_open: Series[bool] = pa.Field(description="High end excluded (nearly, almost, under, less than)")
    is_range: Series[bool] = pa.Field(description="Written as a range a-b")
    hedge: Series[bool] = pa.Field(description="Hedged (about, around, approximately, roughly)")
    unit: Series[Text] = pa.Field(description="'<currency> bn' for money, '%' for rates and shares")
    scale: Series[Text] = pa.Field(nullable=True, description="Scale as written (thousand .. trillion)")
    year: Series[NullableInt] = pa.Field(
        nullable=True, description="Year, with `current` resolved by the chosen reading"
    )
    year_as_written: Series[Text] = pa.Field(nullable=True, description="Year as written (a year, or current)")
    period_from: Series[NullableInt] = pa.Field(nullable=True, description="CAGR period start (cagr rows)")
    period_to: Series[NullableInt] = pa.Field(nullable=True, description="CAGR period end (cagr rows)")
    paragraph: Series[NullableInt] = pa.Field(nullable=True, description="Paragraph of the source")
    locator_text: Series[Text] = pa.Field(nullable=True, description="The few words stating the figure")
    file: Series[Text] = pa.Field(description="Source file")
    line: Series[NullableInt] = pa.Field(nullable=True, description="Line (YAML) or row (table) in the file")

    class Config:
        unique = ["claim_id", "role", "idx"]

    @pa.dataframe_check(name="low_le_value_le_high")
    def _ordered(cls, df: pd.DataFrame) -> pd.Series:
        return _ordered(df, "low", "value", "high")


class CagrChecksModel(_Base):
    """One row per trajectory claim with a stated CAGR or two values."""

    claim_id: Series[Text] = pa.Field(unique=True, description="Claim checked")
    source_id: Series[Text] = pa.Field(description="Source")
    market_id: Series[Text] = pa.Field(nullable=True, description="Market")
    start_year: Series[NullableInt] = pa.Field(nullable=True, description="First year checked")
    end_year: Series[NullableInt] = pa.Field(nullable=True, description="Last year checked")
    n_years: Series[NullableInt] = pa.Field(nullable=True, ge=1, description="Years compounded, end_year - start_year")
    period_basis: Series[Text] = pa.Field(
        nullable=True, description="stated_period | first_and_last_values | assumed_from_publication"
    )
    stated_cagr_literal: Series[Text] = pa.Field(nullable=True, description="Stated CAGR as written (percent)")
    stated_qualifier: Series[Text] = pa.Field(nullable=True, description="Its qualifier")
    stated_cagr: Series[float] = pa.Field(nullable=True, description="Stated CAGR, percent")
    stated_low: Series[float] = pa.Field(nullable=True, description="Low end of the stated CAGR's interval, percent")
    stated_high: Series[float] = pa.Field(nullable=True, description="High end of the stated CAGR's interval, percent")
    stated_low_open: Series[bool] = pa.Field(description="Stated low end excluded")
    stated_high_open: Series[bool] = pa.Field(description="Stated high end excluded")
    start_value: Series[float] = pa.Field(nullable=True, description="Value at start_year (billions)")
    end_value: Series[float] = pa.Field(nullable=True, description="Value at end_year (billions)")
    implied_cagr: Series[float] = pa.Field(nullable=True, description="(E/S)^(1/n) - 1, percent")
    implied_low: Series[float] = pa.Field(nullable=True, description="(E_lo/S_hi)^(1/n) - 1, percent")
    implied_high: Series[float] = pa.Field(nullable=True, description="(E_hi/S_lo)^(1/n) - 1, percent")
    implied_low_open: Series[bool] = pa.Field(description="Implied low end excluded")
    implied_high_open: Series[bool] = pa.Field(description="Implied high end excluded")
    verdict: Series[Text] = pa.Field(isin=VERDICTS, description="consistent | inconsistent | unverifiable")
    reading: Series[Text] = pa.Field(description="current=YYYY (the reading that holds) or as_written")
    gap_pp: Series[float] = pa.Field(
        nullable=True, ge=0, description="Distance between the intervals, percentage points (inconsistent only)"
    )
    hint: Series[Text] = pa.Field(nullable=True, description="A common slip that would explain an inconsistency")
    assumption: Series[Text] = pa.Field(
        nullable=True, description="What the row rests on when the source leaves something out"
    )

    @pa.dataframe_check(name="implied_within_interval")
    def _implied_ordered(cls, df: pd.DataFrame) -> pd.Series:
        return _ordered(df, "implied_low", "implied_cagr", "implied_high")

    @pa.dataframe_check(name="gap_only_when_inconsistent")
    def _gap(cls, df: pd.DataFrame) -> pd.Series:
        return df["gap_pp"].notna() == (df["verdict"] == "inconsistent")

    @pa.dataframe_check(name="stated_cagr_matches_endpoints", raise_warning=True)
    def _matches(cls, df: pd.DataFrame) -> pd.Series:
        """The stated CAGR's interval meets the interval the endpoints imply (soft: a finding)."""
        overlaps, _ = overlap_gap(
            df["stated_low"].to_numpy(float),
            df["stated_high"].to_numpy(float),
            df["stated_low_open"].to_numpy(bool),
            df["stated_high_open"].to_numpy(bool),
            df["implied_low"].to_numpy(float),
            df["implied_high"].to_numpy(float),
            df["implied_low_open"].to_numpy(bool),
            df["implied_high_open"].to_numpy(bool),
        )
        checkable = df["stated_low"].notna() & df["implied_low"].notna()
        return pd.Series(overlaps, index=df.index) | ~checkable


class ImpliedFiguresModel(_Base):
    """One row per derived quantity (and per reading of `current`)."""

    claim_id: Series[Text] = pa.Field(description="Claim the figure is derived from")
    source_id: Series[Text] = pa.Field(description="Source")
    market_id: Series[Text] = pa.Field(nullable=True, description="Market")
    quantity: Series[Text] = pa.Field(isin=QUANTITIES, description="cagr | value")
    year: Series[int] = pa.Field(description="Year of the value (the period's end for a CAGR)")
    from_year: Series[int] = pa.Field(description="Period start")
    to_year: Series[int] = pa.Field(description="Period end")
    central: Series[float] = pa.Field(description="Central estimate")
    low: Series[float] = pa.Field(description="Low end")
    high: Series[float] = pa.Field(description="High end")
    unit: Series[Text] = pa.Field(description="'%' or '<currency> bn'")
    method: Series[Text] = pa.Field(description="How it was derived")
    reading: Series[Text] = pa.Field(description="Reading of `current` it rests on")
    assumption: Series[Text] = pa.Field(nullable=True, description="What it rests on when the source is silent")

    class Config:
        unique = ["claim_id", "quantity", "year", "reading"]

    @pa.dataframe_check(name="low_le_central_le_high")
    def _ordered(cls, df: pd.DataFrame) -> pd.Series:
        return _ordered(df, "low", "central", "high")


class ProjectionsModel(_Base):
    """One row per claim, year and basis."""

    claim_id: Series[Category] = pa.Field(description="Claim projected")
    source_id: Series[Category] = pa.Field(description="Source")
    market_id: Series[Category] = pa.Field(nullable=True, description="Market")
    year: Series[int] = pa.Field(ge=1900, le=2200, description="Year")
    basis: Series[Category] = pa.Field(isin=BASES, description="endpoints | stated_cagr")
    central: Series[float] = pa.Field(gt=0, description="Central path (billions)")
    low: Series[float] = pa.Field(gt=0, description="Low band (billions)")
    high: Series[float] = pa.Field(gt=0, description="High band (billions)")
    is_stated_year: Series[bool] = pa.Field(description="The source states a value for this year")
    is_extrapolated: Series[bool] = pa.Field(description="Beyond the claim's own years (CDMO_PROJECTION_HORIZON)")
    currency: Series[Category] = pa.Field(nullable=True, description="Currency")
    reading: Series[Category] = pa.Field(nullable=True, description="Reading of `current` used")

    class Config:
        unique = ["claim_id", "basis", "year"]

    @pa.dataframe_check(name="low_le_central_le_high")
    def _ordered(cls, df: pd.DataFrame) -> pd.Series:
        return _ordered(df, "low", "central", "high")


class SegmentSharesModel(_Base):
    """One row per segment, source, currency and year: the segment over its parent in the same currency."""

    market_id: Series[Text] = pa.Field(description="Segment market")
    parent_market_id: Series[Text] = pa.Field(description="Its parent market")
    source_id: Series[Text] = pa.Field(description="Source stating both")
    currency: Series[Text] = pa.Field(
        nullable=True, description="Currency of both paths (a share compares like with like)"
    )
    year: Series[int] = pa.Field(description="Year")
    share_central: Series[float] = pa.Field(ge=0, description="Segment / parent, percent")
    share_low: Series[float] = pa.Field(ge=0, description="Low end, percent")
    share_high: Series[float] = pa.Field(ge=0, description="High end, percent")
    verdict: Series[Text] = pa.Field(
        isin=SHARE_VERDICTS, description="plausible | segment_may_exceed_parent | segment_exceeds_parent"
    )
    segment_claim_id: Series[Text] = pa.Field(description="Claim giving the segment's path")
    parent_claim_id: Series[Text] = pa.Field(description="Claim giving the parent's path")
    segment_basis: Series[Text] = pa.Field(isin=BASES, description="Basis of the segment's path")
    parent_basis: Series[Text] = pa.Field(isin=BASES, description="Basis of the parent's path")
    is_extrapolated: Series[bool] = pa.Field(description="Either path extrapolated")

    class Config:
        unique = ["market_id", "source_id", "currency", "year"]

    @pa.dataframe_check(name="low_le_central_le_high")
    def _ordered(cls, df: pd.DataFrame) -> pd.Series:
        return _ordered(df, "share_low", "share_central", "share_high")

    @pa.dataframe_check(name="shares_within_0_100_unless_flagged")
    def _bounded(cls, df: pd.DataFrame) -> pd.Series:
        return (df["share_high"] <= 100.0) | (df["verdict"] != "plausible")


class CrossSourceModel(_Base):
    """One row per comparable market, year, basis and source figure (groups of two sources or more)."""

    market_id: Series[Text] = pa.Field(
        description="Market compared (a source's own market, or the one it is comparable to)"
    )
    currency: Series[Text] = pa.Field(nullable=True, description="Currency")
    year: Series[int] = pa.Field(description="Year")
    basis: Series[Text] = pa.Field(
        isin=("stated", "projected"), description="stated (figures as written) or projected (each source's path)"
    )
    source_id: Series[Text] = pa.Field(description="Source")
    claim_id: Series[Text] = pa.Field(description="Claim")
    source_market_id: Series[Text] = pa.Field(description="The market as the source defines it")
    publisher: Series[Text] = pa.Field(nullable=True, description="Publisher")
    kind: Series[Text] = pa.Field(nullable=True, description="Source kind")
    is_publisher: Series[bool] = pa.Field(description="A market-research publisher (report or press release)")
    superseded: Series[bool] = pa.Field(description="An older edition of a report that has a later one")
    same_definition: Series[bool] = pa.Field(description="The source defines the market as the group does")
    counted: Series[bool] = pa.Field(description="Counted in the range: same definition, latest edition")
    confidence: Series[Text] = pa.Field(nullable=True, description="Confidence flag of the source")
    value: Series[float] = pa.Field(gt=0, description="The source's figure (billions)")
    low: Series[float] = pa.Field(gt=0, description="Low end of its interval")
    high: Series[float] = pa.Field(gt=0, description="High end of its interval")
    n_sources: Series[int] = pa.Field(ge=2, description="Sources counted in the range")
    min: Series[float] = pa.Field(description="Lowest counted figure")
    median: Series[float] = pa.Field(description="Median counted figure")
    max: Series[float] = pa.Field(description="Highest counted figure")
    spread_pct: Series[float] = pa.Field(ge=0, description="(max - min) / median, percent")
    deviation_pct: Series[float] = pa.Field(description="This figure's deviation from the median, percent")

    class Config:
        unique = ["market_id", "year", "basis", "claim_id"]

    @pa.dataframe_check(name="min_le_median_le_max")
    def _ordered(cls, df: pd.DataFrame) -> pd.Series:
        return _ordered(df, "min", "median", "max")


class ClaimOriginsModel(_Base):
    """One row per article claim and published claim reproducing some of its figures."""

    claim_id: Series[Text] = pa.Field(description="The article's claim")
    source_id: Series[Text] = pa.Field(description="The article")
    market_id: Series[Text] = pa.Field(nullable=True, description="Market")
    rank: Series[int] = pa.Field(ge=1, description="1 = explains most of the claim")
    matched_claim_id: Series[Text] = pa.Field(description="Published claim reproducing figures of it")
    matched_source_id: Series[Text] = pa.Field(description="Its source")
    matched_publisher: Series[Text] = pa.Field(nullable=True, description="Its publisher")
    parts_matched: Series[Text] = pa.Field(description="The claim's figures it reproduces within rounding")
    n_parts_matched: Series[int] = pa.Field(ge=1, description="How many")
    n_parts: Series[int] = pa.Field(ge=1, description="Figures of the claim")
    score: Series[float] = pa.Field(gt=0, le=1, description="Share of the claim explained")
    explanation: Series[Text] = pa.Field(description="What it reproduces, and where its own path differs")
    combines: Series[bool] = pa.Field(description="The claim's parts are best explained by several sources")
    summary: Series[Text] = pa.Field(description="Traced to one source, or the combination")

    class Config:
        unique = ["claim_id", "matched_claim_id"]


MODELS: dict[str, type[_Base]] = {
    "sources": SourcesModel,
    "markets": MarketsModel,
    "claims": ClaimsModel,
    "figures": FiguresModel,
    "cagr_checks": CagrChecksModel,
    "implied_figures": ImpliedFiguresModel,
    "projections": ProjectionsModel,
    "segment_shares": SegmentSharesModel,
    "cross_source": CrossSourceModel,
    "claim_origins": ClaimOriginsModel,
}


@functools.cache
def hard_schema(name: str) -> pa.DataFrameSchema:
    """A table's schema without its soft checks (those are read by :func:`soft_failures`)."""
    schema = copy.deepcopy(MODELS[name].to_schema())
    schema.checks = [c for c in schema.checks if not c.raise_warning]
    return schema


def validate_table(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Validate one table lazily; raise ``SchemaErrors`` with every failure case."""
    return hard_schema(name).validate(df, lazy=True)


def schema_failures(name: str, df: pd.DataFrame) -> pd.DataFrame | None:
    """Failure cases of a table's hard checks, or None when it is valid."""
    try:
        validate_table(name, df)
    except SchemaErrors as exc:
        return exc.failure_cases
    return None


def soft_failures(name: str, df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Rows failing each soft (warning) check of a table: ``{check name: failing rows}``."""
    out = {}
    for check in MODELS[name].to_schema().checks:
        if check.raise_warning:
            result = check(df)
            passed = result.check_output
            out[check.name] = df.loc[~passed.to_numpy(bool)]
    return out


def column_descriptions(name: str) -> dict[str, str]:
    """Column -> description, for the UI's column schema."""
    schema = MODELS[name].to_schema()
    return {col: (c.description or "") for col, c in schema.columns.items()}


def column_types(name: str) -> dict[str, str]:
    schema = MODELS[name].to_schema()
    return {col: str(c.dtype) for col, c in schema.columns.items()}


def markdown_reference() -> str:
    """The published tables and their columns as Markdown (docs/TABLES.md is this text)."""
    lines = [
        "# Published tables",
        "",
        "Generated from the pandera models in `cdmo_pipeline/core/schemas.py` (`make docs`);",
        "a test fails when this page and the models disagree. Percentages are percent (9.0 means",
        "9 %); values are in billions of the claim's currency; `claim_id` is `<source_id>/<claim id>`.",
        "",
    ]
    for name, model in MODELS.items():
        schema = model.to_schema()
        lines += [f"## `{name}`", "", (model.__doc__ or "").strip(), ""]
        unique = schema.unique
        if unique:
            lines += [f"Key: {', '.join(f'`{c}`' for c in ([unique] if isinstance(unique, str) else unique))}.", ""]
        lines += ["| column | type | null | description |", "|---|---|---|---|"]
        for col, c in schema.columns.items():
            kind = {"string[pyarrow]": "text", "category": "text", "int64": "integer", "Int64": "integer"}
            kind |= {"float64": "double", "bool": "boolean"}
            nullable = "yes" if c.nullable else ""
            description = (c.description or "").replace("|", "\\|")
            lines.append(f"| `{col}` | {kind.get(str(c.dtype), str(c.dtype))} | {nullable} | {description} |")
        checks = [ch.name for ch in schema.checks]
        if checks:
            lines += ["", "Checks: " + ", ".join(f"`{ch}`" for ch in checks) + "."]
        lines.append("")
    from cdmo_pipeline.core.views import VIEWS  # views read the tables above

    lines += ["## Views", "", "| view | what it shows |", "|---|---|"]
    lines += [f"| `{v.name}` | {v.description} |" for v in VIEWS]
    lines += [
        "",
        "## Refresh records",
        "",
        "`refreshes` holds one row per publish (`refresh_id`, `published_at`, `run_id`, `n_sources`,",
        "`sources_fingerprint`, `source_files` as JSON of file to SHA-256, `row_counts` as JSON);",
        "`refresh_tables` one row per publish and table (`n_rows`, `content_hash`).",
        "",
    ]
    return "\n".join(lines)
