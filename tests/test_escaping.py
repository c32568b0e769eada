"""The rules for text a student controls, sink by sink: terminal, markdown, HTML, CSV, and the size caps.

Markdown is checked by rendering it with two real renderers (markdown-it-py, CommonMark with GFM tables and
strikethrough; mistune with its URL, footnote, task-list and math plugins): escaped text must render as exactly
the text, and fenced text as exactly one code block. Random texts are drawn, with a fixed seed, from the
fragments that make markdown markup.
"""

from __future__ import annotations

import csv
import html
import io
import json
import random
import re
from pathlib import Path

import mistune
import pytest
from markdown_it import MarkdownIt
from rich.console import Console
from rich.table import Table

from coursekit.config import load_course
from coursekit.escaping import (
    MAX_FILE_BYTES,
    MAX_MESSAGE_CHARS,
    MAX_TERMINAL_CHARS,
    TextBudget,
    cut,
    html_text,
    markdown_code_block,
    markdown_inline,
    markdown_link_target,
    markdown_text,
    neutralise_csv_cell,
    plain_text,
    restore_csv_cell,
    terminal_text,
    utf8_size,
    within_file_size,
)
from coursekit.grade.plugin import Verdict
from coursekit.grade.results import StudentResult, feedback_markdown, grades_csv, gradescope_results

REPO = Path(__file__).resolve().parents[1]
COURSE = load_course(REPO / "course.yml")
COMMONMARK = MarkdownIt("commonmark").enable(["table", "strikethrough"])
MISTUNE = mistune.create_markdown(
    escape=False, plugins=["url", "table", "strikethrough", "footnotes", "task_lists", "math"]
)

# What the red team's names and prints held.
CLEAR_SCREEN = "\x1b[2J\x1b[H"
WINDOW_TITLE = "\x1b]0;you have been graded\x07"
OSC8_LINK = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"
RICH_MARKUP = "[link=https://evil.example/][blink bold red]100/100[/blink bold red][/link]"
FORGED_FEEDBACK = "```\n# 100 / 100 points\n<script>alert(1)</script>\n<img src=x onerror=alert(2)>"
FORMULA = '=HYPERLINK("https://evil.example/","grades")'

MARKDOWN_FRAGMENTS = [
    "```", "~~~", "`", "#", "##", "<script>", "</blockquote>", "<img src=x onerror=alert(1)>", "<http://e.x>",
    "&", "&amp;", "&#60;", "[", "]", "](", "][", "]:", "![", "(", ")", "*", "**", "_", "__", "~~", "|", "$", "$$",
    "@", "a@b.c", "http://", "https://e.x", "www.", "\\", "!", ">", "- ", "+ ", "* ", "1. ", "2) ", "=", "---",
    "===", "[ ] ", "[^1]", "\n", "\n", "\n", " ", "  ", "\t", "a", "b", "zero_grad", "x", "1", "é", "中", "😀",
    "\x1b[2J", "\x1b]0;t\x07", "\r\n", "\r", "\u202e", "\x00", "\x7f", "\x9b31m",
]  # fmt: skip


def random_texts(count: int, *, seed: int = 6) -> list[str]:
    generator = random.Random(seed)
    return [
        "".join(generator.choice(MARKDOWN_FRAGMENTS) for _ in range(generator.randint(1, 40))) for _ in range(count)
    ]


def escaped_html(text: str) -> str:
    """`text` as markdown-it writes text into HTML."""
    return html.escape(text, quote=False).replace('"', "&quot;")


def as_rendered(text: str) -> str:
    """What a renderer shows for plain `text` in paragraphs: lines stripped, blank lines gone, HTML-escaped."""
    lines = [line.strip(" \t") for line in text.split("\n")]
    return escaped_html("\n".join(line for line in lines if line))


