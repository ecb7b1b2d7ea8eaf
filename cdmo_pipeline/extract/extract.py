"""Draft a source file (DESIGN §3) from the plain text of an article or report.

The extractor reads sentence by sentence. In each sentence it finds money figures and
percentages (``grammar``), attaches years to them, tells CAGRs and shares from other
percentages, names the market each figure is about, and groups the figures of one market
into one trajectory claim. Nothing is dropped: every number token of the text ends up in a
claim, in ``unassigned`` (a number that may be a figure, with the reason it was not placed)
or in ``ignored`` (a number that is not a figure: a date, a page number, a list ordinal).
:func:`coverage` proves it, from the draft alone, for drafts and reviewed files alike.

Everything here is pure: text in, plain dicts out; no I/O, no Dagster.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

import yaml

from cdmo_pipeline.core.source_format import LOCATOR_MAX_WORDS, SLUG_RE
from cdmo_pipeline.core.validate import MAX_BILLIONS
from cdmo_pipeline.extract import grammar as g

Span = tuple[int, int]
Token = tuple[int, int, str]


# Text layout ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paragraph:
    """A non-empty line (DESIGN §2): its 1-based number and its span in the whole text."""

    number: int
    start: int
    end: int


def paragraphs(text: str) -> list[Paragraph]:
    """Non-empty lines, numbered from 1, with surrounding whitespace trimmed from the span."""
    out: list[Paragraph] = []
    for m in g.LINE_RE.finditer(text):
        body = m.group()
        if not body.strip():
            continue
        lead = len(body) - len(body.lstrip())
        out.append(Paragraph(len(out) + 1, m.start() + lead, m.start() + len(body.rstrip())))
    return out


def sentences(text: str, para: Paragraph) -> list[Span]:
    """Sentence spans of a paragraph; abbreviations ("Rs.", "U.S.") do not end a sentence."""
    out: list[Span] = []
    start = para.start
    for m in g.SENTENCE_END_RE.finditer(text, para.start, para.end):
        before = text[start : m.start()].rsplit(None, 1)
        word = before[-1].lstrip("([\"“'").lower() if before else ""
        if word.rstrip(".") in g.ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            continue
        end = m.start() + 1
        out.append((start, end))
        start = m.end()
    if start < para.end:
        out.append((start, para.end))
    return out


def number_tokens(text: str) -> list[Token]:
    """Every number written in ``text``: ``(start, end, literal)``, in order.

    "1,500" and "15.48" are one token each; a range "120-130" is two; "FY2024-25" gives
    "2024" and "25". Coverage must account for each of them.
    """
    return [(m.start(), m.end(), m.group()) for m in g.NUMBER_TOKEN_RE.finditer(text)]


# Small helpers ----------------------------------------------------------------------------


def _words(s: str) -> int:
    return len(s.split())


def _norm(s: str) -> str:
    return " ".join(s.lower().split())


def slugify(words: str, max_words: int = 6) -> str:
    """A lowercase slug (letters, digits, hyphens) from words, synonyms folded."""
    parts: list[str] = []
    for w in words.split():
        w = g.POSSESSIVE_RE.sub("", w.lower())
        w = g.SLUG_WORDS.get(w, g.SLUG_WORDS.get(w.strip(".,;:"), w))
        w = g.NOT_SLUG_CHARS_RE.sub("", w).strip("-")
        if w:
            parts.append(g.HYPHENS_RE.sub("-", w))
    return "-".join(parts[:max_words])


def point_year(written: str) -> str | None:
    """The year a written year stands for: "FY2024-25" -> "2025", "FY30" -> "2030".

    "2024-25" is a fiscal year only when its halves are consecutive; "2025-32" is a period
    and gives None.
    """
    m = g.YEAR_PARTS_RE.search(written)
    if m is None:
        return None
    a, b, fy = m.group("a"), m.group("b"), m.group("fy")
    if b is None:
        year = a if len(a) == 4 else "20" + a
    else:
        full_b = b if len(b) == 4 else (a[:2] if len(a) == 4 else "20") + b
        first = int(a if len(a) == 4 else "20" + a)
        if int(full_b) != first + 1 and not fy:
            return None
        year = full_b
    return year if 1900 <= int(year) <= 2100 else None


def period_years(written: str) -> tuple[str, str] | None:
    """``(from, to)`` of a written period: "2025-2032", "between 2025 and 2032", "2025-32"."""
    found = [m.group() for m in g.PERIOD_YEAR_RE.finditer(written)]
    split = g.SPLIT_YEAR_RE.search(found[0]) if len(found) == 1 else None
    if split:
        years = (split.group("a"), split.group("a")[:2] + split.group("b"))
    elif len(found) == 2:
        first = point_year(found[0])
        if first is None:
            return None
        second = found[1]
        years = (
            first,
            first[:2] + second if len(second) == 2 and not second.startswith("FY") else point_year(second) or "",
        )
    else:
        return None
    if not all(y.isdigit() and 1900 <= int(y) <= 2100 for y in years) or int(years[0]) >= int(years[1]):
        return None
    return years


def interval(literal: str, qualifier: str | None) -> tuple[float, float]:
    """The interval a literal stands for (DESIGN §4), enough to keep drafts loadable."""
    parts = [p.replace(",", "") for p in g.RANGE_SPLIT_RE.split(literal)]
    if len(parts) == 2:
        return _interval_one(parts[0], None)[0], _interval_one(parts[1], None)[1]
    return _interval_one(parts[0], qualifier)


def _interval_one(number: str, qualifier: str | None) -> tuple[float, float]:
    x = float(number)
    h = 0.5 * 10 ** -(len(number.split(".")[1]) if "." in number else 0)
    if qualifier in ("over", "more than", "above", "at least"):
        return x, x + 2 * h
    if qualifier in ("nearly", "almost", "under", "less than"):
        return x - 2 * h, x
    return x - h, x + h


def _qualifier(text: str, s0: int, start: int) -> tuple[str | None, str | None, int]:
    """The qualifier written just before ``start``: ``(design word, unsupported, new start)``."""
    pre = text[max(s0, start - 48) : start]
    m = g.QUALIFIER_BEFORE_RE.search(pre)
    if m is None:
        return None, None, start
    begin = start - len(pre) + m.start()
    if m.group("qual"):
        return g.QUALIFIER_WORDS[_norm(m.group("qual"))], None, begin
    if m.group("verb"):
        verb = m.group("verb").lower()
        for stem, qual in g.QUALIFIER_VERB_WORDS.items():
            if verb.startswith(stem):
                return qual, None, begin
    return None, _norm(m.group("unsupported") or ""), begin


def _literal(m: re.Match[str], group: str = "num") -> str:
    """A number or range as written, spaces around a dash dropped ("120 – 130" -> "120–130")."""
    return g.DASH_SPACES_RE.sub(r"\1", m.group(group))


# Figures found in a sentence --------------------------------------------------------------


@dataclass
class Market:
    id: str
    label: str
    region: str | None = None
    modality: str | None = None
    parent: str | None = None


@dataclass
class Atom:
    """One figure found in the text: a money value or a percentage, and what attaches to it."""

    kind: str  # "money" | "percent"
    start: int  # the figure as written, its qualifier included
    end: int
    literal: str  # the value as written (no currency, scale or "%")
    written: str  # the figure as written, for `unassigned`
    qualifier: str | None = None
    currency: str | None = None
    scale: str | None = None
    role: str = ""  # percent: "cagr" | "share" | "other"
    year: str | None = None
    period: tuple[str, str] | None = None
    note: str | None = None
    population: str | None = None
    problem: str | None = None  # why it goes to `unassigned`
    extras: list[Span] = field(default_factory=list)  # year phrases, keywords, periods
    market: Market | None = None
    explicit_market: bool = False
    flow: str | None = None  # "exports" / "imports": a trade figure, not the market's size

    @property
    def span(self) -> Span:
        return (self.start, self.end)


@dataclass
class Mention:
    start: int
    end: int
    market: Market | None  # None: "the market" (refers back)
    head: str


@dataclass
class Draft:
    """A trajectory claim being built."""

    market: Market
    paragraph: int
    currency: str | None = None
    values: list[Atom] = field(default_factory=list)
    cagr: Atom | None = None


class _Extractor:
    def __init__(self, text: str, published_year: int) -> None:
        self.text = text
        self.published_year = published_year
        self.paras = paragraphs(text)
        self.para_starts = [p.start for p in self.paras]
        self.markets: dict[str, Market] = {}
        self.context: Market | None = None  # the market the text is talking about
        self.drafts: list[Draft] = []
        self.shares: list[tuple[Atom, int]] = []
        self.unassigned: list[dict[str, Any]] = []
        self.consumed: list[tuple[Span, str]] = []  # year phrases used by figures

    # Pass over the text ------------------------------------------------------------------

    def run(self) -> None:
        for para in self.paras:
            if g.BOILERPLATE_RE.match(self.text, para.start, para.end):
                continue  # "About <publisher>: ... 80% of the Fortune 1000": not about the market
            para_drafts: list[Draft] = []
            for s0, s1 in sentences(self.text, para):
                self._sentence(para, s0, s1, para_drafts)

    def _sentence(self, para: Paragraph, s0: int, s1: int, para_drafts: list[Draft]) -> None:
        money = self._money(s0, s1)
        percents = self._percents(s0, s1, money)
        atoms = sorted(money + percents, key=lambda a: a.start)
        used: list[Span] = []
        for a in percents:
            self._classify_percent(a, s0, s1, atoms, used)
        self._money_years(money, percents, s0, s1, atoms, used)
        for a in percents:
            if a.role == "share":
                self._share_year(a, s0, s1, used)
        self._leftover_period(percents, s0, s1, used)
        mentions = self._mentions(para, s0, s1)
        for a in atoms:
            self._assign_market(a, mentions, para, s0)
        for m in mentions:
            if m.market is not None:
                self.context = m.market
        for a in atoms:
            if a.problem is None:
                self._bounds(a)
            if a.problem is None and a.kind == "money" and a.year is None:
                a.problem = "money value without a year"
            if a.problem is not None or (a.kind == "percent" and a.role == "other"):
                self._unassign(a)
        self._group(
            para, [a for a in atoms if a.problem is None and (a.kind == "money" or a.role == "cagr")], para_drafts
        )
        for a in percents:
            if a.problem is None and a.role == "share":
                self.shares.append((a, para.number))

    # Money ------------------------------------------------------------------------------

    def _money(self, s0: int, s1: int) -> list[Atom]:
        text = self.text
        found: list[Atom] = []

        def free(a: int, b: int) -> bool:
            return all(b <= x.start or a >= x.end for x in found)

        for m in g.MONEY_BEFORE_RE.finditer(text, s0, s1):
            if not free(*m.span()):
                continue
            atom = Atom("money", m.start(), m.end(), _literal(m), m.group())
            atom.currency = g.CURRENCY_BEFORE_WORDS.get("".join(m.group("cur").split()), "USD")
            self._money_scale(atom, m.group("scale"))
            if m.group("tilde"):
                atom.qualifier = "about"
            found.append(atom)
        for m in g.MONEY_AFTER_RE.finditer(text, s0, s1):
            if not free(*m.span()):
                continue
            atom = Atom("money", m.start(), m.end(), _literal(m), m.group())
            first = m.group("cur").split()[0].lower().rstrip("s")
            atom.currency = g.CURRENCY_AFTER_WORDS.get(first, g.CURRENCY_AFTER_WORDS.get(first + "s", "USD"))
            self._money_scale(atom, m.group("scale"))
            found.append(atom)
        for m in g.SCALED_NUMBER_RE.finditer(text, s0, s1):
            if not free(*m.span()):
                continue
            atom = Atom("money", m.start(), m.end(), _literal(m), m.group())
            self._money_scale(atom, m.group("scale"))
            follower = g.WORD_AFTER_RE.match(text, m.end(), s1)
            earlier = [x for x in found if x.currency and x.end <= m.start()]
            if follower and follower.group(1).lower() not in g.MONEY_FOLLOWERS:
                atom.problem = "number with a scale but no currency (a count, not money?)"
            elif not earlier:
                atom.problem = "number with a scale but no currency"
            else:
                atom.currency = max(earlier, key=lambda x: x.end).currency
            found.append(atom)
        found.sort(key=lambda a: a.start)
        # "from US$ 45 to over US$ 80 billion": the first end borrows the second's scale.
        for atom, nxt in itertools.pairwise(found):
            if (
                atom.problem == "money value without a scale"
                and nxt.problem is None
                and nxt.scale
                and nxt.currency == atom.currency
                and g.SCALE_SHARED_GAP_RE.match(text[atom.end : nxt.start])
            ):
                atom.problem, atom.scale = None, nxt.scale
        for i, atom in enumerate(found):
            self._money_checks(atom, found[i - 1] if i else None, s0)
        return found

    def _money_scale(self, atom: Atom, written: str | None) -> None:
        if not written:
            atom.problem = "money value without a scale"
            return
        key = " ".join(written.lower().split())
        if key not in g.SCALE_WORDS:
            atom.problem = f"unknown scale {written!r}"
            return
        scale = g.SCALE_WORDS[key]
        if scale is None:
            atom.problem = (
                f"scale {written!r} is not a DESIGN scale (1 crore = 10 million, 1 lakh = 100 thousand); "
                "convert by hand"
            )
        atom.scale = scale

    def _money_checks(self, atom: Atom, previous: Atom | None, s0: int) -> None:
        text = self.text
        qual, unsupported, begin = _qualifier(text, s0, atom.start)
        if qual and atom.qualifier is None:
            atom.qualifier, atom.start = qual, begin
        elif unsupported:
            atom.problem = atom.problem or f"qualifier {unsupported!r} has no DESIGN equivalent"
            atom.start = begin
        if " to " in atom.literal and g.FROM_BEFORE_RE.search(text[max(s0, atom.start - 12) : atom.start]):
            atom.problem = atom.problem or "ambiguous: a range, or a start and an end value"
        clause_before = g.CLAUSE_BEFORE_SPLIT_RE.split(text[s0 : atom.start])[-1].split()[-8:]
        clause_after = g.CLAUSE_AFTER_SPLIT_RE.split(text[atom.end : atom.end + 60])[0].split()[:4]
        if g.DEAL_RE.search(" ".join([*clause_before, "|", *clause_after])):
            atom.problem = atom.problem or "a deal, investment or company amount, not a market figure"
        if trade := g.TRADE_RE.search(" ".join(clause_before)):
            atom.flow = "imports" if trade.group().lower().startswith("import") else "exports"
        if g.INCREMENT_BEFORE_RE.search(text[max(s0, atom.start - 40) : atom.start]):
            atom.problem = atom.problem or "a change in value, not a market size"
        if (
            previous is not None
            and previous.problem is None
            and previous.currency
            and atom.currency
            and previous.currency != atom.currency
            and g.CONVERSION_GAP_RE.match(text[previous.end : atom.start])
        ):
            atom.problem = atom.problem or f"restates the {previous.currency} figure before it in {atom.currency}"
        self._range_checks(atom)

    def _range_checks(self, atom: Atom) -> None:
        if g.INDIAN_GROUPING_RE.search(atom.literal):
            atom.problem = atom.problem or "Indian digit grouping is not a DESIGN number"
        parts = g.RANGE_SPLIT_RE.split(atom.literal.lstrip("-"))
        if len(parts) != 2:
            return
        a, b = (float(p.replace(",", "")) for p in parts)
        if b <= a:
            atom.problem = atom.problem or "a range whose ends are not in increasing order (or not a range)"
        elif atom.qualifier and atom.qualifier not in ("about", "around", "approximately", "roughly"):
            atom.problem = atom.problem or f"a range with the qualifier {atom.qualifier!r} (a range takes only hedges)"

    def _bounds(self, a: Atom) -> None:
        """Figures the loader would refuse go to `unassigned` with the loader's reason."""
        digits = max(len(p.replace(",", "").replace(".", "").lstrip("-0")) for p in g.RANGE_SPLIT_RE.split(a.literal))
        if not g.DESIGN_NUMBER_RE.match(a.literal) or digits > g.MAX_SIGNIFICANT_DIGITS:
            a.problem = "not a number as the DESIGN writes one (leading zero, odd grouping or too many digits)"
            return
        low, high = interval(a.literal, a.qualifier)
        if a.kind == "money" and low <= 0:
            a.problem = a.problem or "with its qualifier the value may be zero or less; the loader refuses it"
        elif a.kind == "money" and high * g.SCALE_BILLIONS.get(a.scale or "", 1.0) > MAX_BILLIONS:
            a.problem = a.problem or f"implausibly large (over {MAX_BILLIONS:,.0f} billion)"
        elif a.role == "share" and (low < 0 or high > 100):
            a.problem = a.problem or "a share must lie between 0% and 100%, its rounding included"
        elif a.role == "cagr" and (low <= -100 or high > 1000):
            a.problem = a.problem or "a CAGR must lie between -100% and 1000%"

    # Percentages --------------------------------------------------------------------------

    def _percents(self, s0: int, s1: int, money: list[Atom]) -> list[Atom]:
        out: list[Atom] = []
        for m in g.PERCENT_RE.finditer(self.text, s0, s1):
            if any(not (m.end() <= x.start or m.start() >= x.end) for x in money):
                continue
            sign = "-" if (m.group("sign") or "") in "-−" and m.group("sign") else ""
            literal = sign + m.group("a")
            if m.group("b"):
                sep = m.group("sep").strip()
                literal += (f" {sep} " if sep == "to" else sep) + ("-" if m.group("sign_b") else "") + m.group("b")
            atom = Atom("percent", m.start(), m.end(), literal, m.group())
            qual, unsupported, begin = _qualifier(self.text, s0, m.start())
            if qual:
                atom.qualifier, atom.start = qual, begin
            elif unsupported:
                atom.problem, atom.start = f"qualifier {unsupported!r} has no DESIGN equivalent", begin
            if m.group("b"):
                self._range_checks(atom)
            out.append(atom)
        return out

    def _classify_percent(self, a: Atom, s0: int, s1: int, atoms: list[Atom], used: list[Span]) -> None:
        text = self.text
        pct_end = a.end
        if g.YOY_RE.match(text, pct_end, s1):
            a.role, a.problem = "other", "year-on-year change, not a CAGR"
            return
        kw_start = None
        after = g.RATE_AFTER_RE.match(text, pct_end, s1)
        if after:
            a.role = "cagr"
            a.extras.append((a.start, after.end("kw")))
            stated_end = after.end("kw")
        else:
            before = self._cagr_before(a, s0, atoms)
            if before is None:
                self._share_or_other(a, s0, s1)
                return
            kw_start, paren = before
            a.role = "cagr"
            a.extras.append((kw_start, a.end))
            stated_end = a.end
            if paren is not None and (p := period_years(paren[1])):
                a.period = p
        # A fall written without a minus: "decline at a CAGR of 2.1%".
        window_start = kw_start if kw_start is not None else a.start
        window = g.CLAUSE_SPLIT_RE.split(text[max(s0, window_start - 60) : window_start])[-1]
        if g.DECLINE_RE.search(window) and not a.literal.startswith("-"):
            if len(g.RANGE_SPLIT_RE.split(a.literal)) > 1:
                a.problem = "a falling CAGR written as a range: state both ends' signs by hand"
            else:
                a.literal = "-" + a.literal
        self._cagr_period(a, s0, s1, stated_end, kw_start, used)

    def _cagr_before(self, a: Atom, s0: int, atoms: list[Atom]) -> tuple[int, tuple[Span, str] | None] | None:
        """Where a CAGR keyword stated before the percentage starts, and any "(2025-2032)"."""
        text = self.text
        region_start = max([s0] + [x.end for x in atoms if x.end <= a.start and x is not a])
        kws = list(g.CAGR_WORD_RE.finditer(text, region_start, a.start))
        if not kws:
            return None
        kw = kws[-1]
        gap = text[kw.end() : a.start]
        m = g.CAGR_GAP_RE.match(gap)
        if m is None or g.CLAUSE_BREAK_RE.search(m.group("gap")):
            return None
        paren = None
        for group in ("paren", "bare"):
            if m.group(group) is not None:
                paren = ((kw.end() + m.start(group), kw.end() + m.end(group)), m.group(group))
        return kw.start(), paren

    def _cagr_period(self, a: Atom, s0: int, s1: int, pos: int, kw_start: int | None, used: list[Span]) -> None:
        text = self.text
        if a.period is None:
            m = g.PERIOD_AFTER_RE.match(text, pos, s1)
            if m and (p := period_years(m.group("period"))):
                a.period = p
                a.extras.append((a.start, m.end()))
                used.append(m.span("period"))
                return
            if kw_start is not None:
                before = g.PERIOD_BEFORE_CAGR_RE.search(text[s0:kw_start])
                if before and (p := period_years(before.group("period"))):
                    a.period = p
                    a.extras.append((s0 + before.start("period"), a.end))
                    return
            half = g.HALF_PERIOD_AFTER_RE.match(text, pos, s1)
            if half and (y := point_year(half.group("year"))):
                a.note = (
                    f"stated as running {half.group('half').split()[0].lower()} {y}; the period is not stated in full"
                )
                a.extras.append((a.start, half.end()))
                used.append(half.span("half"))

    def _of_population(self, pos: int, s1: int) -> tuple[str, int] | None:
        """The population after "of" at ``pos``: (words, end offset), if it names one."""
        of = g.SHARE_OF_RE.match(self.text, pos, s1)
        if of is None or g.NOT_A_POPULATION_RE.match(of.group("rest")):
            return None
        start = of.start("rest")
        # "1% of the USD 1.5 trillion pharma market": the population is the market after the figure.
        money = g.POPULATION_MONEY_RE.match(self.text, start, s1)
        if money is not None:
            start = money.end()
        rest = self.text[start : of.end("rest")]
        words = self._population(rest)
        return (words, start + self._population_len(rest)) if words else None

    def _share_or_other(self, a: Atom, s0: int, s1: int) -> None:
        text = self.text
        word_after = g.SHARE_WORD_AFTER_RE.match(text, a.end, s1)
        of = self._of_population(a.end, s1)
        if of and not word_after:
            a.role, a.population = "share", of[0]
            a.extras.append((a.start, of[1]))
            return
        pre = text[max(s0, a.start - 40) : a.start]
        before = g.SHARE_WORD_BEFORE_RE.search(pre)
        if word_after or before:
            a.role = "share"
            share_at = a.start - len(pre) + before.start() if before else a.start
            owner = self._owner(s0, share_at)
            whole = self._of_population(word_after.end(), s1) if word_after else None
            of_what = whole[0] if whole else "the market"
            a.population = f"{owner} share of {of_what}" if owner else f"share of {of_what}"
            if word_after:
                a.extras.append((a.start, whole[1] if whole else word_after.end()))
            return
        survey = g.SURVEY_VERB_RE.match(text, a.end, s1)
        if survey:
            para_start = self.paras[self.paragraph_of(a.start) - 1].start
            asked = list(g.SURVEY_OF_RE.finditer(text, para_start, a.start))
            who = self._population(asked[-1].group("rest")) if asked else ""
            a.role, a.population = "share", who or "respondents"
            return
        a.role = "other"
        change = g.CHANGE_RE.search(text[max(s0, a.start - 40) : a.start])
        a.problem = (
            "percentage change, not a CAGR or a share" if change else "percentage that is neither a CAGR nor a share"
        )
        year = g.YEAR_AFTER_RE.match(text, a.end, s1)
        if year:
            a.extras.append((a.start, year.end()))

    @staticmethod
    def _population_len(rest: str) -> int:
        """Characters of ``rest`` that name the population."""
        end = 0
        for m in g.WORD_RE.finditer(rest):
            word = m.group()
            core = word.strip(",;:()\"“”'’").lower()
            if core in g.POPULATION_STOP or any(c.isdigit() for c in core) or _words(rest[: m.end()]) > 6:
                break
            end = m.start() + len(word.rstrip(",;:)\"”'’"))
            if word != word.rstrip(",;:)"):
                break
            # A plural noun followed by a verb ends it: "biotech start-ups | own ...".
            nxt = rest[m.end() :].split()[:1]
            if core.endswith("s") and nxt and (nxt[0].lower() in g.POPULATION_VERBS or nxt[0].endswith("ed")):
                break
        return end

    def _population(self, rest: str) -> str:
        words = rest[: self._population_len(rest)].split()
        while words and words[0].lower() in ("the", "all", "a", "an"):
            words.pop(0)
        return " ".join(words)

    def _owner(self, s0: int, end: int) -> str:
        """Who holds a share: the words before "held a" / "with a share of" in the clause."""
        clause = g.OWNER_CLAUSE_SPLIT_RE.split(self.text[s0:end])[-1]
        verb = g.SHARE_VERB_RE.search(clause)
        if verb is None:
            return ""
        if verb.group().split()[0].lower() == "with":  # "X dominated ... with a share of"
            return self._subject(s0, end)
        words = [w for w in clause[: verb.start()].split() if w.lower() not in ("the", "with")]
        return " ".join(words[-5:]) or self._subject(s0, end)

    def _subject(self, s0: int, end: int) -> str:
        """Capitalised words opening the sentence ("North America held ..."), if any."""
        words = self.text[s0:end].split()
        out: list[str] = []
        for w in words:
            core = w.strip(',;:"“”')
            if not out and core.lower() in g.SUBJECT_SKIP:
                continue
            if core[:1].isupper() and not any(c.isdigit() for c in core):
                out.append(core)
                if w != core and w.rstrip(",;:") != w:
                    break
                continue
            break
        return " ".join(out[:4])

    # Years --------------------------------------------------------------------------------

    def _money_years(
        self, money: list[Atom], percents: list[Atom], s0: int, s1: int, atoms: list[Atom], used: list[Span]
    ) -> None:
        text = self.text
        live = [a for a in money if a.problem is None or a.problem.startswith("scale")]
        for i, a in enumerate(live):
            m = g.YEAR_AFTER_RE.match(text, a.end, s1)
            aside = g.ASIDE_AFTER_RE.match(text, a.end, s1) if m is None else None
            if aside is not None:  # "EUR 5.2 billion, or 24% of the total, in 2024"
                m = g.YEAR_AFTER_RE.match(text, aside.end(), s1)
            same = g.SAME_YEAR_AFTER_RE.match(text, a.end, s1) if m is None and i else None
            if same is not None and live[i - 1].year not in (None, "current"):
                a.year = live[i - 1].year
                a.extras.append((a.start, same.end()))
                used.append((a.end, same.end()))
                self.consumed.append(((a.end, same.end()), "year"))
                continue
            # "EUR 42 billion (USD 45.5 billion) in 2024": the year follows the restatement.
            twin = next((x for x in money if x.start >= a.end and (x.problem or "").startswith("restates")), None)
            if m is None and twin is not None and g.CONVERSION_GAP_RE.match(text[a.end : twin.start]):
                close = g.CLOSING_BRACKET_RE.match(text[twin.end : s1])
                m = g.YEAR_AFTER_RE.match(text, twin.end + (close.end() if close else 0), s1)
            if m:
                group = "year" if m.group("year") else "year_paren"
                year = point_year(m.group(group))
                if year:
                    a.year = year
                    a.extras.append((a.start, m.end()))
                    used.append((a.end, m.end()))
                    self.consumed.append(((a.end, m.end()), "year"))
                    continue
            cur = g.CURRENT_AFTER_RE.match(text, a.end, s1)
            if cur:
                a.year = "current"
                a.extras.append((a.start, cur.end()))
        # "USD 4.1 billion and USD 4.6 billion in 2024 and 2025, respectively".
        for m in g.RESPECTIVELY_RE.finditer(text, s0, s1):
            years = [point_year(y.group()) for y in g.YEARISH_RE.finditer(m.group("years"))]
            waiting = [a for a in live if a.year is None and a.end <= m.start()]
            if len(waiting) == len(years) and all(years):
                for a, y in zip(waiting, years, strict=True):
                    a.year = y
                waiting[-1].extras.append((waiting[-1].start, m.end()))
                used.append(m.span())
        # "from USD 5 billion to USD 9 billion between 2024 and 2030".
        waiting = [a for a in live if a.year is None]
        # The period may be the CAGR's too: it states the values' years all the same.
        periods = (
            [m for m in g.PERIOD_RE.finditer(text, s0, s1) if period_years(m.group())] if len(waiting) == 2 else []
        )
        if len(waiting) == 2 and len(periods) == 1:
            years = period_years(periods[0].group())
            assert years is not None
            for a, y in zip(waiting, years, strict=True):
                a.year = y
            waiting[1].extras.append((min(waiting[1].start, periods[0].start()), max(waiting[1].end, periods[0].end())))
            used.append(periods[0].span())
        # "..., at a CAGR of 9% over 2025-2032, to reach USD 465 billion".
        cagr_periods = [p for p in percents if p.role == "cagr" and p.period]
        for a in live:
            if a.year is None and cagr_periods and g.REACH_BEFORE_RE.search(text[max(s0, a.start - 30) : a.start]):
                a.year = cagr_periods[0].period[1]  # type: ignore[index]
        # A year or "currently" stated earlier in the clause: "In 2024, the market was ...".
        for a in live:
            if a.year is None:
                self._year_before(a, s0, atoms, used)

    def _year_before(self, a: Atom, s0: int, atoms: list[Atom], used: list[Span]) -> None:
        text = self.text
        region_start = max([s0] + [x.end for x in atoms if x.end <= a.start and x is not a])
        best: tuple[int, str, Span] | None = None
        for m in g.YEAR_BEFORE_RE.finditer(text, region_start, a.start):
            if any(u[0] <= m.start() < u[1] or m.start() <= u[0] < m.end() for u in used):
                continue
            if g.EVENT_YEAR_RE.search(text[max(s0, m.start() - 30) : m.start()]):
                continue
            year = point_year(m.group("year") or m.group("year_adj"))
            if year:
                best = (m.end(), year, m.span())
        for m in g.CURRENT_MARKER_RE.finditer(text, region_start, a.start):
            if g.FUTURE_RE.search(text[m.end() : a.start]):
                continue
            if best is None or m.end() > best[0]:
                best = (m.end(), "current", m.span())
        present = g.PRESENT_VALUE_RE.search(text[region_start : a.start])
        if present and best is None:
            best = (a.start, "current", (a.start, a.start))
        if best is None:
            # "In 2024, X accounted for USD 6.3 billion, followed by Europe at USD 3.9 billion".
            lead = g.YEAR_BEFORE_RE.match(text, s0, a.start)
            year = point_year(lead.group("year")) if lead and lead.group("year") else None
            if year and not g.LISTING_BREAK_RE.search(text, lead.end(), a.start):
                a.year = year
                return
        if best is None:
            return
        _, year, span = best
        a.year = year
        if span[1] > span[0]:
            a.extras.append((min(span[0], a.start), a.end))
            used.append(span)
            self.consumed.append((span, "year"))

    def _share_year(self, a: Atom, s0: int, s1: int, used: list[Span]) -> None:
        text = self.text
        end = max([a.end] + [e for _, e in a.extras])
        participle = g.PARTICIPLE_RE.match(text, end, s1)
        m = g.YEAR_AFTER_RE.match(text, participle.end() if participle else end, s1)
        if m and (year := point_year(m.group("year") or m.group("year_paren"))):
            a.year = year
            a.extras.append((a.start, m.end()))
            used.append((end, m.end()))
            return
        # "In 2024, 45% of CDMOs ...": a year opening the sentence.
        lead = g.YEAR_BEFORE_RE.match(text, s0, a.start)
        year = point_year(lead.group("year")) if lead and lead.group("year") else None
        if lead and year and not any(u[0] <= lead.start() < u[1] for u in used):
            a.year = year
            a.extras.append((lead.start(), a.end))
            used.append(lead.span())
            self.consumed.append((lead.span(), "year"))

    def _leftover_period(self, percents: list[Atom], s0: int, s1: int, used: list[Span]) -> None:
        """A period stated elsewhere in the sentence goes to the one CAGR without one."""
        open_cagrs = [p for p in percents if p.role == "cagr" and p.period is None and p.problem is None]
        if len(open_cagrs) != 1:
            return
        free = [
            m
            for m in g.PERIOD_RE.finditer(self.text, s0, s1)
            if period_years(m.group()) and not any(u[0] < m.end() and m.start() < u[1] for u in used)
        ]
        if len(free) == 1:
            a = open_cagrs[0]
            a.period = period_years(free[0].group())
            a.note = None
            a.extras.append((min(a.start, free[0].start()), max(a.end, free[0].end())))
            used.append(free[0].span())
            self.consumed.append((free[0].span(), "period"))

    # Markets ------------------------------------------------------------------------------

    def _mentions(self, para: Paragraph, s0: int, s1: int) -> list[Mention]:
        text = self.text
        out: list[Mention] = []
        ctx = self.context  # the market named last, for a segment's parent
        for head in g.MARKET_HEAD_RE.finditer(text, s0, s1):
            words, first, possessive = self._np_before(s0, head.start())
            after, after_end, after_is_region = self._np_after(head.end(), s1)
            region = None
            names = after + [w for w, _ in words] if after_is_region else [w for w, _ in words] + after
            if not any(self._region_of(n) for n in self._pairs(names)):
                region = self._region_nearby(para, s0, head.start(), possessive)
            if region:
                names = [region, *names]
            slug = slugify(" ".join(names))
            if not slug:
                out.append(Mention(head.start(), head.end(), None, head.group()))
                continue
            label_start = first if words else head.start()
            label = " ".join(text[label_start : max(head.end(), after_end)].split())
            label = g.LEADING_ARTICLE_RE.sub("", label)
            if region and not label.lower().startswith(region.lower()):
                label = f"{region} {label}"
            label = label[:1].upper() + label[1:]
            market = self.markets.get(slug) or Market(slug, label)
            if slug not in self.markets:
                market.region = next((r for r in map(self._region_of, self._pairs(names)) if r), None)
                market.modality = next((g.MODALITY_WORDS[w] for w in slug.split("-") if w in g.MODALITY_WORDS), None)
                if "small-molecule" in slug:
                    market.modality = "small molecules"
                if "cell-and-gene-therapy" in slug:
                    market.modality = "cell and gene therapy"
                self.markets[slug] = market
            market.parent = market.parent or self._parent(head.group(), slug, ctx)
            out.append(Mention(head.start(), head.end(), market, head.group()))
            ctx = market
        return out

    def _parent(self, head: str, slug: str, ctx: Market | None) -> str | None:
        """The market a "segment" belongs to: the one the text was on, when its name is part of
        the segment's ("global-cdmo" for "biologics-cdmo") and its region too. A guess the
        analyst confirms; a loose guess would clash with other sources' declarations, so it
        stays strict."""
        words = set(slug.split("-"))
        if head.lower() != "segment" or ctx is None or ctx.id == slug or "global" in words:
            return None
        parent_words = set(ctx.id.split("-")) - {"global"}
        core = {w for w in parent_words if not self._region_of(w)}
        if not (core and parent_words <= words and core < words):
            return None
        ancestor: Market | None = ctx
        while ancestor is not None:  # parents form no cycle (DESIGN §3)
            if ancestor.id == slug:
                return None
            ancestor = self.markets.get(ancestor.parent) if ancestor.parent else None
        return ctx.id

    def _np_before(self, s0: int, head_start: int) -> tuple[list[tuple[str, int]], int, bool]:
        """Words naming the market, read backwards from its head noun: (words, start, possessive)."""
        pre = self.text[s0:head_start]
        words: list[tuple[str, int]] = []
        possessive = False
        for tok in reversed(list(g.NP_TOKEN_RE.finditer(pre))):
            t = tok.group()
            if tok.lastgroup and tok.lastgroup.startswith("lf"):
                words.insert(0, (list(g.LONG_FORM_WORDS.values())[int(tok.lastgroup[2:])], s0 + tok.start()))
                continue
            if t.startswith("("):
                continue
            core = t.strip("\"“”‘’'")
            low = core.lower()
            if low in g.NP_POSSESSIVE:
                possessive = True
                break
            if g.INITIALISM_RE.fullmatch(core):
                words.insert(0, (core, s0 + tok.start()))
                continue
            if (
                core != core.rstrip(",;:.!?")
                or low in g.NP_BOUNDARY
                or (any(c.isdigit() for c in core) and not any(c.isalpha() for c in core))
                or (low.endswith("ly") and low not in ("supply",))
                or (low.endswith("ing") and low not in g.NOUN_GERUNDS)
                or len(words) >= 6
            ):
                break
            words.insert(0, (core, s0 + tok.start()))
        first = words[0][1] if words else head_start
        return words, first, possessive

    def _np_after(self, head_end: int, s1: int) -> tuple[list[str], int, bool]:
        """Words after the head: "the market for peptide therapeutics" (words, end, is a region)."""
        m = g.MARKET_FOR_RE.match(self.text, head_end, s1)
        if not m:
            # "the CDMO market in India": the region after the head.
            place = g.MARKET_IN_PLACE_RE.match(self.text, head_end, s1)
            if place:
                name = place.group("r").rstrip(".,")
                for cand in (name, name.split()[0]):
                    if self._region_of(cand.lower().replace("-", " ")) or self._region_of(cand.lower()):
                        return [cand], place.start("r") + len(cand), True
            return [], head_end, False
        out: list[str] = []
        end = head_end
        for tok in g.WORD_RE.finditer(self.text, m.end(), s1):
            core = tok.group().strip("\"“”‘’'")
            bare = core.rstrip(",;:.!?")
            low = bare.lower()
            if not out and low in ("the", "a", "an"):
                continue
            if low in g.NP_BOUNDARY or any(c.isdigit() for c in core) or len(out) >= 5:
                break
            if low.endswith("ing") and low not in g.NOUN_GERUNDS:
                break
            out.append(bare)
            end = tok.start() + len(bare)
            if core != bare:
                break
        return out, end, False

    @staticmethod
    def _pairs(names: list[str]) -> list[str]:
        low = [g.POSSESSIVE_RE.sub("", n.lower()) for n in names]
        return [f"{a} {b}" for a, b in itertools.pairwise(low)] + low

    @staticmethod
    def _region_of(word: str) -> str | None:
        return g.REGION_PAIRS.get(word) or g.REGION_WORDS.get(word.strip(".,"))

    def _region_nearby(self, para: Paragraph, s0: int, head_start: int, possessive: bool) -> str | None:
        """A region the market belongs to though its name omits it: "In India, the pharma
        market ...", or "Take India ... Its pharma industry"."""
        lead = g.LEADING_PLACE_RE.match(self.text[s0:head_start])
        candidates: list[str] = []
        if lead:
            candidates.append(lead.group("r"))
        if possessive:
            candidates += [m.group() for m in g.REGION_MENTION_RE.finditer(self.text, para.start, head_start)][::-1]
        for c in candidates:
            region = self._region_of(c.lower().replace("-", " ")) or self._region_of(c.lower())
            if region:
                return c
        return None

    def _assign_market(self, a: Atom, mentions: list[Mention], para: Paragraph, s0: int) -> None:
        before = [m for m in mentions if m.start < a.start]
        after = [m for m in mentions if m.start >= a.start]
        chosen = before[-1] if before else (after[0] if after else None)
        if chosen is not None and chosen.market is not None:
            a.market, a.explicit_market = chosen.market, True
            self._regional_part(a, s0)
            self._trade_flow(a)
            return
        if chosen is not None:  # "the market": the one named last
            idx = mentions.index(chosen)
            earlier = [m.market for m in mentions[:idx] if m.market is not None]
            a.market = earlier[-1] if earlier else self.context
        else:
            a.market = self.context
        if a.market is not None:
            self._regional_part(a, s0)
            self._trade_flow(a)
        if a.market is None:
            subject = self._subject(s0, a.start)
            slug = slugify(" ".join(w for w in subject.split() if w.lower() not in g.GENERIC_SUBJECT_WORDS))
            a.market = Market(
                f"{slug}-market" if slug else f"market-p{para.number}",
                f"DRAFT: {subject or 'market'} (paragraph {para.number})",
            )

    def _regional_part(self, a: Atom, s0: int) -> None:
        """ "North America accounted for USD 6.3 billion of the global ... market": the figure is
        the region's part, a market of its own whose parent is the one named."""
        m = g.REGION_PART_BEFORE_RE.search(self.text, max(s0, a.start - 60), a.start)
        whole = a.market
        if m is None or whole is None:
            return
        words = m.group("r").split()
        region = next((r for r in map(self._region_of, self._pairs(words)) if r), None)
        if region is None or region == whole.region:
            return
        core = [w for w in whole.id.split("-") if not self._region_of(w)]
        slug = slugify(" ".join([region, *core]))
        if slug == whole.id:
            return
        market = self.markets.get(slug)
        if market is None:
            label = " ".join(whole.label.split()[1:]) if whole.region else whole.label
            if label[1:2].islower():  # "Global X market" -> "North America x market"; keep "API"
                label = label[:1].lower() + label[1:]
            market = Market(slug, f"{region} {label}")
            market.region, market.modality, market.parent = region, whole.modality, whole.id
            self.markets[slug] = market
        a.market = market

    def _trade_flow(self, a: Atom) -> None:
        """ "Exports reached US$ 27.85 billion": a market of its own beside the one talked about."""
        whole = a.market
        if a.flow is None or whole is None or whole.id.endswith(a.flow):
            return
        slug = f"{whole.id}-{a.flow}"
        if slug not in self.markets:
            market = Market(slug, f"{whole.label} ({a.flow})")
            market.region, market.modality = whole.region, whole.modality
            self.markets[slug] = market
        a.market = self.markets[slug]

    # Claims -------------------------------------------------------------------------------

    def _group(self, para: Paragraph, atoms: list[Atom], para_drafts: list[Draft]) -> None:
        """One trajectory per market in a sentence; a CAGR alone may join the paragraph's claim."""
        here: list[Draft] = []
        for a in atoms:
            assert a.market is not None
            if a.kind == "money":
                target = next(
                    (
                        d
                        for d in here
                        if d.market.id == a.market.id
                        and d.currency == a.currency
                        and not any(self._years_of(v.year) & self._years_of(a.year) for v in d.values)
                    ),
                    None,
                )
                if target is None:
                    target = Draft(a.market, para.number, a.currency)
                    here.append(target)
                target.values.append(a)
        for a in atoms:
            assert a.market is not None
            if a.kind != "percent":
                continue
            candidates = [d for d in here if d.market.id == a.market.id and d.cagr is None and self._fits(d, a)]
            if not candidates and not any(d.market.id == a.market.id for d in here):
                candidates = [
                    d
                    for d in reversed(para_drafts)
                    if d.market.id == a.market.id and d.cagr is None and d.values and self._fits(d, a)
                ][:1]
            if candidates:
                candidates[0].cagr = a
            else:
                here.append(Draft(a.market, para.number, None, [], a))
        para_drafts.extend(here)
        self.drafts.extend(here)

    def _fits(self, d: Draft, cagr: Atom) -> bool:
        """A CAGR joins a claim whose values its period does not miss."""
        if cagr.period is None or not d.values:
            return True
        years = [self._year_key(v.year) for v in d.values]
        return not (int(cagr.period[1]) < min(years) or int(cagr.period[0]) > max(years))

    def _years_of(self, year: str | None) -> set[int]:
        """Years a value may stand at: "current" is the publication year or the one before."""
        if year == "current":
            return {self.published_year, self.published_year - 1}
        return {int(year)} if year else set()

    def _year_key(self, year: str | None) -> int:
        return self.published_year if year in (None, "current") else int(year)  # type: ignore[arg-type]

    def _unassign(self, a: Atom) -> None:
        span = self._locator_span(a)
        self.unassigned.append(
            {
                "literal": a.written,
                "reason": a.problem or "",
                "locator": self.locator(span),
            }
        )

    # Locators -----------------------------------------------------------------------------

    def paragraph_of(self, pos: int) -> int:
        i = bisect_right(self.para_starts, pos) - 1
        return self.paras[max(i, 0)].number

    def locator(self, span: Span) -> dict[str, Any]:
        s, e = span
        return {"paragraph": self.paragraph_of(s), "text": self.text[s:e], "start": s, "end": e}

    def _locator_span(self, a: Atom) -> Span:
        """The figure's own words plus what attaches to it, while that stays within 15 words."""
        span = a.span
        for extra in sorted(a.extras, key=lambda x: x[1] - x[0]):
            wider = (min(span[0], extra[0]), max(span[1], extra[1]))
            if _words(self.text[wider[0] : wider[1]]) <= LOCATOR_MAX_WORDS:
                span = wider
        return span


