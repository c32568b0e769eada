"""Export: grades for Canvas and Moodle, the Gradescope autograder, and nbgrader's own commands."""
