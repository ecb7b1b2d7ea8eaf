"""The source file format (DESIGN §3): what a YAML source may contain, as types.

These models check shape and types only: which fields exist and that numbers are written as
strings. What the strings must say (a known scale, a year in range, a literal that parses) is
checked for every input form at once, YAML and bulk tables alike, in ``validate``.
"""

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, model_validator
from pydantic_core import PydanticCustomError

SOURCE_KINDS = ("article", "report", "press_release", "survey")
CLAIM_KINDS = ("trajectory", "share")
CONFIDENCE_LEVELS = ("high", "medium", "low")
# Every published value is normalised to billions of the claim's currency.
SCALES: dict[str, float] = {"thousand": 1e-6, "million": 1e-3, "billion": 1.0, "trillion": 1e3}
SLUG_RE = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
YEAR_RE = r"^(?:[0-9]{4}|current)$"
CURRENCY_RE = r"^[A-Z]{3}$"
YEAR_MIN, YEAR_MAX = 1900, 2100
LOCATOR_MAX_WORDS = 15
MARKETS_FILE = "markets.yaml"

# Columns of the bulk form (``*.claims.csv`` / ``*.claims.parquet``), one trajectory per row.
BULK_COLUMNS = (
    "source_id",
    "source_title",
    "source_publisher",
    "source_published",
    "claim_id",
    "kind",
    "market",
    "parent_market",
    "currency",
    "start_year",
    "start_value",
    "start_scale",
    "start_qualifier",
    "end_year",
    "end_value",
    "end_scale",
    "end_qualifier",
    "cagr",
    "cagr_from",
    "cagr_to",
)


def _number_text(value: Any) -> str:
    """A number as written: a string, or a YAML integer (whose digits are exact)."""
    if isinstance(value, bool):
        raise PydanticCustomError("number_text", "must be a number written as a string, not yes/no")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise PydanticCustomError(
            "unquoted_float",
            "is an unquoted decimal number ({value}); YAML drops its written digits "
            '("9.10" becomes 9.1), so quote it exactly as the source writes it',
            {"value": value},
        )
    if isinstance(value, str):
        return value
    raise PydanticCustomError("number_text", "must be a number written as a string")


def _year_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PydanticCustomError("year_text", 'must be a 4-digit year or "current"')
    return str(value).strip().lower()


