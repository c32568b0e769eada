"""The bundled sample class is what examples/build_sample_class.py makes from the current sources."""

import subprocess
import sys

from repo_paths import REPO


def test_the_sample_class_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "build_sample_class.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