def rendered_text(markdown: str) -> str:
    """markdown-it's HTML for `markdown`: paragraph and hard breaks read as line breaks, no blanks at line ends."""
    rendered = COMMONMARK.render(markdown).replace("</p>\n<p>", "\n").replace("<br />\n", "\n")
    return re.sub(r"[ \t]+(?=\n|</p>|</li>)", "", rendered)


# -- terminal ------------------------------------------------------------------------------------------------


def rendered_by_rich(text: str) -> str:
    console = Console(file=io.StringIO(), force_terminal=True, width=400, emoji=False)
    table = Table()
    table.add_column("student")
    table.add_row(text)
    console.print(table)
    console.print(f"[yellow]skipped[/] {text}")
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_terminal_text_drops_escape_sequences_and_escapes_markup() -> None:
    hostile = f"{CLEAR_SCREEN}{WINDOW_TITLE}{OSC8_LINK} {RICH_MARKUP}\u202eexe.py\x9b2J\x7f\x00"
    safe = terminal_text(hostile)
    assert not any(ord(char) < 32 or 0x7F <= ord(char) <= 0x9F or char == "\u202e" for char in safe)
    shown = rendered_by_rich(safe)
    # rich's own styling uses SGR sequences only; nothing of the student's reaches the terminal.
    assert "\x1b]" not in shown and "\x1b[2J" not in shown and "\x1b[5m" not in shown
    assert RICH_MARKUP in shown and "click" in shown


def test_terminal_text_is_one_line_and_short() -> None:
    assert terminal_text("a\nb\r\nc\rd") == "a b c d"
    long = terminal_text("x" * 100_000)
    assert len(long) <= MAX_TERMINAL_CHARS + 1 and long.endswith(" \\[cut: 99530 more characters]")
    assert terminal_text("line [bold]\nline 2", lines=True) == "line \\[bold]\nline 2"


def test_plain_text_keeps_tabs_and_readable_text() -> None:
    assert plain_text("α\tβ 😀 zero_grad") == "α\tβ 😀 zero_grad"
    assert plain_text("a\r\nb\u2028c\x0cd", lines=True) == "a\nb\nc\nd"


# -- markdown ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        FORGED_FEEDBACK,
        "</blockquote>\n\n# Grade: 100 / 100\n\n<blockquote>",
        "**100 / 100 points**\n===",
        "[click here](https://evil.example/) ![x](https://evil.example/x.png) [r]\n[r]: https://evil.example/",
        "https://evil.example/ www.evil.example mail@evil.example <https://evil.example/>",
        "> quoted\n- item\n+ item\n1. item\n2) item\n---\n| a | b |\n| - | - |\n[ ] task",
        "&lt;script&gt; &#60;b&#62; $\\href{x}{y}$ ~~gone~~ `code` \\",
        "got tensor([0.5000, 0.7311]) for input [3, 1]: did you forget optimizer.zero_grad()?",
    ],
)
def test_markdown_text_renders_as_the_text_itself(text: str) -> None:
    escaped = markdown_text(text)
    assert rendered_text(escaped) == f"<p>{as_rendered(text)}</p>\n"
    assert "<a " not in MISTUNE(escaped) and "<img" not in MISTUNE(escaped) and "<script" not in MISTUNE(escaped)


def test_markdown_text_stays_readable() -> None:
    message = "did you forget optimizer.zero_grad()? got shape [3] for x > 0"
    assert markdown_text(message) == message


def test_random_texts_render_as_themselves() -> None:
    for text in random_texts(3000):
        expected = as_rendered(plain_text(text, lines=True))
        escaped = markdown_text(text)
        assert rendered_text(escaped) == (f"<p>{expected}</p>\n" if expected else ""), repr(text)
        one_line = markdown_text(text, lines=False)
        assert "\n" not in one_line
        item = as_rendered(plain_text(text))
        assert rendered_text(f"- {one_line}") == (
            f"<ul>\n<li>{item}</li>\n</ul>\n" if item else "<ul>\n<li></li>\n</ul>\n"
        ), repr(text)
        inline = as_rendered("x " + plain_text(text))
        assert rendered_text(f"- x {markdown_inline(text)}") == f"<ul>\n<li>{inline}</li>\n</ul>\n", repr(text)
        shown = MISTUNE(f"- x\n  > {escaped.replace(chr(10), chr(10) + '  > ')}\n")
        assert "<a " not in shown and "<img" not in shown and "<h" not in shown and "<input" not in shown


