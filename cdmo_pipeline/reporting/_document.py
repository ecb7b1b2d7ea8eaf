"""A tiny document model, rendered twice: Markdown for the Dagster UI, HTML for a browser.

The audit report is built once as a list of blocks and handed to both renderers, so the
Markdown and the HTML cannot say different things. Text inside blocks is plain: each
renderer escapes it for its own syntax, so a publisher named "A|B *C*" cannot break a table.
"""

import base64
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Style = Literal["", "strong", "em", "code", "link"]
# Tones colour verdicts in HTML; Markdown shows the verdict words instead.
Tone = Literal["", "good", "bad", "warn", "muted"]


@dataclass(frozen=True)
class Span:
    text: str
    style: Style = ""
    tone: Tone = ""
    href: str = ""


Inline = tuple[Span, ...]


def line(*parts: "str | Span") -> Inline:
    """Inline text from plain strings and spans."""
    return tuple(p if isinstance(p, Span) else Span(p) for p in parts if p != "")


def strong(text: str, tone: Tone = "") -> Span:
    return Span(text, "strong", tone)


def code(text: str) -> Span:
    return Span(text, "code")


def em(text: str) -> Span:
    return Span(text, "em")


def link(text: str, href: str) -> Span:
    return Span(text, "link", href=href)


@dataclass(frozen=True)
class Heading:
    level: int
    content: Inline
    anchor: str = ""
    toc: str = ""  # a shorter entry for the HTML table of contents


@dataclass(frozen=True)
class Paragraph:
    content: Inline
    tone: Tone = ""


@dataclass(frozen=True)
class Bullets:
    items: tuple[Inline, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[Inline, ...], ...]
    # "r" right-aligns a column (numbers); anything else left-aligns.
    align: tuple[str, ...] = ()
    tones: tuple[Tone, ...] = ()


@dataclass(frozen=True)
class Chart:
    """A projection chart of one market; rendered only when the caller has one for it."""

    key: str
    caption: str


Block = Heading | Paragraph | Bullets | Table | Chart


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> None:
        # An empty list or table says nothing and would leave a stray gap in the page.
        self.blocks.extend(b for b in blocks if not (isinstance(b, Bullets) and not b.items))


def plain(content: Inline) -> str:
    return "".join(s.text for s in content)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


# --- Markdown ---------------------------------------------------------------------------

# Backslash-escape what CommonMark/GFM could read as markup, and no more, so the raw file
# stays readable: `<` keeps data out of raw HTML, `|` out of table syntax; `_` only where it
# could open emphasis (not inside as_written); `]` only where it could close a link.
_MD_SPECIAL = re.compile(r"[\\`*<>|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|\[(?=[^\]]*\]\()|\](?=[(\[:])|^#")


def _md_text(text: str) -> str:
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), re.sub(r"\s+", " ", text))


def _md_code(text: str) -> str:
    text = " ".join(text.split()).replace("|", "\\|")  # GFM splits table cells on | even in code
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_url(url: str) -> str:
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _md_wrap(text: str, marker: str) -> str:
    """Emphasis with the spaces outside the markers: `**Origin: **` would not render bold."""
    core = text.strip()
    if not core:
        return _md_text(text)
    lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
    return f"{_md_text(lead)}{marker}{_md_text(core)}{marker}{_md_text(trail)}"


def _md_inline(content: Inline) -> str:
    out = []
    for s in content:
        if s.style == "code":
            out.append(_md_code(s.text))
        elif s.style == "strong":
            out.append(_md_wrap(s.text, "**"))
        elif s.style == "em":
            out.append(_md_wrap(s.text, "*"))
        elif s.style == "link":
            out.append(f"[{_md_text(s.text)}]({_md_url(s.href)})")
        else:
            out.append(_md_text(s.text))
    return "".join(out)


def to_markdown(doc: Document, chart_links: Mapping[str, str] | None = None) -> str:
    links = chart_links or {}
    parts = [f"# {_md_text(doc.title)}"]
    for b in doc.blocks:
        if isinstance(b, Heading):
            parts.append(f"{'#' * b.level} {_md_inline(b.content)}")
        elif isinstance(b, Paragraph):
            parts.append(_md_inline(b.content))
        elif isinstance(b, Bullets):
            parts.append("\n".join(f"- {_md_inline(i)}" for i in b.items))
        elif isinstance(b, Table):
            parts.append(_md_table(b))
        elif isinstance(b, Chart) and b.key in links:
            parts.append(f"![{_md_text(b.caption)}]({_md_url(links[b.key])})")
    return "\n\n".join(parts) + "\n"


def _md_table(t: Table) -> str:
    def row(cells: Iterable[str]) -> str:
        return "| " + " | ".join(c or " " for c in cells) + " |"

    aligns = [("---:" if i < len(t.align) and t.align[i] == "r" else "---") for i in range(len(t.header))]
    lines = [row(_md_text(h) for h in t.header), row(aligns)]
    lines += [row(_md_inline(c) for c in r) for r in t.rows]
    return "\n".join(lines)


# --- HTML -------------------------------------------------------------------------------

