"""The extraction grammar: every pattern the extractor knows, in one module.

Pieces are small named regular expressions, composed bottom-up with f-strings:

    number -> range -> money figure (currency + number + scale) / percentage
    year -> point year ("by 2032", "in FY2024-25") / period ("during 2025-2032")
    CAGR keyword + percentage (+ period) -> growth-rate statement
    percentage + "of" + who -> share

Composable pieces (UPPER_CASE strings) carry no named groups, so they can be reused inside
one another; the compiled patterns (``*_RE``) add named groups at the top level only.
Lookup tables (``*_WORDS``) turn what was written into the DESIGN's words (§3: scales,
qualifiers, ISO currencies). ``extract.py`` combines matches; it writes no pattern of its own.

Standard library ``re`` only: no network, no model weights.
"""

import re


def words(text: str) -> frozenset[str]:
    """A word list written as prose (one place to read it, one line per few words)."""
    return frozenset(text.split())


# Numbers ----------------------------------------------------------------------------------

# A number as written. Thousands groups of three ("1,500"), Indian lakh grouping
# ("4,71,295", so that such a number is one token, never three), optional decimals.
NUM = r"(?:[0-9]{1,2}(?:,[0-9]{2})+,[0-9]{3}(?![0-9])|[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)(?:\.[0-9]+)?"
# A dash joining the ends of a range: hyphen, en dash, em dash.
DASH = r"[-\u2013\u2014]"
# A range "120-130", "120 – 130" or "80 to 90" (DESIGN §3 accepts all three).
RANGE_SEP = rf"(?:\s?{DASH}\s?|\s+to\s+)"
NUM_RANGE = rf"{NUM}(?:{RANGE_SEP}{NUM})?"
# Every number token of a text: what coverage must account for. Never starts inside a run
# of digits, so "FY2030" yields "2030" and "COVID-19" yields "19".
NUMBER_TOKEN_RE = re.compile(rf"(?<![0-9]){NUM}")
# Indian grouping is not a DESIGN literal (commas only in groups of three).
INDIAN_GROUPING_RE = re.compile(r"[0-9]{1,2}(?:,[0-9]{2})+,[0-9]{3}")
# A literal the loader accepts (mirrors ``core.numbers``; a test checks they agree): no
# leading zero, thousands groups of three, a range's ends joined by a dash or "to".
_DESIGN_INT = r"(?:[1-9][0-9]{0,2}(?:,[0-9]{3})+|0|[1-9][0-9]*)"
DESIGN_NUMBER_RE = re.compile(rf"^-?{_DESIGN_INT}(?:\.[0-9]+)?(?:\s*(?:{DASH}|to)\s*{_DESIGN_INT}(?:\.[0-9]+)?)?$")
# Digits a float keeps exactly; the loader refuses literals with more.
MAX_SIGNIFICANT_DIGITS = 15
# The two ends of a range literal, and the dash written between them.
RANGE_SPLIT_RE = re.compile(rf"(?<=[0-9])\s*(?:{DASH}|to)\s*")
DASH_SPACES_RE = re.compile(rf"\s*({DASH})\s*")

# Money: currency, scale -------------------------------------------------------------------

# Currency written before the number, as written -> ISO code. Longest forms first.
CURRENCY_BEFORE_WORDS: dict[str, str] = {
    "US$": "USD",
    "U.S.$": "USD",
    "USD": "USD",
    "$": "USD",
    "EUR": "EUR",
    "€": "EUR",
    "GBP": "GBP",
    "£": "GBP",
    "INR": "INR",
    "Rs.": "INR",
    "Rs": "INR",
    "₹": "INR",
    "JPY": "JPY",
    "¥": "JPY",
    "CNY": "CNY",
    "RMB": "CNY",
    "CHF": "CHF",
    "CAD": "CAD",
    "AUD": "AUD",
    "SGD": "SGD",
    "KRW": "KRW",
}
# Alphabetic codes must not end a longer word ("BRs 5"); symbols may follow anything.
CURRENCY_BEFORE = (
    r"(?:(?<![A-Za-z])(?:US\s?\$|U\.S\.\s?\$|USD|EUR|GBP|INR|Rs\.?|JPY|CNY|RMB|CHF|CAD|AUD|SGD|KRW)"
    r"|[$€£₹¥])"
)
# Currency written after the scale ("5 billion US dollars") -> ISO code, by first word.
CURRENCY_AFTER = (
    r"(?i:U\.?S\.?\s+dollars?|dollars?|USD|EUR|euros?|INR|rupees?|GBP|pounds?(?:\s+sterling)?"
    r"|yen|yuan|renminbi|CHF|Swiss\s+francs?)(?![A-Za-z])"
)
CURRENCY_AFTER_WORDS: dict[str, str] = {
    "us": "USD",
    "u.s.": "USD",
    "dollar": "USD",
    "usd": "USD",
    "eur": "EUR",
    "euro": "EUR",
    "inr": "INR",
    "rupee": "INR",
    "gbp": "GBP",
    "pound": "GBP",
    "yen": "JPY",
    "yuan": "CNY",
    "renminbi": "CNY",
    "chf": "CHF",
    "swiss": "CHF",
}

