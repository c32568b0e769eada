"""Checking the course itself: the graders against the solutions, the stubs and every mutant."""
