import os
from pathlib import Path

import pytest

from aux_select.tasks import REGISTRY


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
