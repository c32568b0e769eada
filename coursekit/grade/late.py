"""The late policy (course.yml's ``late_policy``), applied in one place: `late_penalty` is what ``coursekit grade``,
``coursekit export`` and the Gradescope run all call, so a late hand-in loses the same points on every path.

How many days late a hand-in is comes from the LMS (late.csv, written by ``coursekit collect``; Gradescope's
submission_metadata.json): whole days begun after the due date, so a minute late is one day. Where the LMS says only
*that* a hand-in is late (Canvas's download names), it counts as one day, the least the flag allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from coursekit.config import LatePolicy

DAY_SECONDS = 24 * 60 * 60


def days_late(seconds_late: float) -> int:
    """Whole days begun: 0 when on time, 1 for a second up to a day late, 2 past a day, ..."""
    return 0 if seconds_late <= 0 else math.ceil(seconds_late / DAY_SECONDS)


@dataclass(frozen=True)
class LatePenalty:
    """What the late policy did to one late hand-in."""

    days_late: int
    """The days counted (at least 1)."""
    days_known: bool
    """False when the LMS said only that the hand-in was late, and one day was counted."""
    deducted: float
    """Points taken off the hand-in's score (at most the score)."""
    rule: str
    """One sentence for the student: how late, and what the policy does to such a hand-in (no score in it)."""

    def line(self, *, with_points: bool) -> str:
        """`rule`, and with `with_points` the points deducted (which can tell the score: leave them out while the
        score is hidden)."""
        if not with_points or self.deducted == 0:
            return self.rule
        return f"{self.rule} {_points(self.deducted)} point{'s' if self.deducted != 1 else ''} deducted."


def _points(value: float) -> str:
    value = round(value, 4)
    return f"{int(value)}" if value == int(value) else f"{value:g}"


def _days(count: int) -> str:
    return f"{count} day{'s' if count != 1 else ''}"


def late_penalty(
    *, policy: LatePolicy | None, score: float, points: float, late: bool, days: int | None
) -> LatePenalty | None:
    """The penalty for a hand-in scoring `score` of `points`, `days` days late (None: late, but by how much is not
    known); None when it is on time. Without a policy a late hand-in loses nothing, and the rule says so."""
    if not late:
        return None
    counted = max(1, days) if days is not None else 1
    how_late = (
        f"Handed in {_days(counted)} late"
        if days is not None
        else "Handed in late (the LMS gives no time, so it counts as 1 day)"
    )
    if policy is None:
        deducted, what = 0.0, "no late penalty applies."
    elif policy.cutoff_days is not None and counted > policy.cutoff_days:
        deducted, what = score, f"past the late policy's cutoff of {_days(policy.cutoff_days)}, it scores 0."
    elif policy.penalty_percent_per_day == 0:
        deducted, what = (
            0.0,
            f"within the late policy's cutoff of {_days(policy.cutoff_days or 0)}, nothing is deducted.",
        )
    else:
        rate = policy.penalty_percent_per_day
        deducted = min(score, points * rate / 100 * counted)
        what = f"the late policy deducts {rate:g}% of the {_points(points)} points per day late."
    return LatePenalty(
        days_late=counted, days_known=days is not None, deducted=round(deducted, 4), rule=f"{how_late}; {what}"
    )
