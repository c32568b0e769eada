"""Where the tests find the repository, the course and their own data (imported by tests in every folder)."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
COURSE_YML = REPO / "course.yml"
# Hostile hand-ins (tests/hostile/README.md): whole hand-in folders, and snippets spliced into a module.
HOSTILE_HANDINS = TESTS / "hostile" / "handins"
HOSTILE_SNIPPETS = TESTS / "hostile" / "snippets"
GOLDEN = TESTS / "golden"
# Second courses that exist only to prove the tool knows no chapter.
COURSES = TESTS / "courses"
