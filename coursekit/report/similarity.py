"""Pairs of hand-ins whose code is unusually alike, by winnowing (copydetect, Schleimer et al. 2003).

Each hand-in is the text of course.yml's part files, in course order, read through the kit's own intake (so a zip
or a notebook is read as safely as for grading). copydetect tokenises it (names become one token, so renamed
variables still match), fingerprints its k-grams and winnows them; the released stubs (exercises/<file>: the
signatures and docstrings every student starts from) are boilerplate, so fingerprints they hold count for no one.

A pair's score is the smaller of the two shares (the part of each hand-in's own code that the other also holds):
a short hand-in inside a long one is not flagged by the short one's share alone.

Similarity is evidence for a person to weigh, never a verdict: short exercises make honest answers alike.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import logging
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coursekit.config import Course
from coursekit.intake.handin import discover_handins, unpack_handin

# The pair score above which a pair is flagged. Measured with bench/calibrate_similarity.py (k=25, window 1,
# the stubs as boilerplate): honest pairs (the sample class's correct hand-in and the two correct rewrites of every
# part in the grader tests, each against the others) min 0.06 / median 0.12 / max 0.34; each of them copied with
# renamed variables and reordered functions: 0.82 / 0.95 / 0.93; the bundled sample class (built from one
# solution, so nearly every pair shares its code) min 0.44 / median 0.94 / max 1.00. 0.5 sits above every honest
# pair and below every copy.
SIMILARITY_THRESHOLD = 0.5
# copydetect's defaults for noise (k-gram length, in tokens) and winnowing window.
NOISE_THRESHOLD = 25
WINDOW = 1
# A hand-in with fewer tokens of its own (beyond the stubs) is not compared: the unmodified stubs, a missing part.
MIN_OWN_TOKENS = 40
# Characters of each file shown in a side-by-side view.
MAX_SHOWN_CHARS = 30_000


@dataclasses.dataclass(frozen=True)
class Segment:
    """A stretch of a hand-in's code, and whether the other hand-in of the pair holds it too."""

    text: str
    shared: bool


@dataclasses.dataclass(frozen=True)
class Pair:
    first: str
    second: str
    # Share of each one's own code that the other also holds.
    shares: tuple[float, float]
    segments: tuple[tuple[Segment, ...], tuple[Segment, ...]]

    @property
    def score(self) -> float:
        return min(self.shares)

    @property
    def flagged(self) -> bool:
        return self.score >= SIMILARITY_THRESHOLD


@dataclasses.dataclass(frozen=True)
class Similarity:
    pairs: tuple[Pair, ...]
    compared: tuple[str, ...]
    # Students left out, and why (too little code of their own, or a hand-in that could not be read).
    left_out: tuple[tuple[str, str], ...]


def handin_sources(*, submissions_dir: Path, course: Course, students: set[str] | None = None) -> dict[str, str]:
    """Each student's part files joined in course order, read through the intake (nothing is run)."""
    sources: dict[str, str] = {}
    entries, _ = discover_handins(submissions_dir=submissions_dir)
    with tempfile.TemporaryDirectory(prefix="coursekit-similarity-") as scratch:
        for student_id, source in entries:
            if students is not None and student_id not in students:
                continue
            try:
                handin = unpack_handin(
                    student_id=student_id,
                    source=source,
                    dest_dir=Path(scratch) / student_id,
                    course=course,
                    limits=course.intake,
                )
            except Exception:  # a hand-in intake could not read has nothing to compare; Problems lists it
                continue
            texts = []
            for part in course.assignment.parts:
                path = handin.directory / part.file
                if path.is_file() and not path.is_symlink():
                    texts.append(path.read_text(encoding="utf-8", errors="replace"))
            sources[student_id] = "\n\n".join(texts)
    return sources


def boilerplate_source(*, course_dir: Path, course: Course) -> str:
    """What every student was given: the released stubs of every part."""
    texts = []
    for part in course.assignment.parts:
        stub = course_dir / "exercises" / part.file
        if stub.is_file():
            texts.append(stub.read_text(encoding="utf-8"))
    return "\n\n".join(texts)


def similar_pairs(sources: Mapping[str, str], *, boilerplate: str = "") -> Similarity:
    """Every pair of hand-ins scored, highest first."""
    import numpy as np
    from copydetect import CodeFingerprint, compare_files

    logging.getLogger("copydetect").setLevel(logging.ERROR)

    def fingerprint(name: str, text: str, ignore: object = None) -> CodeFingerprint:
        return CodeFingerprint(
            f"{name}.py", NOISE_THRESHOLD, WINDOW, boilerplate=ignore, language="python", fp=io.StringIO(text)
        )

    ignored = np.array(sorted(fingerprint("boilerplate", boilerplate).hashes)) if boilerplate.strip() else None
    prints, left_out = {}, []
    for student, text in sorted(sources.items()):
        print_ = fingerprint(student, text, ignored)
        if print_.token_coverage < MIN_OWN_TOKENS:
            left_out.append((student, "too little code beyond the released stubs to compare"))
            continue
        prints[student] = print_
    pairs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for first, second in itertools.combinations(sorted(prints), 2):
            _, shares, slices = compare_files(prints[first], prints[second])
            pairs.append(
                Pair(
                    first=first,
                    second=second,
                    shares=(float(shares[0]), float(shares[1])),
                    segments=(
                        _segments(prints[first].raw_code, slices[0]),
                        _segments(prints[second].raw_code, slices[1]),
                    ),
                )
            )
    pairs.sort(key=lambda p: (-p.score, -max(p.shares), p.first, p.second))
    return Similarity(pairs=tuple(pairs), compared=tuple(sorted(prints)), left_out=tuple(left_out))


def _segments(code: str, slices: Any) -> tuple[Segment, ...]:
    """`code` cut into shared and unshared stretches (copydetect's slices: row 0 starts, row 1 ends)."""
    code = code[:MAX_SHOWN_CHARS]
    if len(slices) == 0:  # two files that share nothing: copydetect gives a flat empty array, not two empty rows
        return (Segment(code, shared=False),) if code else ()
    spans = sorted(zip((int(s) for s in slices[0]), (int(e) for e in slices[1]), strict=True))
    segments, at = [], 0
    for start, end in spans:
        start, end = max(start, at), min(end, len(code))
        if start >= end:
            continue
        if start > at:
            segments.append(Segment(code[at:start], shared=False))
        segments.append(Segment(code[start:end], shared=True))
        at = end
    if at < len(code):
        segments.append(Segment(code[at:], shared=False))
    return tuple(segments)
