"""Published views: fixed SQL over the published tables (no user strings in it)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class View:
    name: str
    sql: str
    description: str


# Each claim's projected path: basis endpoints when it has one, else stated_cagr.
_PATHS = """
    SELECT p.* FROM projections AS p
    WHERE NOT p.is_extrapolated
      AND (p.basis = 'endpoints'
           OR NOT EXISTS (SELECT 1 FROM projections AS q WHERE q.claim_id = p.claim_id AND q.basis = 'endpoints'))
"""

CROSS_SOURCE_PROJECTED = View(
    "cross_source_projected",
    f"""
    WITH paths AS ({_PATHS}),
    rows AS (
        SELECT coalesce(m.comparable_to, c.market_id) AS market_id, c.currency, p.year, 'projected' AS basis,
               p.source_id, p.claim_id, c.market_id AS source_market_id, s.publisher, s.kind,
               s.kind IN ('report', 'press_release') AS is_publisher,
               s.report IS NOT NULL AND EXISTS (
                   SELECT 1 FROM sources AS later
                   WHERE later.report = s.report
                     AND (later.published > s.published
                          OR (later.published = s.published AND coalesce(later.edition, '') > coalesce(s.edition, '')))
               ) AS superseded,
               m.comparable_to IS NULL AS same_definition,
               s.confidence, p.central AS value, p.low, p.high
        FROM paths AS p
        JOIN claims AS c USING (claim_id)
        JOIN markets AS m ON m.market_id = c.market_id
        JOIN sources AS s ON s.source_id = p.source_id
    ),
    flagged AS (SELECT *, same_definition AND NOT superseded AS counted FROM rows),
    stats AS (
        SELECT market_id, currency, year, count(DISTINCT source_id) AS n_sources,
               min(value) AS min, median(value) AS median, max(value) AS max
        FROM flagged WHERE counted
        GROUP BY market_id, currency, year
        HAVING count(DISTINCT source_id) >= 2
    )
    SELECT f.market_id, f.currency, f.year, f.basis, f.source_id, f.claim_id, f.source_market_id, f.publisher,
           f.kind, f.is_publisher, f.superseded, f.same_definition, f.counted, f.confidence, f.value, f.low,
           f.high, st.n_sources, st.min, st.median, st.max,
           (st.max - st.min) / st.median * 100 AS spread_pct, (f.value - st.median) / st.median * 100 AS deviation_pct
    FROM flagged AS f JOIN stats AS st USING (market_id, currency, year)
    """,
    "The cross-source comparison on each source's projected path (the table cross_source compares stated figures)",
)

ARTICLE_VS_PUBLISHERS = View(
    "article_vs_publishers",
    """
    WITH both_bases AS (
        SELECT * FROM cross_source
        UNION ALL BY NAME
        SELECT * FROM cross_source_projected
    ),
    publishers AS (
        SELECT market_id, currency, year, basis,
               count(DISTINCT source_id) AS n_publishers,
               min(value) AS publishers_min, median(value) AS publishers_median, max(value) AS publishers_max
        FROM both_bases
        WHERE is_publisher AND counted
        GROUP BY market_id, currency, year, basis
    )
    SELECT a.market_id, a.currency, a.year, a.basis, a.source_id, a.claim_id,
           a.source_market_id, a.value, a.low, a.high,
           p.n_publishers, p.publishers_min, p.publishers_median, p.publishers_max,
           (a.value - p.publishers_median) / p.publishers_median * 100 AS deviation_from_publishers_pct,
           a.high >= p.publishers_min AND a.low <= p.publishers_max AS within_publishers_range
    FROM both_bases AS a
    JOIN publishers AS p USING (market_id, currency, year, basis)
    WHERE NOT a.is_publisher
    ORDER BY a.market_id, a.basis, a.year, a.source_id
    """,
    "Per market and year: each article's figure beside the range of the market-research publishers",
)

REVISIONS = View(
    "revisions",
    f"""
    WITH editions AS (
        SELECT source_id, report, edition, published FROM sources
        WHERE report IN (SELECT report FROM sources WHERE report IS NOT NULL GROUP BY report HAVING count(*) > 1)
    ),
    paths AS ({_PATHS}),
    stated AS (SELECT claim_id, year, literal, value FROM figures WHERE role IN ('start', 'point', 'end')),
    rows AS (
        SELECT e.report, e.edition, e.source_id, e.published, c.market_id, 'value' AS quantity, p.year,
               NULL::BIGINT AS period_from, NULL::BIGINT AS period_to,
               f.literal, coalesce(f.value, p.central) AS value, f.literal IS NOT NULL AS is_stated
        FROM editions AS e
        JOIN claims AS c USING (source_id)
        JOIN paths AS p USING (claim_id)
        LEFT JOIN stated AS f ON f.claim_id = p.claim_id AND f.year = p.year
        UNION ALL
        SELECT e.report, e.edition, e.source_id, e.published, c.market_id, 'cagr', NULL, f.period_from, f.period_to,
               f.literal, f.value, TRUE
        FROM editions AS e
        JOIN claims AS c USING (source_id)
        JOIN figures AS f ON f.claim_id = c.claim_id AND f.role = 'cagr'
    ),
    ordered AS (
        SELECT *, dense_rank() OVER (PARTITION BY report ORDER BY published, edition) AS edition_no FROM rows
    )
    SELECT report, market_id, quantity, year, period_from, period_to, edition_no, edition, source_id, published,
           literal, value, is_stated,
           lag(edition) OVER w AS previous_edition,
           lag(literal) OVER w AS previous_literal,
           lag(value) OVER w AS previous_value,
           value - lag(value) OVER w AS change,
           (value / lag(value) OVER w - 1) * 100 AS change_pct
    FROM ordered
    WINDOW w AS (PARTITION BY report, market_id, quantity, year ORDER BY edition_no)
    ORDER BY report, market_id, quantity, year NULLS FIRST, edition_no
    """,
    "How each year's figure (stated, or on the edition's path) and the CAGR moved between editions of a report",
)

CROSS_SOURCE_SUMMARY = View(
    "cross_source_summary",
    """
    SELECT market_id, currency, year, basis, any_value(n_sources) AS n_sources,
           any_value(min) AS min, any_value(median) AS median, any_value(max) AS max,
           any_value(spread_pct) AS spread_pct,
           string_agg(source_id, ', ' ORDER BY value) FILTER (WHERE counted) AS sources
    FROM cross_source
    GROUP BY market_id, currency, year, basis
    ORDER BY market_id, basis, year
    """,
    "One row per comparable market, currency, year and basis: the sources' range and spread",
)

# In dependency order: a view is created after those it reads.
VIEWS: tuple[View, ...] = (CROSS_SOURCE_PROJECTED, ARTICLE_VS_PUBLISHERS, REVISIONS, CROSS_SOURCE_SUMMARY)
