"""The kit's one base exception."""

from __future__ import annotations


class CoursekitError(Exception):
    """A failure the CLI reports in one line: a course, a download or an option it cannot use, said plainly.

    Anything else that escapes a command is a bug in the kit and keeps its traceback.
    """