@pytest.mark.parametrize("indent", ["", "  "])
def test_a_fence_holds_any_text(indent: str) -> None:
    for text in [FORGED_FEEDBACK, "````\n`````\n", "", "\n", *random_texts(1000, seed=7)]:
        body = plain_text(text, lines=True)
        document = f"- item\n\n{markdown_code_block(text, indent=indent)}\nafter\n"
        expected_code = f"<pre><code>{escaped_html(body)}\n</code></pre>\n"
        rendered = COMMONMARK.render(document)
        assert expected_code in rendered, repr(text)
        assert rendered.endswith("<p>after</p>\n"), repr(text)
        assert rendered.count("<pre>") == 1 and "<h1>" not in rendered and "<script" not in rendered


def test_a_link_target_cannot_end_the_link() -> None:
    target = markdown_link_target("a) ![x](https://evil.example/ <b>-fit.png")
    assert COMMONMARK.render(f"![fit]({target})").count("<img") == 1
    assert ")" not in target and " " not in target and "<" not in target


def test_html_text_has_no_tags() -> None:
    assert html_text("<img src=x onerror=alert(1)> & \x1b[2J") == "&lt;img src=x onerror=alert(1)&gt; &amp; "


# -- CSV -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [FORMULA, "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "'quoted", "'=x"])
def test_formula_cells_are_text_and_read_back(value: str) -> None:
    cell = neutralise_csv_cell(value)
    assert isinstance(cell, str) and cell.startswith("'")
    assert restore_csv_cell(cell) == value


@pytest.mark.parametrize("value", ["alice", "50104", "-0.5", "-3", "30", "12.5", 30, 12.5, 0])
def test_plain_text_and_numbers_stay_as_they_are(value: object) -> None:
    assert neutralise_csv_cell(value) == value
    if isinstance(value, str):
        assert restore_csv_cell(value) == value


# -- sizes ---------------------------------------------------------------------------------------------------


def test_cut_says_how_much_it_dropped_and_keeps_to_its_limit() -> None:
    assert cut("abc", 3) == "abc"
    text = "x" * 1000
    shorter = cut(text, 100)
    assert len(shorter) <= 100 and shorter == "x" * 72 + "\n[cut: 928 more characters]"
    assert cut(shorter, 100) == shorter
    assert cut("abcdef", 2) == "\n[cut: 6 more characters]"


def test_a_budget_holds_a_file_to_its_limit() -> None:
    texts = ["<&" * 50_000, "ok", "x" * 10, "😀" * 40_000]

    def render(budget: TextBudget) -> str:
        return "head\n" + "\n".join(budget.fit(text, markdown_text) for text in texts) + "\ntail\n"

    for limit in (200, 5_000, 100_000, 10**7):
        document = within_file_size(render, size=utf8_size, limit=limit)
        assert utf8_size(document) <= max(limit, utf8_size(render(TextBudget(0))))
        assert document.startswith("head\n") and document.endswith("\ntail\n")
    whole = within_file_size(render, size=utf8_size, limit=10**7)
    assert "[cut:" not in whole
    small = within_file_size(render, size=utf8_size, limit=5_000)
    assert "more characters]" in small


# -- the files grading writes --------------------------------------------------------------------------------