# Scale as written -> DESIGN scale. None marks an Indian unit the DESIGN does not have
# (1 crore = 10 million): converting it would change the digits written, so the figure is
# left for the analyst.
SCALE_WORDS: dict[str, str | None] = {
    "thousand": "thousand",
    "k": "thousand",
    "million": "million",
    "mn": "million",
    "mln": "million",
    "mio": "million",
    "m": "million",
    "billion": "billion",
    "bn": "billion",
    "bln": "billion",
    "b": "billion",
    "trillion": "trillion",
    "tn": "trillion",
    "trn": "trillion",
    "t": "trillion",
    "crore": None,
    "lakh crore": None,
    "lakh crores": None,
    "crores": None,
    "cr": None,
    "lakh": None,
    "lakhs": None,
    "lac": None,
}
# Word scales in any case ("Bn", "BN"); one-letter scales only in capitals ("$5B", "$750 M"),
# or in lower case when glued to the number ("$5m"), so "5 b" in prose is not a billion.
SCALE_WORD = (
    r"(?i:trillion|billion|million|thousand|lakh\s+crores?|crores?|lakhs?|lac|bn|bln|mn|mln|mio|tn|trn|cr)(?![A-Za-z])"
)
SCALE = rf"(?:{SCALE_WORD}|[BMKT](?![A-Za-z\-&])|(?<=[0-9])[bmk](?![A-Za-z\-]))"

# DESIGN scales in billions (what the loader's plausibility bound is written in).
SCALE_BILLIONS: dict[str, float] = {"thousand": 1e-6, "million": 1e-3, "billion": 1.0, "trillion": 1e3}

# Qualifiers -------------------------------------------------------------------------------

# Qualifier as written (lowercase, single-spaced) -> DESIGN qualifier (§3, §4).
QUALIFIER_WORDS: dict[str, str] = {
    "more than": "more than",
    "over": "over",
    "just over": "over",
    "well over": "over",
    "in excess of": "over",
    "upwards of": "over",
    "north of": "over",
    "above": "above",
    "at least": "at least",
    "a minimum of": "at least",
    "nearly": "nearly",
    "almost": "almost",
    "close to": "nearly",
    "under": "under",
    "just under": "under",
    "below": "under",
    "just below": "under",
    "less than": "less than",
    "about": "about",
    "around": "around",
    "approximately": "approximately",
    "approx.": "approximately",
    "approx": "approximately",
    "roughly": "roughly",
    "some": "about",
    "~": "about",
    "≈": "about",
}
# Verbs that state a bound on the figure they govern ("to exceed USD 10 billion").
QUALIFIER_VERB_WORDS: dict[str, str] = {
    "exceed": "over",
    "surpass": "over",
    "cross": "over",
    "top": "over",
    "approach": "nearly",
}
# Phrases the DESIGN has no qualifier for: the figure goes to `unassigned`, never guessed.
UNSUPPORTED_QUALIFIER_WORDS = ("up to", "at most", "a maximum of", "no more than")


def _alternation(phrases: list[str]) -> str:
    """Longest first, so "more than" wins over "over"; spaces match any whitespace."""
    escaped = [re.escape(p).replace(r"\ ", r"\s+") for p in sorted(phrases, key=len, reverse=True)]
    return "|".join(escaped)


QUALIFIER = rf"(?:(?<![A-Za-z])(?i:{_alternation([q for q in QUALIFIER_WORDS if q[0].isalpha()])})(?![A-Za-z])|[~≈])"
QUALIFIER_VERB = r"(?i:(?:exceed|surpass|cross|top|approach)(?:s|es|ed|ing|ped|ping)?)"
UNSUPPORTED_QUALIFIER = rf"(?i:{_alternation(list(UNSUPPORTED_QUALIFIER_WORDS))})"
# The qualifier just before a figure: a word, or a verb with an optional "the mark of".
QUALIFIER_BEFORE_RE = re.compile(
    rf"(?:(?P<qual>{QUALIFIER})|(?<![A-Za-z])(?P<verb>{QUALIFIER_VERB})(?:\s+the(?:\s+(?:mark|level|threshold)\s+of)?)?"
    rf"|(?<![A-Za-z])(?P<unsupported>{UNSUPPORTED_QUALIFIER}))\s*$"
)

# Money figures ----------------------------------------------------------------------------

# "USD 255 billion", "US$ 3.4 Bn", "$1.2B", "€3bn", "Rs 1,500 crore", "$500" (no scale).
MONEY_BEFORE_RE = re.compile(
    rf"(?P<cur>{CURRENCY_BEFORE})[ \u00a0]?(?P<tilde>~\s?)?(?P<num>{NUM_RANGE})"
    rf"(?:[ \u00a0]?(?P<scale>{SCALE}))?"
)
# "5.2 billion US dollars", "3 billion euros".
MONEY_AFTER_RE = re.compile(
    rf"(?<![0-9.,])(?P<num>{NUM_RANGE})[ \u00a0]?(?P<scale>{SCALE_WORD})\s+(?P<cur>{CURRENCY_AFTER})"
)
# "465 billion" with no currency: money only when the sentence already named a currency.
SCALED_NUMBER_RE = re.compile(rf"(?<![0-9.,$€£₹¥])(?P<num>{NUM_RANGE})[ \u00a0]?(?P<scale>{SCALE_WORD})")
# Words that may follow a currency-less "465 billion" when it is money; any other word
# ("1.2 billion doses") makes it a count.
MONEY_FOLLOWERS = words(
    """
    in by to and or at over during for from with as while which that is was were will the this a an
    respectively
    """
)
# The word right after a currency-less "465 billion".
WORD_AFTER_RE = re.compile(r"\s*([A-Za-z]+)")
# "from USD 5 to 7 billion": a start and an end, or a range? Left for the analyst.
FROM_BEFORE_RE = re.compile(r"(?i:from)\s+\S*\s*$")
# A money figure restated in another currency: "(EUR 4.6 billion)" right after a figure.
CONVERSION_GAP_RE = re.compile(r"^\s*[(\[]\s*(?:or\s+|about\s+|approx\.?\s+|~\s?)?$")
CLOSING_BRACKET_RE = re.compile(r"\s*[)\]]")

