"""The trust boundary, both sides in one folder.

Trusted side: the worker pool (pool), the bubblewrap command (bwrap), the wire's decoder (wire), the answer forms
(answers) and the student proxy (student). Untrusted side: worker_main and the probes, which run beside the student's
code under seccomp (seccomp) and, outside bubblewrap, Landlock (landlock)."""