# Assembling the document ------------------------------------------------------------------


def _value_doc(ex: _Extractor, a: Atom) -> dict[str, Any]:
    out: dict[str, Any] = {"year": a.year, "value": a.literal, "scale": a.scale}
    if a.qualifier:
        out["qualifier"] = a.qualifier
    out["locator"] = ex.locator(ex._locator_span(a))
    return out


def _cagr_doc(ex: _Extractor, a: Atom) -> dict[str, Any]:
    out: dict[str, Any] = {"value": a.literal}
    if a.qualifier:
        out["qualifier"] = a.qualifier
    if a.period:
        out["period"] = {"from": a.period[0], "to": a.period[1]}
    if a.note:
        out["note"] = a.note
    out["locator"] = ex.locator(ex._locator_span(a))
    return out


def _unique(base: str, taken: set[str]) -> str:
    base = base if re.fullmatch(SLUG_RE, base) else "claim"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def _claim_locator(ex: _Extractor, spans: list[Span], paragraph: int) -> dict[str, Any]:
    whole = (min(s for s, _ in spans), max(e for _, e in spans))
    if _words(ex.text[whole[0] : whole[1]]) <= LOCATOR_MAX_WORDS:
        return ex.locator(whole)
    first = min(spans)
    return ex.locator(first) | {"paragraph": paragraph}


