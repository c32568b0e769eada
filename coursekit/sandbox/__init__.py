"""The trust boundary, both sides in one folder.

Trusted side: the worker pool (pool), the bubblewrap command (bwrap), the wire's decoder (wire), the answer forms
(answers) and the student proxy (student). Untrusted side: worker_main and the probes, which run beside the student's
code under seccomp (seccomp) and, outside bubblewrap, Landlock (landlock)."""

from typing import Literal

# What a pool is asked for; `auto` takes the strongest tier this machine offers that keeps the README's promises.
Isolation = Literal["auto", "bwrap", "uid", "none"]
# What a pool runs with: bubblewrap's namespaces; an unprivileged uid per slot with Landlock and seccomp (root,
# no namespaces: Docker, Gradescope); or Landlock, seccomp and limits as the grading user.
Tier = Literal["bwrap", "uid", "none"]
