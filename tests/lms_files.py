"""What the LMS tests share: a class roster that links Canvas and Moodle ids, and ways to build downloads."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

ROSTER_CSV = """\
student_id,name,email,canvas_user_id,sis_user_id,sis_login_id,moodle_id,section
alice,Alice Moreau,alice.moreau@students.example.edu,50101,S2024001,amoreau,7301,Lab A
bob,Bob Okafor,bob.okafor@students.example.edu,50102,S2024002,bokafor,7302,Lab A
carol,Carol Lindqvist,carol.lindqvist@students.example.edu,50103,S2024003,clindqvist,7303,Lab B
dave,Dave Kowalski,dave.kowalski@students.example.edu,50104,S2024004,dkowalski,7304,Lab B
erin,Erin Nakamura,,,,,7305,Lab B
zoe,"Zoë Marchetti, Jr.",zoe.marchetti@students.example.edu,50120,S2024020,zmarchetti,7320,Lab B
"""


def tree(root: Path) -> list[str]:
    """Every file under `root`, as sorted relative paths."""
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            # ZipInfo keeps the name as given, so hostile names reach the archive untouched.
            archive.writestr(zipfile.ZipInfo(name), data)
    return path


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()