def _trajectory(ex: _Extractor, d: Draft, cid: str) -> dict[str, Any]:
    claim: dict[str, Any] = {"id": cid, "kind": "trajectory", "market": d.market.id}
    if d.currency:
        claim["currency"] = d.currency
    values = sorted(d.values, key=lambda v: (ex._year_key(v.year), v.year != "current"))
    spans = [ex._locator_span(v) for v in values] + ([ex._locator_span(d.cagr)] if d.cagr else [])
    if len(values) == 1:
        v = values[0]
        year = ex._year_key(v.year)
        if d.cagr is not None and d.cagr.period:
            is_end = v.year == d.cagr.period[1] or (v.year != d.cagr.period[0] and year > int(d.cagr.period[0]))
        else:
            is_end = v.year != "current" and year > ex.published_year
        claim["end" if is_end else "start"] = _value_doc(ex, v)
    elif values:
        claim["start"] = _value_doc(ex, values[0])
        if len(values) > 2:
            claim["points"] = [_value_doc(ex, v) for v in values[1:-1]]
        claim["end"] = _value_doc(ex, values[-1])
    if d.cagr is not None:
        claim["cagr"] = _cagr_doc(ex, d.cagr)
    claim["locator"] = _claim_locator(ex, spans, d.paragraph)
    return claim


