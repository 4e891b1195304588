import os

# Tests train only tiny models, for which one thread beats two (and two processes' OpenMP pools
# fighting over two cores are 10x slower); notebook kernels started by papermill inherit this.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path

import pytest
import torch

from aux_select.data.registry import REGISTRY

pytest_plugins = ["pytester"]  # tests of these fixtures run a small inner session (test_data.py)

torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Tokenised-data cache in a temp folder, so tests never read a stale user cache."""
    os.environ["AUX_SELECT_CACHE"] = str(tmp_path_factory.mktemp("cache"))


FIXTURE_DATA = Path(__file__).resolve().parent / "fixtures" / "data"


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data files (AUX_SELECT_DATA) for tests marked `data`. Not configured: they skip.
    Configured but missing (the folder or its glue/ absent): they skip, except under CI=true,
    where a configured path that is not there is a broken setup and fails."""
    root = os.environ.get("AUX_SELECT_DATA")
    if not root:
        pytest.skip("real GLUE files not configured: set AUX_SELECT_DATA to a folder holding glue/ "
                    "(e.g. AUX_SELECT_DATA=../shared/data)")
    path = Path(root).expanduser()
    if not (path / "glue").is_dir():
        why = "does not exist" if not path.is_dir() else "has no glue/ folder"
        message = (f"AUX_SELECT_DATA={root} {why}; point it at a folder holding glue/ "
                   "(e.g. AUX_SELECT_DATA=../shared/data) or unset it to skip the real-data tests")
        if _on_ci():
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def fixture_data_dir() -> Path:
    """tests/fixtures/data: tiny made-up files in the layout of ../shared/data, marked as a
    sample root (its SAMPLE file), so loader tests and smoke runs work without the real data."""
    if not (FIXTURE_DATA / "SAMPLE").is_file():
        pytest.fail(f"{FIXTURE_DATA} is missing or incomplete; run python tests/fixtures/make_fixtures.py",
                    pytrace=False)
    return FIXTURE_DATA


@pytest.fixture
def registry_guard():
    """Undo tasks a test registers."""
    before = dict(REGISTRY)
    yield
    REGISTRY.clear()
    REGISTRY.update(before)
