"""Authoring: the student stubs, the nbgrader notebook and the release, all made from solutions/ and course.yml."""