# Percentages ------------------------------------------------------------------------------

PERCENT_SIGN = r"(?:\s?%|\s?(?i:percent|per\s+cent|pct)(?![A-Za-z]))"
# "9%", "15.48 %", "-2.1%", "11-12%", "11% to 12%", "9 per cent".
PERCENT_RE = re.compile(
    rf"(?<![\w.])(?P<sign>[-−+])?(?P<a>{NUM})"
    rf"(?:(?:\s?%)?(?P<sep>{RANGE_SEP})(?P<sign_b>[-−])?(?P<b>{NUM}))?{PERCENT_SIGN}"
)

# Years ------------------------------------------------------------------------------------

YEAR4 = r"(?<![0-9])(?:19|20)[0-9]{2}(?![0-9])"
FY_PREFIX = r"(?:FY\s?'?|(?i:fiscal|financial)\s+(?i:year\s+)?)"
# "FY2030", "FY 2024-25", "FY25", "fiscal 2025", "FY2024/25".
FY_YEAR = rf"{FY_PREFIX}(?:19|20)?[0-9]{{2}}(?:\s?[-–/]\s?(?:FY\s?'?)?(?:19|20)?[0-9]{{2}})?(?![0-9])"
# "2024-25": an Indian fiscal year when the second part is the next year (checked in code).
SPLIT_YEAR = r"(?<![0-9])(?:19|20)[0-9]{2}[-–/][0-9]{2}(?![0-9])"
YEARISH = rf"(?:{FY_YEAR}|{SPLIT_YEAR}|{YEAR4})"
YEARISH_RE = re.compile(YEARISH)
# Parses one matched YEARISH: the groups that say which year it is.
YEAR_PARTS_RE = re.compile(
    rf"(?P<fy>{FY_PREFIX})?(?P<a>(?:19|20)?[0-9]{{2}})(?:\s?[-–/]\s?(?:FY\s?'?)?(?P<b>(?:19|20)?[0-9]{{2}}))?"
)
MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
# Prepositions that attach a year to the figure before them.
YEAR_PREP = (
    r"(?i:in|by|for|during|through|till|until|as\s+of|as\s+at|as\s+on|at\s+the\s+end\s+of"
    r"|by\s+the\s+end\s+of|by\s+end[-\s]of|by\s+end-|by\s+the\s+year|in\s+the\s+year|at\s+the\s+close\s+of"
    r"|in\s+calendar\s+year|in\s+the\s+fiscal\s+year)"
)
# A year range right after a point year means the year is a period, not a point.
NOT_A_PERIOD = rf"(?!\s?{DASH}\s?[0-9])(?!\s+(?:to|and|through)\s+(?:FY\s?)?[0-9]{{2}})"
# The year of the figure just before: "in 2025", "by 2032", "in FY2024-25", "(2024)",
# "in revenue in 2024", "in value by the end of 2030", "by March 2030".
YEAR_AFTER_RE = re.compile(
    rf"\)?(?:\s+(?i:on|for|of|from|across|in)(?:\s+[a-z][a-z-]*){{1,3}}(?=\s+{YEAR_PREP}\s)"
    rf"|(?:\s+[a-z][a-z-]*){{0,3}}\s+(?i:market|industry|sector)(?=\s+{YEAR_PREP}\s))?"
    rf"\s*,?\s*(?:{YEAR_PREP}\s*(?:the\s+)?(?:{MONTH}\s+)?(?P<year>{YEARISH}){NOT_A_PERIOD}"
    rf"|\(\s*(?P<year_paren>{YEARISH})\s*\))"
)
# A year stated before its figure, searched backwards in the clause: "In 2024, ...",
# "as of 2024 ...", "its 2024 revenue of ...".
YEAR_BEFORE_RE = re.compile(
    rf"(?:(?<![A-Za-z]){YEAR_PREP}\s*(?:the\s+)?(?:{MONTH}\s+)?(?P<year>{YEARISH}){NOT_A_PERIOD}"
    rf"|(?P<year_adj>{YEAR4})\s+(?i:market\s+)?(?i:size|value|valuation|revenues?|sales|turnover|estimate)\b)"
)
# Years that date an event, not a figure ("founded in 1998").
EVENT_YEAR_RE = re.compile(
    r"(?i:founded|established|incorporated|launched|set\s+up|acquired|since|opened|published)\s+(?:in\s+)?$"
)
# "currently valued at", "at present", "today": the year is `current` (DESIGN §3).
CURRENT_MARKER_RE = re.compile(
    r"(?<![A-Za-z])(?i:currently|presently|at\s+present|today|now|at\s+the\s+moment|this\s+year|as\s+things\s+stand)(?![A-Za-z])"
)
# A present-tense valuation right before the figure means `current` too: "is valued at".
PRESENT_VALUE_RE = re.compile(
    r"(?i:(?:is|are)\s+(?:currently\s+|now\s+|presently\s+)?(?:valued|worth|estimated|pegged|sized|put|placed)(?:\s+at)?"
    r"|(?:stands|stood\s+today)\s+at|is\s+worth|current\s+(?:market\s+)?(?:size|value|valuation)\s+(?:of|is)"
    r"|currently\s+(?:valued|worth|estimated|pegged)(?:\s+at)?)\s*$"
)
# Future words between a "current" marker and the figure undo it ("now expected to reach").
FUTURE_RE = re.compile(
    r"(?i:project|expect|forecast|anticipat|will\b|poised|set\s+to|likely|estimated\s+to|to\s+reach|to\s+hit)"
)
CURRENT_AFTER_RE = re.compile(
    r"(?:\s+[a-z]+)?\s*,?\s*(?i:currently|presently|at\s+present|today|now|as\s+of\s+today|at\s+the\s+moment)(?![A-Za-z])"
)
# "the peptide market ... USD 2.8 billion by 2030, the oligonucleotide market ... USD 3.4
# billion by the same year": the year of the figure before.
SAME_YEAR_AFTER_RE = re.compile(
    r"\s*,?\s*(?i:in|by|for)\s+(?i:the\s+)?(?i:same)\s+(?i:year|date|time(?:frame)?|point)(?![A-Za-z])"
)
# An aside between a figure and its year: "EUR 5.2 billion, or 24% of the total, in 2024".
ASIDE_AFTER_RE = re.compile(
    r"\s*,\s*(?i:or|i\.e\.|that\s+is|equal\s+to|representing|accounting\s+for|roughly|about|nearly|some)\s"
    r"[^,;:()0-9$€£₹¥]*[0-9.]+\s?%[^,;:()0-9$€£₹¥]{0,50}(?=,)"
)
# "In 2024, X accounted for USD 6.3 billion, followed by Europe at USD 3.9 billion": the
# opening year dates the listed figures unless a change or a later date comes between.
LISTING_BREAK_RE = re.compile(
    rf"(?i:(?<![A-Za-z])to(?![A-Za-z])|expect|forecast|project|anticipat|(?<![A-Za-z])will(?![A-Za-z])|reach"
    rf"|grow|grew|rise|rose|increase|climb|expand|double|hit|touch|surpass|exceed|declin|fall|fell)|{YEAR4}"
)
# A region as the subject of a listed figure: "North America accounted for", "Europe at".
REGION_PART_BEFORE_RE = re.compile(
    r"(?P<r>(?:[A-Z][\w.\-]*\s+){1,3}?)(?:alone\s+)?(?i:at|with|accounted\s+for|held|contributed|generated"
    r"|represented|made\s+up|was\s+worth|captured|stood\s+at|was\s+valued\s+at)\s+(?:[a-z]+\s+)?$"
)
# "from US$ 45 to over US$ 80 billion": the gap across which a scale is shared.
SCALE_SHARED_GAP_RE = re.compile(rf"^\s*(?:to|{DASH}|and)\s+(?:{QUALIFIER}\s+)?$")
# A money figure opening a share's population: "1% of the USD 1.5 trillion market".
POPULATION_MONEY_RE = re.compile(rf"(?i:the\s+)?(?:{CURRENCY_BEFORE})[ \u00a0]?{NUM_RANGE}(?:[ \u00a0]?{SCALE})?\s+")
# A paragraph about the publisher, not the market: "About MarketsandMarkets: ...", "About Us".
BOILERPLATE_RE = re.compile(
    r"\s*About\s+(?!the\s)(?:Us|[A-Z][\w&.'\-]*(?:\s+[A-Z][\w&.'\-]*){0,4})\s*(?::|\s[-–—]\s|$)"
)
# Trade flows are not a market's size: "Exports reached US$ 27.85 billion".
TRADE_RE = re.compile(r"(?<![A-Za-z])(?i:exports?|imports?)(?![A-Za-z])(?!\s+(?i:market|industry|sector))")
# "USD 4.1 billion and USD 4.6 billion in 2024 and 2025, respectively".
RESPECTIVELY_RE = re.compile(
    rf"(?i:in|for|by)\s+(?P<years>{YEARISH}(?:\s*,\s*{YEARISH})*,?\s+(?i:and)\s+{YEARISH}),?\s+(?i:respectively)"
)

