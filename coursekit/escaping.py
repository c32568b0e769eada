"""Text a student controls, made safe for the people who read it: one rule per sink, and sizes to cut it to.

Students control far more text than their code: file and zip member names, folder names (their student id),
what their code prints, exception text, and every value a grader quotes in a message (labels, dict keys,
reprs). Each sink has one rule here, and every writer uses it:

- terminal (`terminal_text`): escape sequences, control characters and bidi overrides removed, one line, cut to
  `MAX_TERMINAL_CHARS`, rich markup escaped;
- markdown (`markdown_text` for a line's start, `markdown_inline` within a line): no heading, list, link,
  image, emphasis, table, HTML tag, entity or blockquote can form; text shown as printed goes in a fenced block
  (`markdown_code_block`) it cannot close;
- HTML text (`html_text`, and `html_code` for a `<pre>` block): for cells an LMS renders as HTML, and the
  class report;
- CSV (`neutralise_csv_cell`, read back with `restore_csv_cell`): no cell a spreadsheet runs as a formula.

Sizes: `cut` keeps the start of a text with a note saying how much was dropped, and `TextBudget` holds a whole
file to `MAX_FILE_BYTES` however much text a student sends.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from typing import TypeVar
from urllib.parse import quote

from rich.markup import escape as escape_rich_markup

# A verdict's message is a hint of a sentence or two, maybe quoting a student's value; about 90 checks share
# one results file, so a repr of megabytes must not be copied into each of them.
MAX_MESSAGE_CHARS = 4000
# A results.json or feedback file: Gradescope and the LMSs show these to students; megabytes help no one and
# some uploads refuse them.
MAX_FILE_BYTES = 1_000_000
# One cell or line of the instructor's terminal; longer floods the screen and says nothing more.
MAX_TERMINAL_CHARS = 500
# Excel refuses cells longer than 32,767 characters; a list of problems is read long before that.
MAX_CSV_TEXT_CHARS = MAX_MESSAGE_CHARS

# ECMA-48 sequences, removed whole: CSI (ESC [ or 0x9b), OSC, DCS, SOS, PM and APC strings up to their
# terminator (BEL or ST), and two-character escapes. Whatever is left of a broken sequence is plain text once
# the control characters themselves are gone.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -/]*[0-~]"
)
_LINE_BREAK = re.compile(r"\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
# C0 but tab and line feed, DEL, C1, and the bidi marks and overrides that reorder what is shown
# ("Trojan Source": the text a person reads is not the text that is there).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NOT_PLAIN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def plain_text(text: str, *, lines: bool = False) -> str:
    """`text` with no escape sequence, control character or bidi override; tabs kept.

    Every line break (CR, CRLF, form feed, Unicode separators) becomes ``\\n`` with `lines`, a space without.
    """
    if _NOT_PLAIN.search(text):
        text = _ESCAPE_SEQUENCE.sub("", text)
        text = _LINE_BREAK.sub("\n", text)
        text = _CONTROL.sub("", text)
    return text if lines else text.replace("\n", " ")


def cut(text: str, limit: int) -> str:
    """`text` if it has at most `limit` characters, else as much of its start as fits in `limit` together with a
    note of how many characters were dropped (the note alone when `limit` is smaller than it).

    Cutting again to the same limit changes nothing, so the first note, with the first count, stays.
    """
    if len(text) <= limit:
        return text
    kept = max(0, limit - len(_cut_note(len(text))))
    return text[:kept] + _cut_note(len(text) - kept)


def _cut_note(dropped: int) -> str:
    return f"\n[cut: {dropped} more characters]"


# -- terminal --------------------------------------------------------------------------------------------------


def terminal_text(text: object, *, lines: bool = False) -> str:
    """`text` for rich output: plain, one line (or, with `lines`, its lines), each cut to MAX_TERMINAL_CHARS,
    with rich markup escaped."""
    if lines:
        shown = "\n".join(cut(line, MAX_TERMINAL_CHARS) for line in plain_text(str(text), lines=True).split("\n"))
    else:
        shown = plain_text(cut(str(text), MAX_TERMINAL_CHARS))
    return escape_rich_markup(shown)


# -- markdown --------------------------------------------------------------------------------------------------

# Characters that are markup wherever they stand. `&` and `<` become entities (which every markdown renderer
# honours), so no HTML tag, entity or autolink can form; the rest take CommonMark's backslash escape.
_MARKDOWN_ANYWHERE = str.maketrans(
    {
        "\\": "\\\\",
        "`": "\\`",
        "*": "\\*",
        "~": "\\~",
        "|": "\\|",
        "$": "\\$",
        "@": "\\@",
        "&": "&amp;",
        "<": "&lt;",
    }
)
# Markup only in context, escaped with a backslash there: a link or image needs "](", "][" or a definition
# "]:" (so "shape [3, 1]" stays as it is); `_` opens emphasis only at a word's edge (`zero_grad` stays);
# GFM renderers link bare "https://..." and "www." names.
_MARKDOWN_IN_CONTEXT = re.compile(r"\](?=[(\[:])|(?<![^\W_])_|_(?![^\W_])|(?<=[A-Za-z]):(?=//)|(?i:(?<=\bwww)\.)")
# A line's start: leading blanks (which would make an indented code block; prose loses them when rendered
# anyway), then what would make the line a heading, blockquote, list item, task box, setext underline or
# thematic break: `#`, `>`, `-`, `+`, `=` or `[`, or "1." / "1)".
_LINE_START = re.compile(r"^[ \t]*(?:([#>+=\[-])|([0-9]+)([.)]))?", re.MULTILINE)


def markdown_text(text: str, *, lines: bool = True) -> str:
    """`text` as markdown prose that starts a line and renders as the text itself and nothing else.

    With `lines`, line breaks are kept as ``\\n`` (the caller prefixes each line for its container); without,
    the text is one line.
    """
    return _LINE_START.sub(_escape_line_start, markdown_inline(text, lines=lines))


def markdown_inline(text: str, *, lines: bool = False) -> str:
    """`text` as markdown within a line (after other text on it), rendering as the text itself."""
    text = plain_text(text, lines=lines).translate(_MARKDOWN_ANYWHERE)
    return _MARKDOWN_IN_CONTEXT.sub(lambda match: "\\" + match.group(), text)


def _escape_line_start(match: re.Match[str]) -> str:
    marker, number, delimiter = match.groups()
    if marker == ">":
        return "&gt;"
    if marker:
        return "\\" + marker
    return f"{number}\\{delimiter}" if number else ""


def markdown_code_block(text: str, *, indent: str = "") -> str:
    """`text` shown as it is, in a fenced block longer than any run of backticks inside, so it cannot close it.

    Every line carries `indent` (the container's indentation), so no line falls out of a list item. Nothing
    is HTML-escaped inside: renderers show a code block's text literally, entities included.
    """
    body = plain_text(text, lines=True)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return "\n".join(f"{indent}{line}" for line in (fence, *body.split("\n"), fence)) + "\n"


def markdown_link_target(path: str) -> str:
    """A relative link target for a file name a student controls: percent-encoded, so it cannot end the link."""
    return quote(plain_text(path), safe="")


# -- HTML ------------------------------------------------------------------------------------------------------


def html_text(text: str) -> str:
    """`text` for HTML text content: plain, one line, with `&`, `<` and `>` as entities."""
    return html.escape(plain_text(text), quote=False)


def html_code(text: str) -> str:
    """`text` for a `<pre>` block: plain, its lines kept, with `&`, `<` and `>` as entities."""
    return html.escape(plain_text(text, lines=True), quote=False)


# -- CSV -------------------------------------------------------------------------------------------------------

# What a spreadsheet reads as the start of a formula (OWASP "CSV injection"); a leading ' makes it text.
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain number such as -0.5 is no formula, and must stay a number.
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def neutralise_csv_cell(value: object) -> object:
    """A CSV cell no spreadsheet runs: text starting as a formula (or with ') gets a leading '; numbers stay.

    `restore_csv_cell` gives the text back.
    """
    if not isinstance(value, str):
        return value
    if value.startswith("'") or (value.startswith(CSV_FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value)):
        return "'" + value
    return value


def neutralise_csv_row(row: Iterable[object]) -> list[object]:
    """`neutralise_csv_cell` on every cell of a row."""
    return [neutralise_csv_cell(value) for value in row]


def restore_csv_cell(cell: str) -> str:
    """The text `neutralise_csv_cell` was given, from the cell it wrote."""
    return cell[1:] if cell.startswith("'") else cell


# -- whole files -------------------------------------------------------------------------------------------------


def utf8_size(text: str) -> int:
    """What `text` costs in a UTF-8 file."""
    return len(text.encode("utf-8", "surrogatepass"))


class TextBudget:
    """What one file may still spend on text a student controls, counted as written (escaped, encoded)."""

    def __init__(self, limit: int, *, measure: Callable[[str], int] = utf8_size) -> None:
        self.left = limit
        self.measure = measure

    def fit(self, text: str, render: Callable[[str], str] = str) -> str:
        """`render(text)`, with `text` cut first (and the cut noted) where the whole would overrun the budget."""
        # With nothing left, the text can only become its note: no need to render the whole of it.
        rendered = render(text) if self.left > 0 or not text else render(cut(text, 0))
        if self.measure(rendered) > self.left:
            rendered = render(cut(text, 0))
            if self.measure(rendered) < self.left:
                # The longest start of `text` whose rendering, note included, fits; a character kept costs a
                # byte or more (almost always), so no more than what is left need be tried.
                low, high = 0, min(len(text) - 1, self.left)
                while low < high:
                    middle = (low + high + 1) // 2
                    if self.measure(render(cut(text, middle))) <= self.left:
                        low = middle
                    else:
                        high = middle - 1
                rendered = render(cut(text, low))
        # Only the bare note can overrun what is left, and the file's size without student text counted it.
        self.left = max(0, self.left - self.measure(rendered))
        return rendered


_File = TypeVar("_File")


def within_file_size(
    render: Callable[[TextBudget], _File],
    *,
    size: Callable[[_File], int],
    limit: int,
    measure: Callable[[str], int] = utf8_size,
) -> _File:
    """`render(budget)` with the budget that holds the file to `limit` bytes (`measure`: a text's cost in it).

    The file is rendered once with no budget (every student text cut to its note) to measure what the rest of
    it costs; what remains of `limit` is the budget for the student's text.
    """
    bare = size(render(TextBudget(0, measure=measure)))
    return render(TextBudget(max(0, limit - bare), measure=measure))
