import importlib.util
import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

# Property tests are seeded by default: `make test` draws the same examples on every
# machine and every run, so a red CI run is reproducible and a green one repeatable.
# HYPOTHESIS_PROFILE=explore draws new examples each run (and keeps failures in
# .hypothesis/ to replay) when hunting for bugs.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _engines():
    from meanstest import reference

    engines = [pytest.param(reference.run, id="reference")]
    if importlib.util.find_spec("meanstest.fast") is not None:
        from meanstest import fast

        engines.append(pytest.param(fast.run, id="fast"))
    return engines


@pytest.fixture(params=_engines())
def engine(request):
    """Each hand-computed case runs through every engine: the reference and the kernels."""
    return request.param
