"""Stand-ins for what a grading host lacks: bubblewrap as it fails in a Docker container without user namespaces."""

from __future__ import annotations

from pathlib import Path

FAILING_BWRAP = """#!/bin/sh
echo "bwrap: No permissions to create new namespace, likely because the kernel does not allow non-privileged user namespaces." >&2
exit 1
"""


def failing_bwrap(folder: Path) -> Path:
    """Write an executable `bwrap` that fails as Docker's does into `folder` (made if missing); return the folder,
    to put first on PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bwrap").write_text(FAILING_BWRAP)
    (folder / "bwrap").chmod(0o755)
    return folder