def _share(ex: _Extractor, a: Atom, paragraph: int, cid: str) -> dict[str, Any]:
    claim: dict[str, Any] = {"id": cid, "kind": "share"}
    if a.market is not None and a.explicit_market:
        claim["market"] = a.market.id
    claim["value"] = a.literal
    if a.qualifier:
        claim["qualifier"] = a.qualifier
    claim["population"] = a.population
    if a.year:
        claim["year"] = a.year
    claim["locator"] = ex.locator(ex._locator_span(a))
    return claim


def _source_meta(
    text: str, source_id: str, title: str | None, publisher: str | None, published: str | None
) -> dict[str, Any]:
    if not re.fullmatch(SLUG_RE, source_id):
        raise ValueError(f"source_id {source_id!r} must be a lowercase slug (letters, digits, hyphens)")
    published = str(published).strip() if published is not None else str(dt.date.today().year)
    if not g.PUBLISHED_RE.match(published):
        raise ValueError(f"published {published!r} must be a year or an ISO date (2025, 2025-06-05)")
    if title is None:
        first = next((p for p in paragraphs(text)), None)
        line = " ".join(text[first.start : first.end].split()) if first else ""
        title = line if line and _words(line) <= 25 and not line.endswith(".") else "DRAFT: title"
    kind = "press_release" if g.PRESS_RELEASE_RE.search(text) else "article"
    return {
        "id": source_id,
        "title": title,
        "publisher": publisher or "DRAFT: publisher",
        "published": published,
        "kind": kind,
    }