def _published_text(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PydanticCustomError("published_text", "must be a year or an ISO date")
    return str(value).strip()


def _markets_by_id(value: Any) -> Any:
    """Markets may be a mapping of id -> declaration or a list of declarations with ``id``."""
    if isinstance(value, list):
        out: dict[Any, Any] = {}
        for i, item in enumerate(value):
            if not isinstance(item, dict) or "id" not in item:
                raise PydanticCustomError("market_id", "item {i} of the markets list has no id", {"i": i + 1})
            body = {k: v for k, v in item.items() if k != "id"}
            out[item["id"]] = body
        return out
    return value


NumberText = Annotated[str, BeforeValidator(_number_text)]
YearText = Annotated[str, BeforeValidator(_year_text)]
PublishedText = Annotated[str, BeforeValidator(_published_text)]


class _Strict(BaseModel):
    # Unknown fields are typos until proven otherwise: refuse them.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)


class LocatorDoc(_Strict):
    # Strict integers: YAML's `yes` is not paragraph 1.
    paragraph: StrictInt | None = Field(None, ge=1, description="paragraph, counting non-empty lines")
    text: str | None = Field(None, description="the few words that state the figure")
    start: StrictInt | None = Field(None, ge=0, description="character offset where the words start")
    end: StrictInt | None = Field(None, ge=0, description="character offset where the words end")
    page: StrictInt | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _span(self) -> "LocatorDoc":
        if self.start is not None and self.end is not None and self.start > self.end:
            raise PydanticCustomError(
                "locator_span", "start ({start}) is after end ({end})", {"start": self.start, "end": self.end}
            )
        return self


class ValueDoc(_Strict):
    year: YearText
    value: NumberText
    scale: str | None = None
    qualifier: str | None = None
    locator: LocatorDoc | None = None
    note: str | None = None


class PeriodDoc(_Strict):
    from_: YearText = Field(alias="from")
    to: YearText


class CagrDoc(_Strict):
    value: NumberText
    qualifier: str | None = None
    period: PeriodDoc | None = None
    locator: LocatorDoc | None = None
    note: str | None = None


class ClaimDoc(_Strict):
    id: str
    kind: str
    market: str | None = None
    currency: str | None = None
    start: ValueDoc | None = None
    end: ValueDoc | None = None
    points: list[ValueDoc] = Field(default_factory=list)
    cagr: CagrDoc | None = None
    # share claims
    value: NumberText | None = None
    qualifier: str | None = None
    population: str | None = None
    year: YearText | None = None
    locator: LocatorDoc | None = None
    note: str | None = None
    confidence: str | None = None


class MarketDoc(_Strict):
    label: str
    parent: str | None = None
    region: str | None = None
    modality: str | None = None
    comparable_to: str | None = Field(None, description="a market defined differently but comparable (reconciliation)")
    note: str | None = None


Markets = Annotated[dict[str, MarketDoc], BeforeValidator(_markets_by_id)]


class SourceMetaDoc(_Strict):
    id: str
    title: str
    publisher: str
    published: PublishedText
    url: str | None = None
    kind: str
    text: str | None = Field(None, description="the source's plain text, relative to this file")
    confidence: str | None = None
    report: str | None = Field(None, description="a report id shared by its successive editions")
    edition: str | None = None
    date_as_printed: str | None = None
    note: str | None = None


class UnassignedDoc(_Strict):
    literal: str
    reason: str
    locator: LocatorDoc | None = None


class SourceDoc(_Strict):
    source: SourceMetaDoc
    claims: list[ClaimDoc] = Field(min_length=1)
    markets: Markets | None = None
    unassigned: list[UnassignedDoc] = Field(default_factory=list)
    ignored: list[UnassignedDoc] = Field(default_factory=list)


class MarketsFileDoc(_Strict):
    markets: Markets


# YAML ---------------------------------------------------------------------------------------


class LineDict(dict):
    """A mapping that remembers the line of each of its keys (1-based), for error messages."""

    lines: dict[Any, int]
    line: int


# libyaml's C parser when present (10x faster); construction stays safe either way.
_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class RejectedTag:
    """A value written with a YAML tag (``!!python/object``...): never constructed, refused."""

    tag: str

    def __str__(self) -> str:
        return f"a value tagged {self.tag}"


@dataclass(frozen=True)
class LoadProblem:
    """Something the YAML says that a plain loader would silently lose (a duplicate key)."""

    mapping: "LineDict"
    key: Any
    line: int
    message: str


class _LineLoader(_SafeBase):  # type: ignore[misc, valid-type]
    """A safe loader that records key lines and duplicate keys (which YAML silently loses)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.problems: list[LoadProblem] = []


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.lines = {}
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:  # a list or mapping as a key
            raise yaml.constructor.ConstructorError(
                None, None, f"a mapping key must be plain text, not a {type(key).__name__}", key_node.start_mark
            )
        if key in out:
            line = key_node.start_mark.line + 1
            loader.problems.append(LoadProblem(out, key, line, f"is written twice (lines {out.lines[key]} and {line})"))
            continue
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# Any tag the safe loader does not know becomes a value validation refuses, with its field.
_LineLoader.add_constructor(None, lambda loader, node: RejectedTag(node.tag))

# YAML 1.1 would silently turn 2025-02-30 into an error, 0173 (octal) into 123 and 4:15
# (base 60) into 255. Only plain decimal integers are integers here, and no scalar is a date:
# everything else stays the string as written, for validation to judge.
_LineLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)


def load_yaml(text: str) -> tuple[Any, list[LoadProblem]]:
    """Parse YAML safely (no object construction), keeping key lines and duplicate keys."""
    loader = _LineLoader(text)
    try:
        return loader.get_single_data(), loader.problems
    finally:
        loader.dispose()


def path_to(doc: Any, target: Any, path: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """The location of the mapping ``target`` inside ``doc`` (by identity)."""
    if doc is target:
        return path
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        found = path_to(value, target, (*path, key))
        if found is not None:
            return found
    return None


def line_of(doc: Any, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest key of ``loc`` that exists in ``doc``."""
    line = None
    node = doc
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            item = node[part]
            if isinstance(item, LineDict):
                line = item.line
            node = item
        else:
            break
    return line


def is_slug(text: str) -> bool:
    return re.fullmatch(SLUG_RE, text) is not None
