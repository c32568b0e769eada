"""Grading (trusted side): the pytest plugin the graders run under, the engine that grades a class, and the results
(results.json, feedback and grades.csv, written and read here)."""