def extract(
    text: str,
    *,
    source_id: str,
    title: str | None = None,
    publisher: str | None = None,
    published: str | None = None,
) -> dict[str, Any]:
    """A draft source document (DESIGN §3) for ``text``, as a plain dict.

    Keys: ``source``, ``markets``, ``claims``, ``unassigned``, ``ignored``. Every number is a
    string exactly as written; every claim and value carries a locator (paragraph, the few
    words that state it, character offsets into ``text``). ``published`` (a year or an ISO
    date) resolves "currently"; it defaults to the current year.
    """
    source = _source_meta(text, source_id, title, publisher, published)
    ex = _Extractor(text, int(source["published"][:4]))
    ex.run()

    claims: list[dict[str, Any]] = []
    taken: set[str] = set()
    used_markets: dict[str, Market] = {}
    order: list[tuple[int, dict[str, Any]]] = []
    for d in ex.drafts:
        order.append((min(a.start for a in d.values + ([d.cagr] if d.cagr else [])), _trajectory(ex, d, "")))
        used_markets.setdefault(d.market.id, d.market)
    for a, paragraph in ex.shares:
        order.append((a.start, _share(ex, a, paragraph, "")))
        if "market" in order[-1][1] and a.market is not None:
            used_markets.setdefault(a.market.id, a.market)
    for _, claim in sorted(order, key=lambda x: x[0]):
        base = claim["market"] if claim["kind"] == "trajectory" else slugify(claim["population"] or "", 5) or "share"
        claim["id"] = _unique(base, taken)
        claims.append(claim)

    known = {**ex.markets, **used_markets}
    for m in list(used_markets.values()):
        while m.parent and m.parent not in used_markets:
            parent = known.get(m.parent) or next(
                (d.market for d in ex.drafts if d.market.id == m.parent), Market(m.parent, m.parent)
            )
            used_markets[parent.id] = parent
            m = parent
    markets = {
        m.id: {
            k: v
            for k, v in (("label", m.label), ("parent", m.parent), ("region", m.region), ("modality", m.modality))
            if v
        }
        for m in used_markets.values()
    }
    doc: dict[str, Any] = {
        "source": source,
        "markets": markets,
        "claims": claims,
        "unassigned": sorted(ex.unassigned, key=lambda u: u["locator"]["start"]),
        "ignored": [],
    }
    _account_for_rest(ex, doc)
    return doc