# "entities approved in 2024": a participle between a share's population and its year.
PARTICIPLE_RE = re.compile(r"\s+[a-z]+ed(?=\s)")

# Periods ----------------------------------------------------------------------------------

_PERIOD_END = rf"(?:{YEARISH}|(?<=[-–—])[0-9]{{2}}(?![0-9]))"
PERIOD_LEAD = (
    r"(?i:(?:during|over|for|from|in|through|across|within|throughout|covering)\s+)?(?:the\s+)?"
    r"(?i:(?:forecast|projection|projected|review|study|assessment|analysis|outlook)\s+)?"
    r"(?i:(?:period|years|timeframe|horizon|window)\s*)?(?:(?i:of|from)\s+)?"
)
PERIOD_TRAIL = r"(?:\s+(?i:forecast\s+period|period|timeframe))?"
# "between 2025 and 2032"; "during 2025-2032"; "from 2025 to 2032";
# "over the forecast period 2025–2032"; "(2025-2032)"; "FY2024-25 to FY2029-30".
PERIOD = (
    rf"(?:(?i:between)\s+(?:the\s+years\s+)?{YEARISH}\s+(?i:and)\s+{YEARISH}"
    rf"|{PERIOD_LEAD}\(?\s?{YEARISH}\s?(?:{DASH}|\s(?i:to|through|until|till)\s)\s?{_PERIOD_END}\s?\)?{PERIOD_TRAIL})"
)
PERIOD_RE = re.compile(PERIOD)
# The period right after a CAGR: ", during 2025-2032".
PERIOD_AFTER_RE = re.compile(rf"\s*,?\s*(?P<period>{PERIOD})")
# The single years inside a matched period (a 2-digit end is completed from the start).
PERIOD_YEAR_RE = re.compile(rf"{YEARISH}|(?<=[-–—])[0-9]{{2}}(?![0-9])")
# A split year "2024-25" (fiscal year, or a short period "2025-32").
SPLIT_YEAR_RE = re.compile(r"(?P<a>[0-9]{4})[-–/](?P<b>[0-9]{2})(?![0-9])")
# A one-sided period after a CAGR ("through 2032", "from 2025"): kept as a note.
HALF_PERIOD_AFTER_RE = re.compile(
    rf"\s*,?\s*(?P<half>(?i:through|until|till|to|by|from|since|starting(?:\s+in)?)\s+(?:the\s+year\s+)?(?P<year>{YEARISH}))"
)

