"""Validate: what the strings must say, for every input form at once (DESIGN §3).

Each rule is a vectorised mask over a whole frame; every row it selects becomes an issue naming
the file, the claim and the field. All rules run before anything fails, so one refresh lists
every problem. The result is the typed :class:`Corpus` the audit works on.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cdmo_pipeline.core.errors import SourceIssue, SourceValidationError, issues_from_mask
from cdmo_pipeline.core.numbers import parse_numbers
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
from cdmo_pipeline.core.sources import RawCorpus

# A market above a million billion (a thousand times world GDP) is a typo, not a forecast.
MAX_BILLIONS = 1e6
# Growth rates are percent; beyond these a figure is a slip (or a total, not a rate).
CAGR_MIN, CAGR_MAX = -100.0, 1000.0
PUBLISHED_RE = r"^[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?$"


@dataclass
class Corpus:
    """Validated, typed sources: the input of the audit."""

    sources: pd.DataFrame
    markets: pd.DataFrame
    claims: pd.DataFrame
    figures: pd.DataFrame
    extras: pd.DataFrame


def matches(values: pd.Series, pattern: str) -> np.ndarray:
    """Vectorised full match (RE2 through pyarrow); missing values do not match."""
    arr = pa.array(values.astype("string").fillna("\x00").to_numpy(dtype=object), type=pa.string())
    return pc.match_substring_regex(arr, pattern).to_numpy(zero_copy_only=False)


def blank(values: pd.Series) -> np.ndarray:
    return values.isna().to_numpy() | (values.astype("string").fillna("").str.strip() == "").to_numpy()


class _Rules:
    """Collects issues from vectorised rules."""

    def __init__(self) -> None:
        self.issues: list[SourceIssue] = []

    def flag(self, frame: pd.DataFrame, mask: np.ndarray | pd.Series, field: str, message: str | pd.Series) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self.issues.extend(issues_from_mask(frame, mask, field, message))


def validate(raw: RawCorpus) -> Corpus:
    """Check every rule of DESIGN §3; raise :class:`SourceValidationError` listing all breaks."""
    rules = _Rules()
    sources = _sources(raw.sources.copy(), rules)
    markets = _markets(raw.markets.copy(), rules)
    money = raw.figures.loc[raw.figures["role"].isin(["start", "point", "end"])]
    money_claims = set(money["source_id"].astype(str) + "/" + money["claim"].astype(str))
    claims = _claims(raw.claims.copy(), sources, markets, money_claims, rules)
    figures = _figures(raw.figures.copy(), claims, rules)
    # Claims with a duplicated id are already reported; their years cannot be told apart.
    unique = ~claims["claim_id"].duplicated(keep=False)
    _structure(figures.loc[figures["claim_id"].isin(claims.loc[unique, "claim_id"])], claims.loc[unique], rules)
    if claims.empty and not rules.issues:
        rules.issues.append(
            SourceIssue(
                raw.directory, None, None, "holds no source with claims: refusing to publish an empty warehouse"
            )
        )
    if rules.issues:
        raise SourceValidationError(rules.issues)
    claims = claims.drop(columns=["f_id", "f_kind", "f_market", "f_currency", "f_population", "f_confidence"])
    figures = figures.drop(columns=[c for c in figures.columns if c.startswith("f_")])
    return Corpus(sources, markets, claims, figures, raw.extras)


def _yaml_style(files: pd.Series) -> np.ndarray:
    return files.astype(str).str.endswith((".yaml", ".yml")).to_numpy()


def _sources(s: pd.DataFrame, rules: _Rules) -> pd.DataFrame:
    yaml_style = _yaml_style(s["file"])
    s["claim"] = None
    for col in ("id", "title", "publisher", "published", "kind", "confidence"):
        table_col = {"id": "source_id", "kind": "source_kind", "confidence": "confidence"}.get(col, f"source_{col}")
        s[f"f_{col}"] = np.where(yaml_style, f"source.{col}", table_col)
    rules.flag(
        s, ~matches(s["source_id"], SLUG_RE), "f_id", "source id must be a lowercase slug (letters, digits, hyphens)"
    )
    for col in ("title", "publisher"):
        rules.flag(s, blank(s[col]), f"f_{col}", "is required")
    rules.flag(s, ~s["kind"].isin(SOURCE_KINDS).to_numpy(), "f_kind", "must be one of " + ", ".join(SOURCE_KINDS))
    conf_bad = ~blank(s["confidence"]) & ~s["confidence"].isin(CONFIDENCE_LEVELS).to_numpy()
    rules.flag(s, conf_bad, "f_confidence", "must be one of " + ", ".join(CONFIDENCE_LEVELS))

    published = s["published"].astype("string").fillna("")
    year = pd.to_numeric(published.str.slice(0, 4), errors="coerce")
    shaped = matches(published, PUBLISHED_RE)
    # A date must exist: 2025-02-30 and 2025-13 are refused, 2025-02 and 2025-02-28 are fine.
    length = published.str.len().to_numpy()
    as_day = published.where(length == 10, None)
    as_month = (published + "-01").where(length == 7, None)
    real_date = (length == 4) | pd.to_datetime(
        as_day.fillna(as_month), errors="coerce", format="%Y-%m-%d"
    ).notna().to_numpy()
    in_range = year.between(YEAR_MIN, YEAR_MAX).to_numpy()
    rules.flag(
        s,
        ~(shaped & real_date & in_range),
        "f_published",
        f"must be a year or an ISO date between {YEAR_MIN} and {YEAR_MAX}",
    )
    s["published_year"] = year.fillna(0).astype("int64")

    # Source ids are unique across all files; one bulk file's rows must agree on metadata.
    per_id = s.groupby("source_id", sort=False)["file"]
    other_files = per_id.transform(lambda f: ", ".join(sorted(set(f))))
    n_files = per_id.transform("nunique")
    rules.flag(
        s,
        (n_files > 1).to_numpy(),
        "f_id",
        "source id '" + s["source_id"].astype(str) + "' is used by several files: " + other_files,
    )
    dup_rows = (n_files == 1).to_numpy() & s.duplicated(subset=["source_id"], keep=False).to_numpy()
    rules.flag(s, dup_rows, "f_title", "rows of this source disagree on its title, publisher or published date")
    s = s.drop_duplicates(subset=["source_id"], keep="first").reset_index(drop=True)
    return s.drop(columns=[c for c in s.columns if c.startswith("f_")] + ["claim"])


def _markets(m: pd.DataFrame, rules: _Rules) -> pd.DataFrame:
    yaml_style = _yaml_style(m["file"])
    m["claim"] = None
    ids = m["market_id"].astype(str)
    m["f_id"] = np.where(yaml_style, "markets." + ids, "market")
    m["f_parent"] = np.where(yaml_style, "markets." + ids + ".parent", "parent_market")
    m["f_comparable"] = "markets." + ids + ".comparable_to"
    m["f_label"] = "markets." + ids + ".label"
    rules.flag(
        m, ~matches(m["market_id"], SLUG_RE), "f_id", "market id must be a lowercase slug (letters, digits, hyphens)"
    )
    rules.flag(m, blank(m["label"]), "f_label", "is required")
    declared = set(m["market_id"].dropna())
    has_parent = ~blank(m["parent"])
    rules.flag(
        m,
        has_parent & ~m["parent"].isin(declared).to_numpy(),
        "f_parent",
        "parent market '" + m["parent"].astype(str) + "' is not declared",
    )
    has_comp = ~blank(m["comparable_to"])
    rules.flag(
        m,
        has_comp & ~m["comparable_to"].isin(declared).to_numpy(),
        "f_comparable",
        "market '" + m["comparable_to"].astype(str) + "' is not declared",
    )
    rules.flag(
        m, has_parent & (m["parent"] == m["market_id"]).to_numpy(), "f_parent", "a market cannot be its own parent"
    )

    # Declarations must agree on the parent; the first label wins, explicit before implied.
    parents = m.loc[has_parent, ["market_id", "parent", "file"]]
    n_parents = parents.groupby("market_id")["parent"].transform("nunique")
    conflict = parents.loc[n_parents > 1]
    if not conflict.empty:
        listing = conflict.groupby("market_id").apply(
            lambda g: "; ".join(f"{p} in {f}" for p, f in zip(g["parent"], g["file"], strict=True)),
            include_groups=False,
        )
        msg = m["market_id"].map(listing).fillna("")
        rules.flag(
            m,
            has_parent & m["market_id"].isin(conflict["market_id"]).to_numpy(),
            "f_parent",
            "declarations disagree on the parent: " + msg,
        )

    order = m.assign(_o=np.arange(len(m)), _e=~m["explicit"].astype(bool)).sort_values(["_e", "_o"], kind="stable")
    first = lambda col: order.dropna(subset=[col]).drop_duplicates("market_id").set_index("market_id")[col]  # noqa: E731
    out = pd.DataFrame({"market_id": order["market_id"].drop_duplicates().to_numpy()})
    for col in ("label", "parent", "region", "modality", "comparable_to", "note", "file"):
        out[col] = out["market_id"].map(first(col))
    out = out.rename(columns={"parent": "parent_market_id", "file": "declared_in"})

    # Parents form no cycle.
    cyclic = find_cycles(dict(zip(out["market_id"], out["parent_market_id"], strict=True)))
    if cyclic:
        mask = m["market_id"].isin(cyclic).to_numpy() & has_parent
        rules.flag(m, mask, "f_parent", "parents form a cycle: " + m["market_id"].map(cyclic).fillna(""))
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
        if node == start:
            cyclic[start] = " → ".join([*seen, start])
    return cyclic


def _claims(
    c: pd.DataFrame, sources: pd.DataFrame, markets: pd.DataFrame, money_claims: set[str], rules: _Rules
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
    rules.flag(c, ~matches(c["claim"], SLUG_RE), "f_id", "claim id must be a lowercase slug (letters, digits, hyphens)")
    dup = c.duplicated(subset=["source_id", "claim"], keep=False).to_numpy()
    rules.flag(c, dup, "f_id", "claim id is used more than once in this source")
    rules.flag(c, ~c["kind"].isin(CLAIM_KINDS).to_numpy(), "f_kind", "must be one of " + ", ".join(CLAIM_KINDS))
    trajectory = (c["kind"] == "trajectory").to_numpy()
    share = (c["kind"] == "share").to_numpy()
    declared = set(markets["market_id"])
    has_market = ~blank(c["market"])
    rules.flag(c, trajectory & ~has_market, "f_market", "is required on a trajectory claim")
    rules.flag(
        c,
        has_market & ~c["market"].isin(declared).to_numpy(),
        "f_market",
        "market '" + c["market"].astype(str) + "' is not declared (add it under `markets`)",
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
    keys = c["source_id"].astype(str) + "/" + c["claim"].astype(str)
    states_money = keys.isin(money_claims).to_numpy()
    rules.flag(
        c,
        trajectory & states_money & ~has_currency,
        "f_currency",
        "is required on a claim stating money values (e.g. USD)",
    )
    conf_bad = ~blank(c["confidence"]) & ~c["confidence"].isin(CONFIDENCE_LEVELS).to_numpy()
    rules.flag(c, conf_bad, "f_confidence", "must be one of " + ", ".join(CONFIDENCE_LEVELS))
    words = c["locator_text"].astype("string").fillna("").str.split().str.len().fillna(0).to_numpy()
    c["f_locator"] = "locator.text"
    rules.flag(
        c,
        words > LOCATOR_MAX_WORDS,
        "f_locator",
        f"has more than {LOCATOR_MAX_WORDS} words: quote the few words that state the figure, never a sentence",
    )
    c = c.drop(columns=["f_locator"])

    c = c.merge(sources[["source_id", "published_year"]], on="source_id", how="left", validate="many_to_one")
    c["claim_id"] = c["source_id"].astype(str) + "/" + c["claim"].astype(str)
    c["market_id"] = c["market"].where(has_market, None)
    c["currency"] = c["currency"].where(has_currency, None)
    return c.rename(columns={"claim": "local_id"})


def _figures(f: pd.DataFrame, claims: pd.DataFrame, rules: _Rules) -> pd.DataFrame:
    f["claim_id"] = f["source_id"].astype(str) + "/" + f["claim"].astype(str)
    kinds = claims.set_index("claim_id")["kind"]
    f["kind"] = f["claim_id"].map(kinds[~kinds.index.duplicated()])
    role = f["role"].to_numpy()
    money = np.isin(role, ["start", "end", "point"])
    is_cagr = role == "cagr"
    is_share = role == "share"
    trajectory = (f["kind"] == "trajectory").to_numpy()
    rules.flag(
        f,
        money & ~trajectory & f["kind"].notna().to_numpy(),
        "f_value",
        "a share claim states `value`, not start/end/points",
    )
    rules.flag(f, is_cagr & ~trajectory & f["kind"].notna().to_numpy(), "f_value", "a share claim has no CAGR")
    rules.flag(f, is_share & trajectory, "f_value", "a trajectory claim states start, end or points, not `value`")

    parsed = parse_numbers(f["value"], f["qualifier"])
    error = parsed["error"]
    has_error = error.notna().to_numpy()
    literal = f["value"].astype("string").fillna("")
    rules.flag(f, has_error, "f_value", "'" + literal + "' " + error.fillna(""))
    ok = ~has_error
    rules.flag(f, ok & money & parsed["is_percent"].to_numpy(), "f_value", "a money value takes no '%'")

    scale = f["scale"].astype("string").fillna("").str.strip().str.lower()
    has_scale = (scale != "").to_numpy()
    rules.flag(f, money & ~has_scale, "f_scale", "is required on a money value (" + ", ".join(SCALES) + ")")
    rules.flag(
        f,
        money & has_scale & ~scale.isin(SCALES).to_numpy(),
        "f_scale",
        "'" + scale + "' is not a scale (" + ", ".join(SCALES) + ")",
    )
    rules.flag(f, ~money & has_scale, "f_scale", "only money values take a scale")
    factor = scale.map(SCALES).astype(float).fillna(1.0).to_numpy()

    value = parsed["value"].to_numpy()
    low = parsed["low"].to_numpy()
    high = parsed["high"].to_numpy()
    rules.flag(f, ok & money & (low <= 0) & (value > 0), "f_value", "'" + literal + "' allows a value of zero or less")
    rules.flag(f, ok & money & (value <= 0), "f_value", "'" + literal + "' must be above zero (a market size)")
    rules.flag(
        f,
        ok & money & (high * factor > MAX_BILLIONS),
        "f_value",
        "'" + literal + f"' is implausibly large (over {MAX_BILLIONS:,.0f} billion)",
    )
    rules.flag(
        f,
        ok & is_cagr & ((low <= CAGR_MIN) | (high > CAGR_MAX)),
        "f_value",
        f"a CAGR must lie between {CAGR_MIN:g}% and {CAGR_MAX:g}%",
    )
    rules.flag(
        f,
        ok & is_share & ((value < 0) | (value > 100) | (low < 0) | (high > 100)),
        "f_value",
        "a share is a percent between 0 and 100",
    )

    # Years: a 4-digit year in range or "current"; money values need one, shares may have one.
    year = f["year"].astype("string").fillna("").str.strip().str.lower()
    has_year = (year != "").to_numpy()
    rules.flag(f, money & ~has_year, "f_year", "is required")
    is_current = (year == "current").to_numpy()
    year_int = pd.to_numeric(year.where(~is_current & has_year, None), errors="coerce")
    year_ok = ~has_year | is_current | (matches(year, YEAR_RE) & year_int.between(YEAR_MIN, YEAR_MAX).to_numpy())
    rules.flag(
        f, ~year_ok & ~is_cagr, "f_year", f'must be a 4-digit year between {YEAR_MIN} and {YEAR_MAX}, or "current"'
    )

    p_from = f["period_from"].astype("string").fillna("").str.strip().str.lower()
    p_to = f["period_to"].astype("string").fillna("").str.strip().str.lower()
    has_from, has_to = (p_from != "").to_numpy(), (p_to != "").to_numpy()
    rules.flag(f, is_cagr & (has_from != has_to), "f_period", "a CAGR period needs both from and to")
    period_years = []
    for text, present in ((p_from, has_from), (p_to, has_to)):
        cur = (text == "current").to_numpy()
        num = pd.to_numeric(text.where(present & ~cur, None), errors="coerce")
        good = ~present | cur | (matches(text, YEAR_RE) & num.between(YEAR_MIN, YEAR_MAX).to_numpy())
        rules.flag(
            f,
            is_cagr & ~good,
            "f_period",
            f'years must be 4-digit years between {YEAR_MIN} and {YEAR_MAX}, or "current"',
        )
        period_years.append((num, cur))

    words = f["locator_text"].astype("string").fillna("").str.split().str.len().fillna(0).to_numpy()
    f["f_locator"] = np.where(
        f["f_value"].astype(str).str.contains(r"\."),
        f["f_value"].astype(str).str.rsplit(".", n=1).str[0] + ".locator.text",
        "locator.text",
    )
    rules.flag(
        f,
        words > LOCATOR_MAX_WORDS,
        "f_locator",
        f"has more than {LOCATOR_MAX_WORDS} words: quote the few words that state the figure, never a sentence",
    )

    unit = np.where(
        money,
        f["claim_id"].map(claims.drop_duplicates("claim_id").set_index("claim_id")["currency"]).fillna("").astype(str)
        + " bn",
        "%",
    )
    out = pd.DataFrame(
        {
            "file": f["file"],
            "line": f["line"],
            "claim": f["claim"],
            "source_id": f["source_id"],
            "claim_id": f["claim_id"],
            "role": f["role"],
            "idx": f["idx"].astype("int64"),
            "literal": literal.astype(object),
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
            "scale": scale.where(scale != "", None).astype(object),
            "year_literal": year.where(has_year, None).astype(object),
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
    return out


def _structure(f: pd.DataFrame, claims: pd.DataFrame, rules: _Rules) -> None:
    """Per-claim rules over years: distinct years, end after start, a CAGR period that fits.

    A claim whose years include "current" is valid when one of its readings (the publication
    year or the year before) is; the audit later tries only the valid readings.
    """
    pub = f["claim_id"].map(claims.drop_duplicates("claim_id").set_index("claim_id")["published_year"])
    trajectory_claims = claims.loc[claims["kind"] == "trajectory"]
    vals = f.loc[f["role"].isin(["start", "end", "point"]) & f["claim_id"].isin(trajectory_claims["claim_id"])]
    cagr = f.loc[f["role"] == "cagr"]
    problems: dict[int, pd.Series] = {}
    for offset in (0, 1):  # readings of "current": publication year, the year before
        years = vals["year_written"].astype("Float64").fillna(pub.loc[vals.index] - offset).astype(float)
        key = pd.DataFrame({"claim_id": vals["claim_id"], "year": years, "role": vals["role"]})
        msg = pd.Series("", index=f.index, dtype=object)
        dup = key.duplicated(subset=["claim_id", "year"], keep="first")
        msg.loc[dup[dup].index] = (
            "two values of this claim are for the same year (" + years[dup].astype(int).astype(str) + ")"
        )
        start = key.loc[key["role"] == "start"].set_index("claim_id")["year"]
        end = key.loc[key["role"] == "end"].set_index("claim_id")["year"]
        both = start.index.intersection(end.index)
        backwards = both[(end.loc[both] <= start.loc[both]).to_numpy()]
        end_rows = key.index[(key["role"] == "end").to_numpy() & key["claim_id"].isin(backwards).to_numpy()]
        msg.loc[end_rows] = "end year (" + years.loc[end_rows].astype(int).astype(str) + ") is not after the start year"
        span = key.groupby("claim_id")["year"].agg(["min", "max"])
        if not cagr.empty:
            c_pub = pub.loc[cagr.index] - offset
            p_from = cagr["period_from"].astype("Float64").astype(float).where(~cagr["period_from_current"], c_pub)
            p_to = cagr["period_to"].astype("Float64").astype(float).where(~cagr["period_to_current"], c_pub)
            stated = p_from.notna() & p_to.notna()
            lo = cagr["claim_id"].map(span["min"])
            hi = cagr["claim_id"].map(span["max"])
            empty_period = stated & (p_to <= p_from)
            disjoint = stated & ~empty_period & lo.notna() & ((p_to < lo) | (p_from > hi))
            msg.loc[cagr.index[empty_period.to_numpy()]] = "the CAGR period must run forward (from before to)"
            period_text = p_from.astype("Int64").astype(str) + "–" + p_to.astype("Int64").astype(str)
            span_text = lo.astype("Int64").astype(str) + "–" + hi.astype("Int64").astype(str)
            msg.loc[cagr.index[disjoint.to_numpy()]] = (
                "the CAGR period "
                + period_text[disjoint]
                + " lies outside the claim's values ("
                + span_text[disjoint]
                + ")"
            )
        problems[offset] = msg
    # A claim fails only when no reading of "current" makes it valid.
    bad_under = {o: f["claim_id"].where(problems[o] != "").dropna().unique() for o in problems}
    uses_current = set(f.loc[f["is_current"] | f["period_from_current"] | f["period_to_current"], "claim_id"])
    bad_claims = {c for c in bad_under[0] if c not in uses_current or c in set(bad_under[1])}
    mask = (problems[0] != "") & f["claim_id"].isin(bad_claims)
    field = np.where(f["role"] == "cagr", f["f_period"], f["f_year"])
    frame = f.assign(f_field=field)
    rules.flag(frame, mask.to_numpy(), "f_field", problems[0])

    # A trajectory says something: at least one value or a CAGR.
    said = set(f.loc[f["role"].isin(["start", "end", "point", "cagr"]), "claim_id"])
    empty = claims.loc[(claims["kind"] == "trajectory") & ~claims["claim_id"].isin(said)].assign(f_field="start")
    empty["claim"] = empty["local_id"]
    rules.flag(
        empty,
        np.ones(len(empty), dtype=bool),
        "f_field",
        "a trajectory needs at least one value (start, end, points) or a CAGR",
    )
