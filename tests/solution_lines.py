"""Lines a student release must never contain, read from solutions/ independently of the library's own guard."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def solution_body_lines() -> set[str]:
    """Long lines between the fences of solutions/*.py."""
    lines: set[str] = set()
    for path in (REPO / "solutions").glob("*.py"):
        inside = False
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if text.endswith("BEGIN SOLUTION"):
                inside = True
            elif text.endswith("END SOLUTION"):
                inside = False
            elif inside and len(text) >= 24 and not text.startswith("#"):
                lines.add(text)
    return lines