# Growth rates -----------------------------------------------------------------------------

CAGR_WORD = (
    r"(?i:CAGR|C\.A\.G\.R\.?|compound(?:ed)?\s+annual\s+growth\s+rate|compound(?:ed)?\s+annual\s+growth"
    r"|compound(?:ed)?\s+annual\s+rate|(?:average\s+)?annual(?:i[sz]ed)?\s+growth\s+rate"
    r"|annual(?:i[sz]ed)?\s+growth|annual(?:i[sz]ed)?\s+rate)(?![A-Za-z])"
)
CAGR_WORD_RE = re.compile(CAGR_WORD)
# Words after a percentage that make it a rate per year: "9% CAGR", "12% annually".
RATE_AFTER_RE = re.compile(
    rf"\s?\(?\s?(?P<kw>{CAGR_WORD}|(?i:annually|per\s+annum|p\.\s?a\.|per\s+year|a\s+year|each\s+year"
    r"|every\s+year|yearly|a\s+year\s+on\s+average))"
)
# Year-on-year growth is one year's change, never a CAGR.
YOY_RE = re.compile(
    r"\s?\(?\s?(?i:year[-\s]on[-\s]year|year[-\s]over[-\s]year|y-?o-?y|quarter[-\s]on[-\s]quarter|q-?o-?q|sequentially)"
)
# The gap between a CAGR keyword and its percentage: a few words, no figure, no clause break.
# A period may sit between them: "CAGR (2025-2032) of 9%", "CAGR 2025-2034: 13.1%".
CAGR_GAP_RE = re.compile(
    rf"^(?:\s*\((?P<paren>[^()]{{0,40}})\)|\s+(?P<bare>{YEARISH}\s?{DASH}\s?(?:{YEARISH}|[0-9]{{2}}(?![0-9]))))?"
    r"(?P<gap>[^0-9%.;!?]{0,60})$"
)
CLAUSE_BREAK_RE = re.compile(r"(?i:\b(?:and|but|while|whereas|although|however)\b)")
# Where a clause starts, reading backwards: punctuation or a conjunction.
CLAUSE_SPLIT_RE = re.compile(rf"[,;]|{CLAUSE_BREAK_RE.pattern}")
# Clause boundaries around a money figure, for the deal words next to it.
CLAUSE_BEFORE_SPLIT_RE = re.compile(r"[,;(]")
CLAUSE_AFTER_SPLIT_RE = re.compile(r"[,;.)]")
# A share's owner is the clause's subject: "..., while North America held a 38% share".
OWNER_CLAUSE_SPLIT_RE = re.compile(r"[,;(]|\b(?:and|while|whereas)\b")
# A CAGR that states a fall, written without a minus: "decline at 2.1% annually".
DECLINE_RE = re.compile(
    r"(?<![A-Za-z])(?i:declin(?:e|es|ed|ing)|decreas(?:e|es|ed|ing)|shrink(?:s|ing)?|shrank|contraction|negative"
    r"|(?:contract(?:s|ed|ing)?|fall(?:s|ing)?|fell|drop(?:s|ped|ping)?|slid(?:e|es|ing)?)(?=\s+(?:at|by)\b))"
)
# A period stated before the CAGR keyword: "a 2025–2032 CAGR of 9%".
PERIOD_BEFORE_CAGR_RE = re.compile(rf"(?P<period>{YEARISH}\s?{DASH}\s?{_PERIOD_END})\s+$")
# "to reach USD 9 billion" after a CAGR with a period: the value is at the period's end.
REACH_BEFORE_RE = re.compile(
    r"(?<![A-Za-z])(?i:to(?:\s+(?:reach|hit|touch|attain|achieve|exceed|surpass|cross|top))?|reaching|hitting"
    r"|touching|attaining)\s+$"
)
# Other percentages that state a change, for a clear `unassigned` reason.
CHANGE_RE = re.compile(
    r"(?i:grow|grew|growth|rise|rose|increase|jump|surge|gain|(?<![A-Za-z])up|(?<![A-Za-z])down|declin|decreas|fell|fall|drop)"
)

