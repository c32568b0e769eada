"""The HTML feedback page of a real hand-in whose prints and exceptions carry HTML, script, URLs, template syntax
and control characters, graded through `coursekit grade` and rendered in headless chromium: shown as text, no
script run, nothing fetched."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from repo_paths import HOSTILE_SNIPPETS, REPO

from coursekit.escaping import MAX_FILE_BYTES

MODULES = ("activations.py", "model.py", "training.py")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The student id (the hand-in folder's name) reaches the page's title and heading.
STUDENT = "breakout<img src=x onerror=alert(1)>{{ 7*7 }}&amp;"  # no "/": it would split the path


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("html")
    folder = root / "submissions" / STUDENT
    folder.mkdir(parents=True)
    for name in MODULES:
        text = (REPO / "solutions" / name).read_text(encoding="utf-8")
        if name == "activations.py":
            text += "\n" + (HOSTILE_SNIPPETS / "html_breakout.py").read_text(encoding="utf-8")
        (folder / name).write_text(text, encoding="utf-8")
    out = root / "out"
    completed = subprocess.run(
        [sys.executable, "-m", "coursekit", "grade", str(root / "submissions"), "--out", str(out)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return out / "feedback" / f"{STUDENT}.html"


def test_student_text_is_shown_as_text(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    assert "&lt;script&gt;" in html and "{{ 7*7 }}" in html  # the payload is there, as text
    assert html.count("breakout&lt;img src=x onerror=alert(1)&gt;{{ 7*7 }}&amp;amp;") >= 2
    assert html.count("<script") == 0 and "<img src=x" not in html and "<a href" not in html
    assert "<link" not in html and "<textarea" not in html
    assert not any(char in html for char in "\x1b\x07\x00\x08")
    assert page.stat().st_size <= MAX_FILE_BYTES and html.count("A" * 1000) == 0  # the huge message is cut
    tags = re.findall(r"<(/?[a-z0-9]+)", html)
    assert set(tags) <= {
        "!DOCTYPE",
        "html",
        "/html",
        "head",
        "/head",
        "meta",
        "title",
        "/title",
        "style",
        "/style",
        "body",
        "/body",
        "h1",
        "/h1",
        "h2",
        "/h2",
        "p",
        "/p",
        "strong",
        "/strong",
        "ul",
        "/ul",
        "li",
        "/li",
        "span",
        "/span",
        "blockquote",
        "/blockquote",
        "pre",
        "/pre",
        "figure",
        "/figure",
        "img",
        "figcaption",
        "/figcaption",
    }, set(tags)
    # URLs are text only: no attribute of the page names anything but the embedded picture.
    attributes = _attributes(html)
    assert {name for name, _ in attributes} <= {"lang", "charset", "http-equiv", "content", "class", "src", "alt"}
    assert all(value.startswith("data:image/png;base64,") for name, value in attributes if name == "src")


def _attributes(html: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.extend((name, value or "") for name, value in attrs)

    Collector().feed(html)
    return found


def test_the_page_forbids_script_and_requests_in_its_policy(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html)
    assert policy is not None, "no Content-Security-Policy"
    assert "default-src 'none'" in policy[1] and "script-src" not in policy[1]


def test_the_page_runs_no_script_and_fetches_nothing_in_chromium(page: Path, tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    netlog = tmp_path / "net.json"
    browser = subprocess.run(
        [
            CHROMIUM,
            *("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"),
            *("--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}"),
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--log-net-log={netlog}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    dom = browser.stdout
    assert "<body" in dom, browser.stderr[-3000:]
    assert 'data-pwned="1"' not in dom
    log = json.loads(netlog.read_text(encoding="utf-8"))
    types = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    urls = [
        event["params"]["url"]
        for event in log["events"]
        if types.get(event["type"]) == "URL_REQUEST_START_JOB"
        and "url" in event.get("params", {})
        and "file://" in event["params"].get("network_isolation_key", "")
        and not event["params"]["url"].startswith(("file:", "data:"))
    ]
    assert urls == []
