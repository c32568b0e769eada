"""Intake (trusted side): collecting an LMS download, the roster, and unpacking each hand-in safely."""