# Deals and company spending are not market figures: "a USD 150 million expansion".
DEAL_RE = re.compile(
    r"(?<![A-Za-z])(?i:invest(?:s|ed|ing|ment|ments)?|expansion|acquisitions?|acquir(?:e|es|ed|ing)|deal|raise[sd]?"
    r"|raising|series\s+[a-f]|financing|funding\s+round|capex|capital\s+expenditure|upfront|milestones?"
    r"|agreement|contract\s+(?:worth|valued)|buyout)(?![A-Za-z])"
)

# A change in value is not a market size: "grew by USD 12 billion".
INCREMENT_BEFORE_RE = re.compile(
    r"(?<![A-Za-z])(?i:(?:grow|grew|grows|growing|rose|rise|rises|rising|increased?|increases|increasing|expand(?:s|ed|ing)?"
    r"|declin(?:e|es|ed|ing)|fell|falls?|falling|drop(?:s|ped|ping)?|shr[ai]nk(?:s|ing)?)\s+by"
    r"|(?:an?\s+)?(?:increase|decrease|rise|drop|decline|addition|incremental\s+growth|absolute\s+growth)\s+of"
    r"|add(?:s|ed|ing)?)\s*$"
)

# Shares -----------------------------------------------------------------------------------

# "over 60% of pharma executives": who follows "of".
SHARE_OF_RE = re.compile(r"\s+(?i:of)\s+(?P<rest>[^.;:!?]*)")
# "... of USD 5 billion", "... of 2024": not a population.
NOT_A_POPULATION_RE = re.compile(r"\s*(?:[$€£₹¥]|USD|EUR|INR|[0-9])")
# "a 38% share", "38% market share".
SHARE_WORD_AFTER_RE = re.compile(r"\s+(?i:(?:market|revenue|volume|global|value)\s+)?(?i:share)(?![A-Za-z])")
# "a market share of 38%".
SHARE_WORD_BEFORE_RE = re.compile(r"(?i:share)\s+(?i:of|at|was|is|stood\s+at)\s+$")
# A percentage followed by what people do is a survey share: "72% plan to ...".
SURVEY_VERB_RE = re.compile(
    r"\)?\s+(?i:(?:of\s+(?:them|those|respondents)\s+)?(?:plan|plans|planned|say|said|expect|expected|believe|believed"
    r"|report|reported|consider|considered|see|saw|cite|cited|intend|intended|agree|agreed|use|prefer|preferred"
    r"|are|were|have|had|want|wanted|indicated|rate|rated|identified|named|chose|selected|outsource|outsourced))(?![A-Za-z])"
)
# Where the survey names who answered: "a survey of 150 biopharma executives".
SURVEY_OF_RE = re.compile(r"(?i:survey|poll|study|questionnaire)\s+of\s+(?:[0-9,]+\s+)?(?P<rest>[^.;:!?]*)")
# Verbs between a share's owner and its percentage: "North America held a 38% share".
SHARE_VERB_RE = re.compile(
    r"\s+(?i:holding|held|holds?|had|has|have|accounted\s+for|accounts?\s+for|accounting\s+for|captured|captures?"
    r"|commanded|commands?|represented|represents?|made\s+up|makes?\s+up|comprised|comprises?|contributed|contributes?"
    r"|took|takes?|dominated|dominates?|with)(?:\s+(?i:a|an|the|about|around|over|nearly|almost|roughly))*\s*$"
)

# Words that end a population phrase ("pharma executives | see AI as ...").
POPULATION_STOP = words(
    """
    in by for on at to from with as that who which whose and or but than said say says see sees saw
    expect expects expected plan plans planned believe believes report reports reported are is were
    was have has had will would could should may might can consider considers cite cited view views
    rank ranks agree agreed use used intend intends indicated indicate now currently already also
    still do does did according found find finds show shows showed revealed reveals suggest suggests
    noted notes
    """
)

# Verbs that end a population after a plural noun ("biotech start-ups | own facilities").
POPULATION_VERBS = words(
    """
    own run operate plan see use rely outsource prefer want need expect view believe consider report
    say cite rate rank agree favor favour keep hold face lack spend invest intend anticipate already
    now currently still remain control
    """
)

# Markets ----------------------------------------------------------------------------------

