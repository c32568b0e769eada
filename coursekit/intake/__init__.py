"""Intake (trusted side): collecting an LMS download (collect), the roster, and unpacking each hand-in safely
(handin), both under one set of rules for untrusted archives and folders (archives)."""
