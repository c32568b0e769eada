"""The courses here are fixtures of the tool's tests: their graders and public tests run only through coursekit
(tests/check/test_second_course.py), never as tests of the tool."""

collect_ignore_glob = ["*/*"]