CSS = """
:root { --good:#1a7f37; --good-bg:#e6f6ea; --bad:#c62828; --bad-bg:#fdecea;
  --warn:#8a5a00; --warn-bg:#fff6d6; --muted:#57606a; --muted-bg:#f3f4f6; --line:#d0d7de; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: #1f2328; background: #fff; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 1.8em; margin: 0 0 .4em; }
h2 { font-size: 1.4em; margin: 2em 0 .6em; padding-bottom: .25em; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.15em; margin: 1.8em 0 .4em; padding: .35em .6em; background: var(--muted-bg); border-radius: 6px; }
h4 { font-size: 1em; margin: 1.4em 0 .3em; }
p, ul { margin: .45em 0; }
code { font: .88em/1.3 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--muted-bg);
  padding: .08em .3em; border-radius: 4px; }
a { color: #0b62c4; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .92em; width: auto; max-width: 100%; }
.table-wrap { overflow-x: auto; }
th, td { border: 1px solid var(--line); padding: .3em .6em; vertical-align: top; text-align: left; }
th { background: var(--muted-bg); font-weight: 600; }
tbody tr:nth-child(even) td { background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.tone-bad td:first-child { box-shadow: inset 4px 0 0 var(--bad); }
tr.tone-warn td:first-child { box-shadow: inset 4px 0 0 var(--warn); }
tr.tone-good td:first-child { box-shadow: inset 4px 0 0 var(--good); }
p.tone { padding: .45em .75em; border-left: 4px solid; border-radius: 4px; }
p.tone-good { background: var(--good-bg); border-color: var(--good); }
p.tone-bad { background: var(--bad-bg); border-color: var(--bad); }
p.tone-warn { background: var(--warn-bg); border-color: var(--warn); }
p.tone-muted { background: var(--muted-bg); border-color: var(--muted); }
span.tone-good { color: var(--good); } span.tone-bad { color: var(--bad); }
span.tone-warn { color: var(--warn); } span.tone-muted { color: var(--muted); }
nav.toc { margin: 1em 0 1.5em; padding: .6em 1em; border: 1px solid var(--line); border-radius: 6px; }
nav.toc summary { font-weight: 600; cursor: pointer; }
nav.toc ul { columns: 2; column-gap: 2em; padding-left: 1.2em; }
nav.toc li.l3 { margin-left: 1.2em; font-size: .92em; }
figure { margin: 1em 0 1.5em; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: .9em; }
@media print { nav.toc { display: none; } h3 { break-after: avoid; } table, figure { break-inside: avoid; } }
"""


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _html_inline(content: Inline) -> str:
    out = []
    for s in content:
        text = _h(s.text)
        if s.style == "code":
            text = f"<code>{text}</code>"
        elif s.style == "strong":
            text = f"<strong>{text}</strong>"
        elif s.style == "em":
            text = f"<em>{text}</em>"
        elif s.style == "link":
            text = f'<a href="{_h(s.href)}">{text}</a>'
        if s.tone:
            text = f'<span class="tone-{s.tone}">{text}</span>'
        out.append(text)
    return "".join(out)


def to_html(doc: Document, charts: Mapping[str, bytes] | None = None) -> str:
    charts = charts or {}
    body: list[str] = []
    toc: list[str] = []
    used: set[str] = set()
    for b in doc.blocks:
        if isinstance(b, Heading):
            anchor = _unique(b.anchor or slug(plain(b.content)), used)
            body.append(f'<h{b.level} id="{_h(anchor)}">{_html_inline(b.content)}</h{b.level}>')
            if b.level in (2, 3):
                entry = b.toc or plain(b.content)
                toc.append(f'<li class="l{b.level}"><a href="#{_h(anchor)}">{_h(entry)}</a></li>')
        elif isinstance(b, Paragraph):
            cls = f' class="tone tone-{b.tone}"' if b.tone else ""
            body.append(f"<p{cls}>{_html_inline(b.content)}</p>")
        elif isinstance(b, Bullets):
            items = "".join(f"<li>{_html_inline(i)}</li>" for i in b.items)
            body.append(f"<ul>{items}</ul>")
        elif isinstance(b, Table):
            body.append(_html_table(b))
        elif isinstance(b, Chart) and b.key in charts:
            data = base64.b64encode(charts[b.key]).decode("ascii")
            body.append(
                f'<figure><img alt="{_h(b.caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{_h(b.caption)}</figcaption></figure>"
            )
    nav = (
        f'<nav class="toc"><details open><summary>Contents</summary><ul>{"".join(toc)}</ul></details></nav>'
        if toc
        else ""
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_h(doc.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{_h(doc.title)}</h1>\n{nav}\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n"
    )


def _unique(anchor: str, used: set[str]) -> str:
    candidate, n = anchor, 2
    while candidate in used:
        candidate, n = f"{anchor}-{n}", n + 1
    used.add(candidate)
    return candidate


def _html_table(t: Table) -> str:
    def cls(i: int) -> str:
        return ' class="num"' if i < len(t.align) and t.align[i] == "r" else ""

    head = "".join(f"<th{cls(i)}>{_h(h)}</th>" for i, h in enumerate(t.header))
    rows = []
    for n, r in enumerate(t.rows):
        tone = t.tones[n] if n < len(t.tones) else ""
        tr = f'<tr class="tone-{tone}">' if tone else "<tr>"
        rows.append(tr + "".join(f"<td{cls(i)}>{_html_inline(c)}</td>" for i, c in enumerate(r)) + "</tr>")
    return f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
