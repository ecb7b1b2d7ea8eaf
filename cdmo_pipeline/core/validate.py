"""Validate: what the strings must say, for every input form at once (DESIGN §3).

Each rule is a vectorised mask over a whole frame; every row it selects becomes an issue naming
the file, the claim and the field (messages are written only for the rows that break a rule).
All rules run before anything fails, so one refresh lists every problem. Claims are joined by
their integer position (``cno``), never by their ids, which bad input may duplicate. The
result is the typed :class:`Corpus` the audit works on.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from cdmo_pipeline.core.errors import SourceIssue, SourceValidationError, issues_from_mask
from cdmo_pipeline.core.frames import arrow, to_number
from cdmo_pipeline.core.numbers import QUALIFIERS, parse_numbers
from cdmo_pipeline.core.source_format import (
    CLAIM_KINDS,
    CONFIDENCE_LEVELS,
    CURRENCY_RE,
    LOCATOR_MAX_WORDS,
    SCALES,
    SLUG_RE,
    SOURCE_KINDS,
    YEAR_MAX,
    YEAR_MIN,
    YEAR_RE,
)
from cdmo_pipeline.core.sources import STRING, RawCorpus

# Values are in billions of the claim's own currency, and small-unit currencies put real
# markets in thousands of trillions (KRW 3,050 trillion is about USD 2 trillion). Above a
# billion billion no currency's market lies: a typo, not a forecast.
MAX_BILLIONS = 1e9
# Growth rates are percent; beyond these a figure is a slip (or a total, not a rate).
CAGR_MIN, CAGR_MAX = -100.0, 1000.0
PUBLISHED_RE = r"^[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?$"
MONEY_ROLES = ("start", "point", "end")
LOCATOR_WORDS_MESSAGE = (
    f"has more than {LOCATOR_MAX_WORDS} words: quote the few words that state the figure, never a sentence"
)

Message = str | Callable[[pd.DataFrame], pd.Series]


@dataclass
class Corpus:
    """Validated, typed sources: the input of the audit. ``claims`` is ordered by ``cno``."""

    sources: pd.DataFrame
    markets: pd.DataFrame
    claims: pd.DataFrame
    figures: pd.DataFrame
    extras: pd.DataFrame


def matches(values: pd.Series, pattern: str) -> np.ndarray:
    """Vectorised full match (RE2 through pyarrow); missing values do not match."""
    hit = pc.match_substring_regex(arrow(values), pattern)
    return pc.fill_null(hit, False).to_numpy(zero_copy_only=False)


def trimmed(values: pd.Series) -> pd.Series:
    """Trimmed Arrow strings with missing as ''."""
    return values.astype(STRING).fillna("").str.strip()


def blank(values: pd.Series) -> np.ndarray:
    return (trimmed(values) == "").to_numpy(dtype=bool)


def word_count(values: pd.Series) -> np.ndarray:
    counts = pc.count_substring_regex(arrow(values), r"\S+")
    return pc.fill_null(counts, 0).to_numpy(zero_copy_only=False)


def _quoted(column: str, suffix: str) -> Callable[[pd.DataFrame], pd.Series]:
    """A message quoting each bad row's own text: "'1,50' is not a number as written"."""
    return lambda bad: "'" + bad[column].astype(str) + "' " + suffix


class Rules:
    """Collects issues from vectorised rules."""

    def __init__(self) -> None:
        self.issues: list[SourceIssue] = []

    def flag(self, frame: pd.DataFrame, mask: np.ndarray | pd.Series, field: str, message: Message) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        bad = frame.loc[mask]
        text_ = message(bad) if callable(message) else message
        self.issues.extend(issues_from_mask(bad, np.ones(len(bad), dtype=bool), field, text_))


def validate(raw: RawCorpus) -> Corpus:
    """Check every rule of DESIGN §3; raise :class:`SourceValidationError` listing all breaks."""
    rules = Rules()
    sources, markets = validate_globals(raw.sources, raw.markets, rules)
    claims, figures = validate_claims(raw, sources, markets, rules)
    if claims.empty and not rules.issues:
        rules.issues.append(no_claims(raw.directory))
    if rules.issues:
        raise SourceValidationError(rules.issues)
    return Corpus(sources, markets, claims, figures, raw.extras)


def no_claims(directory: str) -> SourceIssue:
    return SourceIssue(directory, None, None, "holds no source with claims: refusing to publish an empty warehouse")