# Head nouns that name a market; a "market" followed by these words is not one.
MARKET_HEAD_RE = re.compile(
    r"(?<![A-Za-z-])(?i:market|industry|segment|sector|business)(?![A-Za-z-])"
    r"(?!\s+(?i:shocks?|leaders?|players?|participants?|conditions?|dynamics|access|entry|research|forces"
    r"|trends?|analysis|report|study|intelligence|demand|needs|pressures?|authoriz|approvals?|launch"
    r"|models?|units?|development|case|lines?))"
)
# Words the extractor treats as one: long forms with a standard acronym, parentheticals.
LONG_FORM_WORDS: dict[str, str] = {
    r"contract\s+development\s+(?:and|&)\s+manufacturing\s+organi[sz]ations?": "CDMO",
    r"contract\s+manufacturing\s+organi[sz]ations?": "CMO",
    r"contract\s+research\s+organi[sz]ations?": "CRO",
    r"active\s+pharmaceutical\s+ingredients?": "API",
    r"antibody[-\s]drug\s+conjugates?": "ADC",
    r"cell\s+(?:and|&)\s+gene\s+therap(?:y|ies)": "cell-and-gene-therapy",
}
NP_TOKEN_RE = re.compile(
    "|".join(f"(?P<lf{i}>(?i:{p}))" for i, p in enumerate(LONG_FORM_WORDS)) + r"|\([^()]*\)|[^\s()]+"
)
# Words that end a market's noun phrase when reading backwards from the head noun.
NP_BOUNDARY = words(
    """
    the a an this that these those its their our his her of in for to from by with at on as into is
    was are were be been being will would said says while whereas where which who and or but than
    overall total entire whole broader wider whose according alone within across per also has have
    had s if when whether so such both each every other another same own billion million trillion
    thousand bn mn usd eur inr gbp
    """
)
# Words that name no market: a fallback subject made only of these gets "market-pN".
GENERIC_SUBJECT_WORDS = words(
    """
    market markets size share value revenue revenues sales cagr key takeaways total overall the
    """
)
NP_POSSESSIVE = frozenset({"its", "their"})
# Gerunds that are nouns in a market's name ("contract manufacturing market").
NOUN_GERUNDS = words(
    """
    manufacturing outsourcing packaging testing processing filling compounding sequencing screening
    engineering marketing licensing printing pricing
    """
)
# Words that open a sentence before its subject ("In 2024, Lonza ...").
SUBJECT_SKIP = words(
    """
    the in by at for according this these its it our we a an as with from over during while however
    """
)
# Initialisms keep their dots inside a market's name: "U.S.", "U.K.".
INITIALISM_RE = re.compile(r"(?:[A-Z]\.){2,}")
POSSESSIVE_RE = re.compile(r"['’]s$")
NOT_SLUG_CHARS_RE = re.compile(r"[^a-z0-9-]+")
HYPHENS_RE = re.compile(r"-+")
LEADING_ARTICLE_RE = re.compile(r"^(?i:the)\s+")
# "the market for peptide therapeutics"; "the CDMO market in India".
MARKET_FOR_RE = re.compile(r"\s+(?i:for|of)\s+")
MARKET_IN_PLACE_RE = re.compile(r"\s+(?i:in)\s+(?:the\s+)?(?P<r>[A-Z][\w.\-]*(?:\s+[A-Z][\w.\-]*)?)")
# "In India, the pharma market ...": a region that opens the sentence.
LEADING_PLACE_RE = re.compile(r"\s*(?i:in)\s+(?P<r>[A-Z][\w.\- ]{1,25}?),")
# Slug words: synonyms and demonyms folded, so "Indian pharmaceutical" and "India's pharma"
# give the same market id.
SLUG_WORDS: dict[str, str] = {
    "pharmaceutical": "pharma",
    "pharmaceuticals": "pharma",
    "biopharmaceutical": "biopharma",
    "biopharmaceuticals": "biopharma",
    "worldwide": "global",
    "indian": "india",
    "chinese": "china",
    "european": "europe",
    "japanese": "japan",
    "korean": "korea",
    "german": "germany",
    "british": "uk",
    "u.s.": "us",
    "u.s": "us",
    "cdmos": "cdmo",
    "cmos": "cmo",
    "cros": "cro",
    "adcs": "adc",
    "apis": "api",
}
REGION_WORDS: dict[str, str] = {
    "global": "Global",
    "worldwide": "Global",
    "india": "India",
    "indian": "India",
    "china": "China",
    "chinese": "China",
    "us": "United States",
    "u.s.": "United States",
    "usa": "United States",
    "america": "United States",
    "europe": "Europe",
    "european": "Europe",
    "japan": "Japan",
    "japanese": "Japan",
    "korea": "South Korea",
    "korean": "South Korea",
    "germany": "Germany",
    "uk": "United Kingdom",
    "apac": "Asia Pacific",
    "emea": "EMEA",
    "latam": "Latin America",
}
# Two-word regions, checked before single words.
REGION_PAIRS: dict[str, str] = {
    "north america": "North America",
    "north american": "North America",
    "latin america": "Latin America",
    "latin american": "Latin America",
    "asia pacific": "Asia Pacific",
    "asia-pacific": "Asia Pacific",
    "middle east": "Middle East",
    "united states": "United States",
    "united kingdom": "United Kingdom",
    "south korea": "South Korea",
}
# A region named in the text before a possessive ("Take India ... Its pharma industry").
REGION_MENTION_RE = re.compile(
    r"(?<![A-Za-z])(?:North\s+America|Latin\s+America|Asia[-\s]Pacific|Middle\s+East|United\s+States"
    r"|United\s+Kingdom|South\s+Korea|India|China|Japan|Europe|Germany|U\.S\.|US|USA|UK|APAC)(?![A-Za-z])"
)
MODALITY_WORDS: dict[str, str] = {
    "biologics": "biologics",
    "biologic": "biologics",
    "small-molecule": "small molecules",
    "peptide": "peptides",
    "peptides": "peptides",
    "adc": "ADCs",
    "adcs": "ADCs",
    "cell-and-gene-therapy": "cell and gene therapy",
    "mrna": "mRNA",
    "oligonucleotide": "oligonucleotides",
    "oligonucleotides": "oligonucleotides",
    "vaccine": "vaccines",
    "vaccines": "vaccines",
}

