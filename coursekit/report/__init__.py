"""The class report: OUT/report.html, one self-contained page about a graded batch (coursekit.report.page)."""
