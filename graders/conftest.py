"""What every grader shares: the same random inputs for every hand-in of a class."""

import pytest

from coursekit.config import Course


@pytest.fixture(autouse=True)
def _same_inputs_for_every_handin(request: pytest.FixtureRequest, course: Course) -> None:
    """Reseed the test module's `_GENERATOR` from course.yml's seed and the test's own name.

    Two students with the same code get the same points, whatever their place in the batch, and `coursekit check`
    (one process per hand-in) agrees with `coursekit grade` (many hand-ins per process).
    """
    generator = getattr(request.module, "_GENERATOR", None)
    if generator is not None:
        generator.manual_seed(course.seed_for(request.node.nodeid))