def _account_for_rest(ex: _Extractor, doc: dict[str, Any]) -> None:
    """Give every token no claim or unassigned entry covers a place: ignored, or unassigned."""
    text = ex.text
    left = coverage(text, doc)
    covered_extra: list[Span] = []
    for start, end, literal in left:
        if any(s <= start and end <= e for s, e in covered_extra):
            continue
        which, reason, span = _classify_token(ex, start, end, literal)
        covered_extra.append(span)
        entry = {"literal": text[span[0] : span[1]], "reason": reason, "locator": ex.locator(span)}
        doc[which].append(entry)
    doc["unassigned"].sort(key=lambda u: u["locator"]["start"])
    doc["ignored"].sort(key=lambda u: u["locator"]["start"])


def _covering(rx: re.Pattern[str], text: str, lo: int, hi: int, start: int, end: int) -> Span | None:
    for m in rx.finditer(text, lo, hi):
        if m.start() <= start and end <= m.end():
            return m.span()
    return None


def _classify_token(ex: _Extractor, start: int, end: int, literal: str) -> tuple[str, str, Span]:
    """Why a number no claim uses is there: ("ignored" | "unassigned", reason, span)."""
    text = ex.text
    para = ex.paras[ex.paragraph_of(start) - 1]
    lo, hi = para.start, para.end
    tok = (start, end)
    for (s, e), _what in ex.consumed:
        if s <= start and end <= e:
            return "ignored", "year of a figure, stated apart from the words quoted for it", tok
    if g.BOILERPLATE_RE.match(text, lo, hi):
        return "ignored", "the publisher's boilerplate (about the publisher)", tok
    if span := _covering(g.URL_RE, text, lo, hi, start, end):
        return "ignored", "part of a web address", span
    if span := _covering(g.DATE_RE, text, lo, hi, start, end):
        return "ignored", "a date (not a figure)", span
    if span := _covering(g.TIME_RE, text, lo, hi, start, end):
        return "ignored", "a time of day", span
    if g.PAGE_LINE_RE.match(text[lo:hi]):
        return "ignored", "page number", (lo, hi)
    if span := _covering(g.PAGE_RE, text, lo, hi, start, end):
        return "ignored", "page number", span
    ordinal = g.LIST_ORDINAL_RE.match(text[lo:hi])
    if ordinal and start < lo + ordinal.end():
        return "ignored", "list item number", tok
    if span := _covering(g.REFERENCE_RE, text, lo, hi, start, end):
        return "ignored", "reference to a figure, table or section", span
    if span := _covering(g.RANK_RE, text, lo, hi, start, end):
        return "ignored", "a rank or ordinal (not a figure)", span
    if span := _covering(g.FOOTNOTE_RE, text, lo, hi, start, end):
        return "ignored", "footnote marker", span
    fiscal = _covering(g.YEARISH_RE, text, lo, hi, start, end)
    if fiscal and point_year(text[fiscal[0] : fiscal[1]]):
        return "ignored", "a year with no figure attached (a date, not a figure)", fiscal
    if span := _covering(g.CODE_RE, text, lo, hi, start, end):
        return "ignored", "part of a name or code", span
    if g.PHASE_RE.search(text[max(lo, start - 12) : start]):
        return "ignored", "a phase, stage or version number", tok
    if g.DURATION_AFTER_RE.match(text[end:hi]):
        return "unassigned", "a duration, not a market figure", tok
    if g.MULTIPLE_AFTER_RE.match(text[end:hi]):
        return "unassigned", "a multiple, not a market figure", tok
    return "unassigned", "a number the grammar cannot place (a count, quantity or unsupported figure)", tok


