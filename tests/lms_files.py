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


# Moodle's offline grading worksheet for an assignment worth 10 points with file submissions and feedback comments,
# as mod/assign/gradingtable.php writes it (Moodle's English strings; format_time's lateness in the Status column).
MOODLE_WORKSHEET_CSV = (
    '\ufeffIdentifier,"Full name","Email address",Status,Grade,"Maximum Grade","Grade can be changed",'
    '"Last modified (submission)","Last modified (grade)","Feedback comments"\n'
    '"Participant 7301","Alice Moreau",alice.moreau@students.example.edu,"Submitted for grading",,10.00,Yes,'
    '"Monday, 30 November 2026, 9:12 PM",-,\n'
    '"Participant 7302","Bob Okafor",bob.okafor@students.example.edu,"Submitted for grading - 1 day 2 hours late",'
    ',10.00,Yes,"Wednesday, 2 December 2026, 1:40 AM",-,\n'
    '"Participant 7303","Carol Lindqvist",carol.lindqvist@students.example.edu,"Submitted for grading - Graded",'
    '8.00,10.00,Yes,"Monday, 30 November 2026, 8:01 PM","Tuesday, 1 December 2026, 10:05 AM","<p>Looked at it by hand.</p>"\n'
    '"Participant 7304","Dave Kowalski",dave.kowalski@students.example.edu,"Submitted for grading - 5 mins 3 secs late",'
    ',10.00,Yes,"Tuesday, 1 December 2026, 12:04 AM",-,\n'
    '"Participant 7305","Erin Nakamura",,"No submission - Assignment is overdue by: 3 days 4 hours",,10.00,Yes,-,-,\n'
    '"Participant 7320","Zoë Marchetti, Jr.",zoe.marchetti@students.example.edu,'
    '"Submitted for grading - Graded - Submission changes not allowed",9.50,10.00,No,'
    '"Monday, 30 November 2026, 6:30 PM","Tuesday, 1 December 2026, 9:00 AM",Done.\n'
    '"Participant 7399","=HYPERLINK(""http://evil.example"",""x"")",@SUM(1),"No submission",,10.00,Yes,-,-,\n'
)