def _hostile_result(message: str, *, printed: str = FORGED_FEEDBACK, problem: str = "") -> StudentResult:
    """A failed check per exercise ten times over, each with `message` and its number."""
    verdicts = tuple(
        Verdict(
            test_id=f"test_{index}",
            name=f"{exercise} check {index}",
            exercise=exercise,
            part=part.id,
            max_score=1.0,
            score=0.0,
            passed=False,
            message=f"{message} {index}",
        )
        for index, (part, exercise) in enumerate(
            (part, exercise.id) for part in COURSE.assignment.parts for exercise in part.exercises for _ in range(10)
        )
    )
    return StudentResult(
        student_id=FORMULA,
        verdicts=verdicts,
        problems=(
            f"{OSC8_LINK}{RICH_MARKUP}.py in hand-in.zip was ignored",
            "# forged\n</blockquote>" * 1000,
            *((problem,) if problem else ()),
        ),
        output={part.id: printed for part in COURSE.assignment.parts},
        figure_png=b"\x89PNG",
        figure_part="training",
    )


def test_feedback_renders_only_the_kits_own_markup() -> None:
    result = _hostile_result(f"{FORGED_FEEDBACK}\n</blockquote>\n[x](https://evil.example/)")
    feedback = feedback_markdown(result, course=COURSE)
    tokens = COMMONMARK.parse(feedback)
    kinds = {token.type for token in tokens}
    assert not kinds & {"html_block", "html_inline"}
    headings = [tokens[i + 1].content for i, token in enumerate(tokens) if token.type == "heading_open"]
    assert headings == [
        COURSE.assignment.title,
        "Problems with your hand-in",
        *(f"{part.title} ({part.file}): 0 / {part.points:g}" for part in COURSE.assignment.parts),
    ]
    images = [child for token in tokens for child in token.children or () if child.type == "image"]
    assert [image.attrGet("src") for image in images] == [markdown_link_target(f"{FORMULA}-fit.png")]
    assert not [child for token in tokens for child in token.children or () if child.type == "link_open"]
    assert sum(token.type == "fence" for token in tokens) == len(COURSE.assignment.parts)
    assert all(token.content == FORGED_FEEDBACK + "\n" for token in tokens if token.type == "fence")
    rendered = COMMONMARK.render(feedback)
    assert "<script" not in rendered and "<img src=x" not in rendered
    assert rendered.count("<blockquote>") == len(result.verdicts)


def test_huge_text_is_cut_to_the_file_limits() -> None:
    result = _hostile_result("</blockquote>&" * 300, printed="<&" * 32_000, problem="<&" * 4_000_000)
    feedback = feedback_markdown(result, course=COURSE)
    results = json.dumps(gradescope_results(result, course=COURSE), indent=2, ensure_ascii=False)
    for text in (feedback, results):
        assert utf8_size(text) <= MAX_FILE_BYTES
        assert "more characters" in text
    data = json.loads(results)
    assert data["output_format"] == data["test_output_format"] == "md"
    assert all(len(test["output"]) < 10 * MAX_MESSAGE_CHARS for test in data["tests"])
    assert COMMONMARK.parse(feedback)[0].type == "heading_open"


def test_results_output_is_markdown_with_the_same_rule() -> None:
    data = gradescope_results(_hostile_result("<script>alert(1)</script>"), course=COURSE)
    for text in (data["output"], *(test["output"] for test in data["tests"])):
        rendered = COMMONMARK.render(text)
        assert "<script" not in rendered and "<a " not in rendered and "<h1>" not in rendered
    assert data["extra_data"]["problems"][0].startswith(OSC8_LINK)


def test_grades_csv_neutralises_formulas_and_keeps_numbers() -> None:
    text = grades_csv([_hostile_result("x")], course=COURSE)
    header, row = list(csv.reader(io.StringIO(text)))
    assert row[0] == "'" + FORMULA
    assert row[1:-1] == ["0", "0", "0", "0", "100", "0", "", "0"]
    assert "\x1b" not in row[-1] and len(row[-1]) < MAX_MESSAGE_CHARS + 40
    assert header[0] == "student"