# Coverage ---------------------------------------------------------------------------------


def _token_literals(*values: Any) -> set[str]:
    out: set[str] = set()
    for v in values:
        if isinstance(v, str | int):
            out.update(t[2] for t in number_tokens(str(v)))
    return out


def _located(doc: dict[str, Any]) -> list[tuple[Any, set[str]]]:
    """Every locator in a document with the number literals its item states."""
    out: list[tuple[Any, set[str]]] = []
    for claim in doc.get("claims") or []:
        if not isinstance(claim, dict):
            continue
        claim_literals: set[str] = set()
        values = [claim.get("start"), claim.get("end"), *(claim.get("points") or [])]
        for v in values:
            if isinstance(v, dict):
                lits = _token_literals(v.get("value"), v.get("year"))
                claim_literals |= lits
                out.append((v.get("locator"), lits))
        cagr = claim.get("cagr")
        if isinstance(cagr, dict):
            period = cagr.get("period") if isinstance(cagr.get("period"), dict) else {}
            lits = _token_literals(cagr.get("value"), period.get("from"), period.get("to"))
            claim_literals |= lits
            out.append((cagr.get("locator"), lits))
        if claim.get("kind") == "share" or claim.get("value") is not None:
            claim_literals |= _token_literals(claim.get("value"), claim.get("year"))
        out.append((claim.get("locator"), claim_literals))
    for key in ("unassigned", "ignored"):
        for item in doc.get(key) or []:
            if isinstance(item, dict):
                out.append((item.get("locator"), _token_literals(item.get("literal"))))
    return out