# Numbers that are not figures (`ignored`) ------------------------------------------------

# "March 5, 2025", "5 March 2025", "2025-03-05", "05/03/2025", "March 2025".
DATE_RE = re.compile(
    rf"(?<![A-Za-z]){MONTH}\s+[0-9]{{1,2}}(?:st|nd|rd|th)?,?\s+(?:19|20)[0-9]{{2}}(?![0-9])"
    rf"|(?<![0-9])[0-9]{{1,2}}(?:st|nd|rd|th)?\s+{MONTH}\s*,?\s+(?:19|20)[0-9]{{2}}(?![0-9])"
    rf"|(?<![0-9])(?:19|20)[0-9]{{2}}-[01][0-9]-[0-3][0-9](?![0-9])"
    rf"|(?<![0-9])[0-9]{{1,2}}[/.][0-9]{{1,2}}[/.](?:19|20)?[0-9]{{2}}(?![0-9])"
    rf"|(?<![A-Za-z]){MONTH}\s+[0-9]{{1,2}}(?:st|nd|rd|th)?(?![0-9])(?!\s*%)"
    rf"|(?<![A-Za-z])(?:{MONTH}|Q[1-4]|H[12])\s*,?\s+(?:19|20)[0-9]{{2}}(?![0-9])"
)
TIME_RE = re.compile(r"(?<![0-9])[0-9]{1,2}:[0-9]{2}(?:\s?(?:[AaPp]\.?[Mm]\.?))?(?![0-9])")
PAGE_RE = re.compile(
    r"(?i:(?<![A-Za-z])page\s+[0-9]+(?:\s+of\s+[0-9]+)?|(?<![A-Za-z])pp?\.\s?[0-9]+(?:\s?[-–]\s?[0-9]+)?)"
)
# A paragraph that is only a page number: "12", "- 12 -", "Page 3 of 10".
PAGE_LINE_RE = re.compile(r"^\s*(?:[-–|]\s*)?(?i:page\s+)?[0-9]{1,4}(?:\s+(?i:of)\s+[0-9]{1,4})?(?:\s*[-–|])?\s*$")
# A list item number at the start of a paragraph: "1.", "2)", "(3)".
LIST_ORDINAL_RE = re.compile(r"^\s*\(?[0-9]{1,2}[.)]\s")
FOOTNOTE_RE = re.compile(r"\[[0-9]{1,3}\]|(?<=[a-z%.,;:)\]”\"’])[0-9]{1,2}(?=\s|$)")
REFERENCE_RE = re.compile(
    r"(?i:(?:figure|fig\.|table|exhibit|chart|section|chapter|appendix|step|part|slide|annex)\s+[0-9]+)"
)
RANK_RE = re.compile(
    r"(?i:top[-\s]?[0-9]+|#\s?[0-9]+|no\.\s?[0-9]+|number\s+[0-9]+|rank(?:ed|s|ing)?\s+(?:no\.\s?|number\s+|#)?[0-9]+)"
    r"|(?<![0-9])[0-9]+(?i:st|nd|rd|th)(?![A-Za-z])"
)
URL_RE = re.compile(r"(?i:https?://\S+|www\.\S+|\S+@\S+\.\S+)")
# Digits glued to letters: names and codes ("COVID-19", "Q3", "CO2", "5G", "3D").
CODE_RE = re.compile(r"[A-Za-z]+-?[0-9]+(?:\.[0-9]+)?[A-Za-z]*|[0-9]+[A-Za-z]+")
PHASE_RE = re.compile(r"(?i:phase|stage|tier|grade|class|level|version|gen(?:eration)?)\s+$")
DURATION_AFTER_RE = re.compile(r"^[-\s]?(?i:years?|months?|weeks?|days?|decades?|quarters?)(?![A-Za-z])")
MULTIPLE_AFTER_RE = re.compile(r"^\s?(?:x|times|-fold|fold)(?![A-Za-z])")
YEAR_TOKEN_RE = re.compile(r"(?:19|20)[0-9]{2}")

# Source metadata ---

# A publication date the loader accepts: a year or an ISO date.
PUBLISHED_RE = re.compile(r"^[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?$")
PRESS_RELEASE_RE = re.compile(
    r"(?i:PR\s?Newswire|Business\s?Wire|GLOBE\s?NEWSWIRE|ACCESSWIRE|EIN\s+Presswire|press\s+release)"
)

# Sentences and paragraphs -----------------------------------------------------------------

# Abbreviations whose period does not end a sentence.
ABBREVIATIONS = words(
    """
    rs approx est inc ltd co corp plc llc e.g i.e vs no nos fig figs p pp mr mrs ms dr st jan feb
    mar apr jun jul aug sep sept oct nov dec u.s u.k u.s.a etc al cf ca
    """
)
LINE_RE = re.compile(r"[^\n]+")
WORD_RE = re.compile(r"\S+")
SENTENCE_END_RE = re.compile(r"[.!?][\"”’')\]]*\s+(?=[\"“‘'(\[]?[A-Z0-9•\-–])")