def validate_globals(
    raw_sources: pd.DataFrame, raw_markets: pd.DataFrame, rules: "Rules"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rules across all files: source ids unique, markets declared, parents agreeing, no cycle."""
    return _sources(raw_sources.copy(), rules), _markets(raw_markets.copy(), rules)


def validate_claims(
    raw: RawCorpus, sources: pd.DataFrame, markets: pd.DataFrame, rules: "Rules"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rules of claims and figures (of one chunk of whole sources, or of all of them)."""
    claims = _claims(raw.claims.copy(), raw.figures, sources, markets, rules)
    figures = _figures(raw.figures.copy(), claims, rules)
    # Claims with a duplicated id are already reported; their years cannot be told apart.
    unique = ~claims["claim_id"].duplicated(keep=False).to_numpy()
    _structure(figures.loc[unique[figures["cno"].to_numpy()]], claims, rules)
    _says_something(figures, claims, rules)
    claims = claims.drop(columns=[c for c in claims.columns if c.startswith("f_")])
    figures = figures.drop(columns=[c for c in figures.columns if c.startswith("f_")])
    return claims, figures


def _yaml_style(files: pd.Series) -> np.ndarray:
    return files.astype(STRING).str.endswith(".yaml").fillna(False).to_numpy(bool) | files.astype(STRING).str.endswith(
        ".yml"
    ).fillna(False).to_numpy(bool)


# What rows of one bulk source must agree on.
SOURCE_METADATA = ["title", "publisher", "published", "url", "kind", "confidence"]


def _sources(s: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    yaml_style = _yaml_style(s["file"])
    s["claim"] = None
    for col in ("id", *SOURCE_METADATA):
        table_col = {"id": "source_id", "kind": "source_kind", "confidence": "confidence"}.get(col, f"source_{col}")
        s[f"f_{col}"] = np.where(yaml_style, f"source.{col}", table_col)
    rules.flag(
        s, ~matches(s["source_id"], SLUG_RE), "f_id", "source id must be a lowercase slug (letters, digits, hyphens)"
    )
    for col in ("title", "publisher"):
        rules.flag(s, blank(s[col]), f"f_{col}", "is required")
    rules.flag(
        s,
        ~s["kind"].isin(SOURCE_KINDS).fillna(False).to_numpy(bool),
        "f_kind",
        "must be one of " + ", ".join(SOURCE_KINDS),
    )
    conf_bad = ~blank(s["confidence"]) & ~s["confidence"].isin(CONFIDENCE_LEVELS).fillna(False).to_numpy(bool)
    rules.flag(s, conf_bad, "f_confidence", "must be one of " + ", ".join(CONFIDENCE_LEVELS))

    published = trimmed(s["published"])
    year = pd.to_numeric(published.str.slice(0, 4), errors="coerce")
    shaped = matches(published, PUBLISHED_RE)
    # A date must exist: 2025-02-30 and 2025-13 are refused, 2025-02 and 2025-02-28 are fine.
    length = published.str.len().to_numpy()
    as_date = published.where(length == 10, (published + "-01").where(length == 7, None))
    real_date = (length == 4) | pd.to_datetime(
        as_date.astype(object), errors="coerce", format="%Y-%m-%d"
    ).notna().to_numpy()
    in_range = year.between(YEAR_MIN, YEAR_MAX).to_numpy()
    rules.flag(
        s,
        ~(shaped & real_date & in_range),
        "f_published",
        f"must be a year or an ISO date between {YEAR_MIN} and {YEAR_MAX}",
    )
    s["published_year"] = year.fillna(0).astype("int64")

    # Source ids are unique across all files, but a bulk source may run on from one table file
    # into the next (a corpus cut in files by row count). A bulk source's rows, in one file or
    # several, must agree on its metadata.
    dup = s["source_id"].duplicated(keep=False).fillna(False).to_numpy(bool)
    if dup.any():
        sub = s.loc[dup]
        ids = sub["source_id"]
        files = sub.groupby("source_id")["file"].agg(lambda f: sorted(set(f)))  # duplicated ids only
        with_yaml = pd.Series(yaml_style[dup], index=sub.index).groupby(ids).transform("any").to_numpy(bool)
        several = ((ids.map(files.map(len)) > 1).fillna(False).to_numpy(bool)) & with_yaml
        listing = ids.map(files.map(", ".join))
        rules.flag(
            sub,
            several,
            "f_id",
            lambda bad: (
                "source id '" + bad["source_id"].astype(str) + "' is used by several files: " + listing.loc[bad.index]
            ),
        )
        for col in SOURCE_METADATA:
            values = sub[col].astype(object).fillna("")
            versions = values.groupby(ids).nunique()
            said = values.groupby(ids).agg(lambda v: " / ".join(f"'{x}'" for x in dict.fromkeys(v)))
            rules.flag(
                sub,
                ~several & (ids.map(versions) > 1).fillna(False).to_numpy(bool),
                f"f_{col}",
                lambda bad, said=said: "rows of this source disagree on it: " + bad["source_id"].map(said).astype(str),
            )
    s = s.drop_duplicates(subset=["source_id"], keep="first").reset_index(drop=True)
    return s.drop(columns=[c for c in s.columns if c.startswith("f_")] + ["claim"])


def _markets(m: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    yaml_style = _yaml_style(m["file"])
    # A table's row declares its market: errors name that row's claim; YAML has no claim here.
    m["claim"] = m["claim"].where(~yaml_style, None) if "claim" in m else None
    ids = m["market_id"].astype(str)
    m["f_id"] = np.where(yaml_style, "markets." + ids, "market")
    m["f_parent"] = np.where(yaml_style, "markets." + ids + ".parent", "parent_market")
    m["f_comparable"] = "markets." + ids + ".comparable_to"
    m["f_label"] = np.where(yaml_style, "markets." + ids + ".label", "market_label")
    rules.flag(
        m, ~matches(m["market_id"], SLUG_RE), "f_id", "market id must be a lowercase slug (letters, digits, hyphens)"
    )
    rules.flag(m, blank(m["label"]), "f_label", "is required")
    declared = set(m["market_id"].dropna())
    has_parent = ~blank(m["parent"])
    rules.flag(
        m,
        has_parent & ~m["parent"].isin(declared).fillna(False).to_numpy(bool),
        "f_parent",
        lambda bad: "parent market '" + bad["parent"].astype(str) + "' is not declared",
    )
    has_comp = ~blank(m["comparable_to"])
    rules.flag(
        m,
        has_comp & ~m["comparable_to"].isin(declared).fillna(False).to_numpy(bool),
        "f_comparable",
        lambda bad: "market '" + bad["comparable_to"].astype(str) + "' is not declared",
    )
    rules.flag(
        m,
        has_parent & (m["parent"] == m["market_id"]).fillna(False).to_numpy(bool),
        "f_parent",
        "a market cannot be its own parent",
    )
    rules.flag(
        m,
        has_comp & (m["comparable_to"] == m["market_id"]).fillna(False).to_numpy(bool),
        "f_comparable",
        "a market cannot be comparable to itself",
    )

    # Declarations must agree on the parent; the first label wins, explicit before implied.
    parents = m.loc[has_parent, ["market_id", "parent", "file"]].drop_duplicates()
    n_parents = parents.groupby("market_id")["parent"].transform("nunique")
    conflict = parents.loc[(n_parents > 1).fillna(False).to_numpy(bool)]
    if not conflict.empty:
        listing = conflict.groupby("market_id").apply(
            lambda g: "; ".join(f"{p} in {f}" for p, f in zip(g["parent"], g["file"], strict=True)),
            include_groups=False,
        )
        rules.flag(
            m,
            has_parent & m["market_id"].isin(conflict["market_id"]).fillna(False).to_numpy(bool),
            "f_parent",
            lambda bad: "declarations disagree on the parent: " + bad["market_id"].map(listing).astype(str),
        )

    order = m.assign(_o=np.arange(len(m)), _e=~m["explicit"].astype(bool)).sort_values(["_e", "_o"], kind="stable")
    out = pd.DataFrame({"market_id": order["market_id"].drop_duplicates().to_numpy()})
    for col in ("label", "parent", "region", "modality", "comparable_to", "note", "file"):
        first = order.loc[~blank(order[col])].drop_duplicates("market_id").set_index("market_id")[col]
        out[col] = out["market_id"].map(first)
    out = out.rename(columns={"parent": "parent_market_id", "file": "declared_in"})
    out = out.astype(object).where(out.notna(), None)

    # Parents form no cycle.
    cyclic = find_cycles(dict(zip(out["market_id"], out["parent_market_id"], strict=True)))
    if cyclic:
        mask = m["market_id"].isin(cyclic).fillna(False).to_numpy(bool) & has_parent
        rules.flag(m, mask, "f_parent", lambda bad: "parents form a cycle: " + bad["market_id"].map(cyclic).astype(str))
    return out.sort_values("market_id").reset_index(drop=True)


def find_cycles(parent: dict[str, str | None]) -> dict[str, str]:
    """Markets on a parent cycle -> the cycle, written a → b → a.

    Follows parent links from each market (a taxonomy: markets are few, claims are many).
    """
    cyclic = {}
    for start in parent:
        seen, node = [start], parent.get(start)
        while isinstance(node, str) and node not in seen:
            seen.append(node)
            node = parent.get(node)
        if isinstance(node, str) and node == start:
            cyclic[start] = " → ".join([*seen, start])
    return cyclic


def _claims(
    c: pd.DataFrame, raw_figures: pd.DataFrame, sources: pd.DataFrame, markets: pd.DataFrame, rules: Rules
) -> pd.DataFrame:
    yaml_style = _yaml_style(c["file"])
    for col, table_col in (
        ("id", "claim_id"),
        ("kind", "kind"),
        ("market", "market"),
        ("currency", "currency"),
        ("population", "population"),
        ("confidence", "confidence"),
    ):
        c[f"f_{col}"] = np.where(yaml_style, col, table_col)
    c["f_locator"] = "locator.text"
    rules.flag(c, ~matches(c["claim"], SLUG_RE), "f_id", "claim id must be a lowercase slug (letters, digits, hyphens)")
    c["claim_id"] = c["source_id"].astype(STRING) + "/" + c["claim"].astype(STRING)
    dup = c["claim_id"].duplicated(keep=False).fillna(False).to_numpy(bool)
    rules.flag(c, dup, "f_id", "claim id is used more than once in this source")
    rules.flag(
        c,
        ~c["kind"].isin(CLAIM_KINDS).fillna(False).to_numpy(bool),
        "f_kind",
        "must be one of " + ", ".join(CLAIM_KINDS),
    )
    trajectory = (c["kind"] == "trajectory").fillna(False).to_numpy(bool)
    share = (c["kind"] == "share").fillna(False).to_numpy(bool)
    has_market = ~blank(c["market"])
    rules.flag(c, trajectory & ~has_market, "f_market", "is required on a trajectory claim")
    undeclared = has_market & ~c["market"].isin(markets["market_id"]).fillna(False).to_numpy(bool)
    rules.flag(
        c,
        undeclared,
        "f_market",
        lambda bad: "market '" + bad["market"].astype(str) + "' is not declared (add it under `markets`)",
    )
    rules.flag(
        c,
        share & blank(c["population"]),
        "f_population",
        "is required on a share claim (who or what the percent is of)",
    )
    has_currency = ~blank(c["currency"])
    rules.flag(
        c,
        has_currency & ~matches(c["currency"], CURRENCY_RE),
        "f_currency",
        "must be a 3-letter currency code such as USD",
    )
    money_cnos = raw_figures.loc[raw_figures["role"].isin(MONEY_ROLES).fillna(False).to_numpy(bool), "cno"].to_numpy()
    states_money = np.zeros(len(c), dtype=bool)
    states_money[money_cnos] = True
    rules.flag(
        c,
        trajectory & states_money & ~has_currency,
        "f_currency",
        "is required on a claim stating money values (e.g. USD)",
    )
    conf_bad = ~blank(c["confidence"]) & ~c["confidence"].isin(CONFIDENCE_LEVELS).fillna(False).to_numpy(bool)
    rules.flag(c, conf_bad, "f_confidence", "must be one of " + ", ".join(CONFIDENCE_LEVELS))
    rules.flag(c, word_count(c["locator_text"]) > LOCATOR_MAX_WORDS, "f_locator", LOCATOR_WORDS_MESSAGE)

    pub = sources.set_index("source_id")["published_year"]
    c["published_year"] = c["source_id"].map(pub).fillna(0).astype("int64")
    c["market_id"] = c["market"].where(has_market, None)
    c["currency"] = c["currency"].where(has_currency, None)
    return c.rename(columns={"claim": "local_id"})


def _figures(f: pd.DataFrame, claims: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    cno = f["cno"].to_numpy()
    kind = claims["kind"].to_numpy(dtype=object)[cno]
    role = f["role"].to_numpy(dtype=object)
    money = np.isin(role, MONEY_ROLES)
    is_cagr = role == "cagr"
    is_share = role == "share"
    trajectory = kind == "trajectory"
    share_claim = kind == "share"
    rules.flag(f, money & share_claim, "f_value", "a share claim states `value`, not start/end/points")
    rules.flag(f, is_cagr & share_claim, "f_value", "a share claim has no CAGR")
    rules.flag(f, is_share & trajectory, "f_value", "a trajectory claim states start, end or points, not `value`")

    f["literal"] = trimmed(f["value"])
    parsed = parse_numbers(f["literal"], f["qualifier"])
    f["error"] = parsed["error"]
    has_error = parsed["error"].notna().to_numpy()
    rules.flag(f, has_error, "f_value", lambda bad: "'" + bad["literal"].astype(str) + "' " + bad["error"].astype(str))
    f["qualifier_text"] = trimmed(f["qualifier"])
    rules.flag(
        f,
        parsed["qualifier_error"].notna().to_numpy(),
        "f_qualifier",
        lambda bad: "'" + bad["qualifier_text"].astype(str) + "' is not a qualifier (" + ", ".join(QUALIFIERS) + ")",
    )
    ok = ~has_error & parsed["qualifier_error"].isna().to_numpy()
    rules.flag(
        f, ok & money & parsed["is_percent"].fillna(False).to_numpy(bool), "f_value", "a money value takes no '%'"
    )

    scale = trimmed(f["scale"]).str.lower()
    f["scale_text"] = scale
    has_scale = (scale != "").fillna(False).to_numpy(bool)
    known_scale = scale.isin(SCALES).fillna(False).to_numpy(bool)
    rules.flag(f, money & ~has_scale, "f_scale", "is required on a money value (" + ", ".join(SCALES) + ")")
    rules.flag(
        f,
        money & has_scale & ~known_scale,
        "f_scale",
        _quoted("scale_text", "is not a scale (" + ", ".join(SCALES) + ")"),
    )
    rules.flag(f, ~money & has_scale, "f_scale", "only money values take a scale")
    factor = scale.map(SCALES).astype(float).fillna(1.0).to_numpy()

    value = parsed["value"].to_numpy()
    low = parsed["low"].to_numpy()
    high = parsed["high"].to_numpy()
    rules.flag(
        f, ok & money & (low <= 0) & (value > 0), "f_value", _quoted("literal", "allows a value of zero or less")
    )
    rules.flag(f, ok & money & (value <= 0), "f_value", _quoted("literal", "must be above zero (a market size)"))
    rules.flag(
        f,
        ok & money & (high * factor > MAX_BILLIONS),
        "f_value",
        _quoted("literal", f"is implausibly large (over {MAX_BILLIONS:,.0f} billion)"),
    )
    rules.flag(
        f,
        ok & is_cagr & ((low <= CAGR_MIN) | (high > CAGR_MAX)),
        "f_value",
        _quoted(
            "literal",
            f"stands for an interval reaching beyond the CAGRs accepted (above {CAGR_MIN:g}%, at most "
            f"{CAGR_MAX:g}%, the rounding of the digits written included)",
        ),
    )
    rules.flag(
        f,
        ok & is_share & ((value < 0) | (value > 100) | (low < 0) | (high > 100)),
        "f_value",
        "a share is a percent between 0 and 100",
    )

    # Years: a 4-digit year in range or "current"; money values need one, shares may have one.
    year = trimmed(f["year"]).str.lower()
    has_year = (year != "").fillna(False).to_numpy(bool)
    rules.flag(f, money & ~has_year, "f_year", "is required")
    is_current = (year == "current").fillna(False).to_numpy(bool)
    year_int = pd.Series(np.where(~is_current & has_year, to_number(year), np.nan), index=f.index)
    year_ok = (
        ~has_year
        | is_current
        | (matches(year, YEAR_RE) & year_int.between(YEAR_MIN, YEAR_MAX).fillna(False).to_numpy(bool))
    )
    rules.flag(
        f, ~year_ok & ~is_cagr, "f_year", f'must be a 4-digit year between {YEAR_MIN} and {YEAR_MAX}, or "current"'
    )

    p_from = trimmed(f["period_from"]).str.lower()
    p_to = trimmed(f["period_to"]).str.lower()
    has_from, has_to = (p_from != "").fillna(False).to_numpy(bool), (p_to != "").fillna(False).to_numpy(bool)
    rules.flag(f, is_cagr & (has_from != has_to), "f_period", "a CAGR period needs both from and to")
    period_years = []
    for period, present in ((p_from, has_from), (p_to, has_to)):
        cur = (period == "current").fillna(False).to_numpy(bool)
        num = pd.Series(np.where(present & ~cur, to_number(period), np.nan), index=f.index)
        good = (
            ~present | cur | (matches(period, YEAR_RE) & num.between(YEAR_MIN, YEAR_MAX).fillna(False).to_numpy(bool))
        )
        rules.flag(
            f,
            is_cagr & ~good,
            "f_period",
            f'years must be 4-digit years between {YEAR_MIN} and {YEAR_MAX}, or "current"',
        )
        period_years.append((num, cur))

    long_locator = word_count(f["locator_text"]) > LOCATOR_MAX_WORDS
    if long_locator.any():
        value_field = f["f_value"].astype(str)
        f["f_locator"] = np.where(
            value_field.str.contains("."), value_field.str.rsplit(".", n=1).str[0] + ".locator.text", "locator.text"
        )
        rules.flag(f, long_locator, "f_locator", LOCATOR_WORDS_MESSAGE)

    currency = claims["currency"].astype(object).to_numpy()[cno]
    unit = np.where(money, pd.Series(currency).fillna("").astype(str).to_numpy() + " bn", "%")
    return pd.DataFrame(
        {
            "cno": cno,
            "file": f["file"],
            "line": f["line"],
            "claim": f["claim"],
            "source_id": f["source_id"],
            "claim_id": claims["claim_id"].to_numpy(dtype=object)[cno],
            "role": f["role"],
            "idx": f["idx"].astype("int64"),
            "literal": f["literal"],
            "qualifier": parsed["qualifier"].where(parsed["qualifier"] != "none", None),
            "decimals": parsed["decimals"],
            "value": value * factor,
            "low": low * factor,
            "high": high * factor,
            "low_open": parsed["low_open"],
            "high_open": parsed["high_open"],
            "is_range": parsed["is_range"],
            "hedge": parsed["hedge"],
            "unit": unit,
            "scale": scale.where(scale != "", None),
            "year_literal": year.where(has_year, None),
            "year_written": year_int.astype("Int64"),
            "is_current": is_current,
            "period_from": period_years[0][0].astype("Int64"),
            "period_from_current": period_years[0][1],
            "period_to": period_years[1][0].astype("Int64"),
            "period_to_current": period_years[1][1],
            "paragraph": pd.to_numeric(f["paragraph"], errors="coerce").astype("Int64"),
            "locator_text": f["locator_text"],
            "locator_start": pd.to_numeric(f["locator_start"], errors="coerce").astype("Int64"),
            "locator_end": pd.to_numeric(f["locator_end"], errors="coerce").astype("Int64"),
            "f_year": f["f_year"],
            "f_value": f["f_value"],
            "f_period": f["f_period"],
        },
        index=f.index,
    )


def _structure(f: pd.DataFrame, claims: pd.DataFrame, rules: Rules) -> None:
    """Per-claim rules over years: distinct years, end after start, a CAGR period that fits.

    A claim whose years include "current" is valid when one of its readings (the publication
    year or the year before) is; the audit later tries only the valid readings.
    """
    pub = claims["published_year"].to_numpy()
    trajectory = (claims["kind"] == "trajectory").fillna(False).to_numpy(bool)
    role = f["role"].to_numpy(dtype=object)
    cno = f["cno"].to_numpy()
    is_value = np.isin(role, MONEY_ROLES) & trajectory[cno]
    is_cagr = role == "cagr"
    written = f["year_written"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    current = f["is_current"].fillna(False).to_numpy(bool)
    p_from_w = f["period_from"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    p_to_w = f["period_to"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    # Years out of range are reported on their own; compared here they would add false errors.
    written, p_from_w, p_to_w = (
        np.where((y >= YEAR_MIN) & (y <= YEAR_MAX), y, np.nan) for y in (written, p_from_w, p_to_w)
    )
    n_claims = len(claims)

    messages = []
    for offset in (0, 1):  # readings of "current": publication year, the year before
        msg = np.full(len(f), "", dtype=object)
        years = np.where(current, pub[cno] - offset, written)
        v_idx = np.flatnonzero(is_value)
        v_key = cno[v_idx] * 10_000 + np.nan_to_num(years[v_idx], nan=0).astype(np.int64)
        dup = pd.Series(v_key).duplicated().to_numpy()
        for i in v_idx[dup]:  # only the offending rows
            msg[i] = f"two values of this claim are for the same year ({int(years[i])})"
        start = np.full(n_claims, np.nan)
        end = np.full(n_claims, np.nan)
        first = np.full(n_claims, np.inf)
        last = np.full(n_claims, -np.inf)
        s_idx = v_idx[role[v_idx] == "start"]
        e_idx = v_idx[role[v_idx] == "end"]
        start[cno[s_idx]] = years[s_idx]
        end[cno[e_idx]] = years[e_idx]
        # fmin/fmax skip unreadable years, which are reported on their own
        np.fmin.at(first, cno[v_idx], years[v_idx])
        np.fmax.at(last, cno[v_idx], years[v_idx])
        with np.errstate(invalid="ignore"):
            backwards = end[cno[e_idx]] <= start[cno[e_idx]]
        for i in e_idx[backwards]:
            msg[i] = f"end year ({int(years[i])}) is not after the start year"
        c_idx = np.flatnonzero(is_cagr)
        c_pub = pub[cno[c_idx]] - offset
        p_from = np.where(f["period_from_current"].fillna(False).to_numpy(bool)[c_idx], c_pub, p_from_w[c_idx])
        p_to = np.where(f["period_to_current"].fillna(False).to_numpy(bool)[c_idx], c_pub, p_to_w[c_idx])
        lo, hi = first[cno[c_idx]], last[cno[c_idx]]
        with np.errstate(invalid="ignore"):
            stated = ~np.isnan(p_from) & ~np.isnan(p_to)
            empty_period = stated & (p_to <= p_from)
            # A period may begin the year after the last value: a report's base year, then its
            # forecast period (2024 stated, "9.7% CAGR over 2025-2030").
            disjoint = stated & ~empty_period & np.isfinite(lo) & ((p_to < lo) | (p_from > hi + 1))
        for i in c_idx[empty_period]:
            msg[i] = "the CAGR period must run forward (from before to)"
        for j in np.flatnonzero(disjoint):
            period, values = f"{int(p_from[j])}–{int(p_to[j])}", f"{int(lo[j])}–{int(hi[j])}"
            msg[c_idx[j]] = f"the CAGR period {period} lies outside the claim's values ({values})"
        messages.append(msg)
    # A claim fails only when no reading of "current" makes it valid.
    bad0, bad1 = np.zeros(n_claims, bool), np.zeros(n_claims, bool)
    bad0[cno[messages[0] != ""]] = True
    bad1[cno[messages[1] != ""]] = True
    uses_current = np.zeros(n_claims, bool)
    uses_current[
        cno[
            current
            | f["period_from_current"].fillna(False).to_numpy(bool)
            | f["period_to_current"].fillna(False).to_numpy(bool)
        ]
    ] = True
    bad_claim = bad0 & (~uses_current | bad1)
    mask = (messages[0] != "") & bad_claim[cno]
    frame = f.assign(
        f_field=np.where(is_cagr, f["f_period"].astype(object), f["f_year"].astype(object)), message=messages[0]
    )
    rules.flag(frame, mask, "f_field", lambda bad: bad["message"])


def _says_something(f: pd.DataFrame, claims: pd.DataFrame, rules: Rules) -> None:
    """A trajectory says something: at least one value or a CAGR."""
    role = f["role"].to_numpy(dtype=object)
    said = np.zeros(len(claims), bool)
    said[f["cno"].to_numpy()[np.isin(role, (*MONEY_ROLES, "cagr"))]] = True
    trajectory = (claims["kind"] == "trajectory").fillna(False).to_numpy(bool)
    empty = claims.loc[trajectory & ~said].assign(f_field="start")
    empty["claim"] = empty["local_id"]
    rules.flag(
        empty,
        np.ones(len(empty), dtype=bool),
        "f_field",
        "a trajectory needs at least one value (start, end, points) or a CAGR",
    )
