"""Export: grades for Canvas and Moodle, the Gradescope autograder, and nbgrader's own commands."""

from typing import Literal

# What `coursekit export` writes grades for (coursekit.export.lms), and what a roster student without a hand-in
# gets there.
ExportTarget = Literal["canvas", "moodle", "csv"]
MissingPolicy = Literal["zero", "blank"]
