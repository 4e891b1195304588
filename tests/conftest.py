import os

# Tests train only tiny models, for which one thread beats two (and two processes' OpenMP pools
# fighting over two cores are 10x slower); notebook kernels started by papermill inherit this.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path

import pytest
import torch

from aux_select.tasks import REGISTRY


torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Tokenised-data cache in a temp folder, so tests never read a stale user cache."""
    os.environ["AUX_SELECT_CACHE"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real GLUE files (AUX_SELECT_DATA); tests that need them skip without it."""
    root = os.environ.get("AUX_SELECT_DATA")
    if not root or not (Path(root) / "glue").is_dir():
        pytest.skip("real GLUE files not configured: set AUX_SELECT_DATA to a folder holding glue/ "
                    "(e.g. AUX_SELECT_DATA=../shared/data)")
    return Path(root)


@pytest.fixture
def registry_guard():
    """Undo tasks a test registers."""
    before = dict(REGISTRY)
    yield
    REGISTRY.clear()
    REGISTRY.update(before)
