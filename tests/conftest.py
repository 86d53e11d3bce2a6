import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


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
