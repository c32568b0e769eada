"""Build examples/submissions/: a sample class of 19 hand-ins for `make demo` and the tests.

Correct hand-ins in every container (folder, Mac-made zip, notebook), realistic bugs (graders/mutants/), broken
hand-ins (a truncated zip, a syntax error, a missing module), the unmodified stubs, and two hostile ones. Everything
is generated from solutions/, exercises/ and graders/mutants/, deterministically:

    .venv/bin/python examples/build_sample_class.py            # rewrite examples/submissions/
    .venv/bin/python examples/build_sample_class.py --check    # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from coursekit.author.notebook import build_notebook, fence_lines_removed  # noqa: E402
from coursekit.check.checker import load_mutants, write_mutant_handin  # noqa: E402
from coursekit.config import load_course  # noqa: E402

MODULES = ("activations.py", "model.py", "training.py")
# student -> the mutant (graders/mutants/*.yml) their hand-in carries
MUTANT_STUDENTS = {
    "grace": "missing-zero-grad",
    "heidi": "tanh-overflows",
    "ivan": "relu-network",
    "judy": "step-on-validation-loss",
    "niaj": "sigmoid-overflows",
    "olivia": "overridden-call",
    "peggy": "plot-without-labels",
    "rupert": "softplus-no-threshold",
    "sybil": "parameters-weights-only",
    "victor": "validation-with-grad",
}
HOSTILE_PREAMBLE = """\
# A hostile hand-in: it looks for the hidden graders, fakes comparisons, and never returns from training.
import glob
import torch

STOLEN = glob.glob("/**/graders/test_*.py", recursive=True)[:3]
torch.allclose = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None

"""
HOSTILE_LOOP = """

def training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):
    while True:
        pass
"""
NOVEL = """

_correct_training_loop = training_loop


def training_loop(*args, **kwargs):
    for line in range(200_000):
        print(f"It was the best of times, it was the worst of times ({line})")
    return _correct_training_loop(*args, **kwargs)
"""


def _sources(folder: str) -> dict[str, str]:
    return {name: (REPO / folder / name).read_text(encoding="utf-8") for name in MODULES}


def _write_folder(target: Path, sources: dict[str, str]) -> None:
    target.mkdir(parents=True)
    for name, text in sources.items():
        (target / name).write_text(text, encoding="utf-8")


def _write_zip(target: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(members.items()):
            info = zipfile.ZipInfo(name, date_time=(2024, 3, 1, 12, 0, 0))
            info.external_attr = 0o100644 << 16
            archive.writestr(info, data, zipfile.ZIP_DEFLATED)


def build_sample_class(dest: Path) -> None:
    """Write the sample class into `dest` (which must not exist)."""
    course = load_course(REPO / "course.yml")
    dest.mkdir(parents=True)
    solutions = _sources("solutions")
    _write_folder(dest / "alice", solutions)
    mac = {f"chapter6/{name}": text.encode() for name, text in solutions.items()}
    mac |= {
        "__MACOSX/chapter6/._model.py": b"\x00\x05\x16\x07\x00\x02\x00\x00",
        "chapter6/.DS_Store": b"\x00\x00\x00\x01",
    }
    _write_zip(dest / "bob.zip", mac)
    notebook = build_notebook(course_dir=REPO, with_solutions=True)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = fence_lines_removed(cell.source)
    nbformat.write(notebook, dest / "carol.ipynb")
    whole = b"".join(f"chapter6/{name}".encode() + text.encode() for name, text in solutions.items())
    (dest / "dave.zip").write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + whole[:300])
    erin = dict(solutions)
    erin["model.py"] = erin["model.py"].replace(
        "    def forward(self, x: Tensor) -> Tensor:", "    def forward(self, x"
    )
    _write_folder(dest / "erin", erin)
    _write_folder(dest / "frank", {name: solutions[name] for name in ("activations.py", "model.py")})
    mutants, problems = load_mutants(
        mutants_dir=REPO / "graders" / "mutants", course=course, solutions_dir=REPO / "solutions"
    )
    if problems:
        raise SystemExit("\n".join(problems))
    by_name = {mutant.name: mutant for mutant in mutants}
    for student, name in MUTANT_STUDENTS.items():
        target = write_mutant_handin(
            mutant=by_name[name], solutions_dir=REPO / "solutions", data_dir=Path("/nonexistent"), target=dest / student
        )
        for extra in target.iterdir():
            if extra.name not in MODULES:
                extra.unlink()
    mallory = dict(solutions)
    mallory["training.py"] = HOSTILE_PREAMBLE + mallory["training.py"] + HOSTILE_LOOP
    _write_folder(dest / "mallory", mallory)
    _write_folder(dest / "trent", _sources("exercises"))
    walter = dict(solutions)
    walter["training.py"] += NOVEL
    _write_folder(dest / "walter", walter)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if examples/submissions is stale")
    options = parser.parse_args()
    target = REPO / "examples" / "submissions"
    with tempfile.TemporaryDirectory() as temporary:
        fresh = Path(temporary) / "submissions"
        build_sample_class(fresh)
        if options.check:
            comparison = filecmp.dircmp(fresh, target)
            stale = _differences(comparison)
            if stale:
                raise SystemExit(f"examples/submissions is stale ({', '.join(stale[:5])}): rebuild it with {__file__}")
            return
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(fresh, target)
    print(f"wrote {target}")


def _differences(comparison: filecmp.dircmp[str]) -> list[str]:
    found = [*comparison.left_only, *comparison.right_only, *comparison.diff_files, *comparison.funny_files]
    for sub in comparison.subdirs.values():
        found += _differences(sub)
    return found


if __name__ == "__main__":
    main()