def _spans_of(text: str, paras: list[Paragraph], locator: Any, literals: set[str], tokens: list[Token]) -> list[Span]:
    """Where a locator points: its offsets, else its words in its paragraph, else its numbers."""
    if not isinstance(locator, dict):
        return []
    para = None
    n = locator.get("paragraph")
    if isinstance(n, int) and 1 <= n <= len(paras):
        para = paras[n - 1]
    lo, hi = (para.start, para.end) if para else (0, len(text))
    words = locator.get("text")
    s, e = locator.get("start"), locator.get("end")
    offsets = isinstance(s, int) and isinstance(e, int) and 0 <= s < e <= len(text)
    if offsets and (not isinstance(words, str) or _norm(text[s:e]) == _norm(words)):
        return [(s, e)]
    if isinstance(words, str) and words.strip():
        pattern = re.compile(r"\s+".join(re.escape(w) for w in words.split()), re.IGNORECASE)
        found = [m.span() for m in pattern.finditer(text, lo, hi)]
        if found:
            return found if para else found[:1]
    if para is None:
        return []
    return [(a, b) for a, b, lit in tokens if lo <= a and b <= hi and lit in literals]


def coverage(text: str, doc: dict[str, Any]) -> list[Token]:
    """Number tokens of ``text`` that no claim, ``unassigned`` or ``ignored`` entry accounts for.

    A token is accounted for when it lies within the words a locator points at: its
    ``start``/``end`` offsets, else its ``text`` found in its paragraph, else (a locator with
    only a paragraph) the tokens of that paragraph equal to the numbers the item states.
    Pure and linear in the text; an empty list means every number is accounted for.
    """
    tokens = number_tokens(text)
    if not tokens:
        return []
    paras = paragraphs(text)
    spans: list[Span] = []
    for locator, literals in _located(doc):
        spans.extend(_spans_of(text, paras, locator, literals, tokens))
    spans.sort()
    merged: list[Span] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    starts = [s for s, _ in merged]
    out: list[Token] = []
    for tok in tokens:
        i = bisect_right(starts, tok[0]) - 1
        if i < 0 or tok[1] > merged[i][1]:
            out.append(tok)
    return out


# YAML -------------------------------------------------------------------------------------


class _Flow(dict):  # type: ignore[type-arg]
    """A mapping written on one line (locators, periods)."""


# libyaml's emitter when present (ten times faster); the representers below are the same.
class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    pass


def _represent_flow(dumper: yaml.SafeDumper, data: _Flow) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=True)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    # Any string with a digit is quoted: "9.0" must stay "9.0", "2025" a string.
    style = '"' if any(c.isdigit() for c in data) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(_Flow, _represent_flow)
_Dumper.add_representer(str, _represent_str)


def _flowed(node: Any, key: str | None = None) -> Any:
    if isinstance(node, dict):
        inner = {k: _flowed(v, k) for k, v in node.items()}
        return _Flow(inner) if key in ("locator", "period") else inner
    if isinstance(node, list):
        return [_flowed(v) for v in node]
    return node


HEADER = (
    "# DRAFT drafted by `cdmo extract`: review every claim, market and unassigned number,\n"
    "# then save under data/sources/. Numbers are strings exactly as written.\n"
)


def to_yaml(doc: dict[str, Any]) -> str:
    """The draft as YAML (DESIGN §3): every number a quoted string exactly as written."""
    body = yaml.dump(_flowed(doc), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=4096)
    return HEADER + body
