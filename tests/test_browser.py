"""Notebooks 02 and 04 in a real JupyterLab, in Debian's chromium driven by Playwright.

A JupyterLab server on a free 127.0.0.1 port, with a random token, serves a temporary root that
holds copies of the notebooks parameterised for the smoke profile; the kernel reads the fixture
data (AUX_SELECT_DATA) and writes to a temporary store (AUX_SELECT_STORE). Each test opens a
notebook, runs all its cells through the UI (Run > Run All Cells), moves its widget and checks
that the figure under it is redrawn, then screenshots the widget's cell into tmp_path and, when
AUX_SELECT_SCREENSHOTS=<dir> is set, into that folder too:

    AUX_SELECT_SCREENSHOTS=figures/screenshots python -m pytest -q -m browser

AUX_SELECT_BROWSER_PROFILE=cpu opens them instead in the `cpu` profile for MRPC on the real data
(AUX_SELECT_DATA) with the checkout's results/cpu/store, whose stage 1 and head matrices a
`reproduce --primaries MRPC` run left there (read back, so seconds): how the README's screenshots
are made.

    AUX_SELECT_BROWSER_PROFILE=cpu AUX_SELECT_DATA=../shared/data \
        AUX_SELECT_SCREENSHOTS=figures/screenshots python -m pytest -q -m browser -k "not broken"

The browser is the system's chromium (`apt-get install chromium`; AUX_SELECT_CHROMIUM names
another executable): Playwright is pointed at it and never downloads one. Without it these tests
skip, except under CI=true, where .ci/run installs it and its absence is a broken setup.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat
import papermill
import psutil
import pytest

from conftest import FIXTURE_DATA, _on_ci

sync_api = pytest.importorskip("playwright.sync_api")  # the test extra has it

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PROFILE = os.environ.get("AUX_SELECT_BROWSER_PROFILE", "smoke")
if PROFILE == "smoke":  # a short pool keeps each notebook's run to seconds
    PRIMARY, OTHER, POOL = "RTE", "MRPC", ["WNLI", "MRPC", "CoLA"]
    PARAMETERS = {"02_bandit_selection.ipynb": {"profile": "smoke", "candidates": POOL},
                  "04_head_importance.ipynb": {"profile": "smoke", "tasks": [PRIMARY, *POOL]}}
elif PROFILE == "cpu":  # the notebooks' own pools (every GLUE classification task), read back
    PRIMARY, OTHER = "MRPC", "RTE"
    PARAMETERS = {name: {"profile": "cpu", "primary": PRIMARY}
                  for name in ("02_bandit_selection.ipynb", "04_head_importance.ipynb")}
else:
    raise ValueError(f"AUX_SELECT_BROWSER_PROFILE={PROFILE!r}: choose smoke (the default) or cpu")
RUN_ALL_TIMEOUT_MS = 300_000  # a stuck notebook fails the test instead of blocking the suite
REDRAW_TIMEOUT_MS = 60_000


@dataclass
class Lab:
    url: str
    token: str
    root: Path

    def tree(self, name: str) -> str:
        # reset: the server's saved workspace (what was open before) is not restored
        return f"{self.url}/lab/tree/{name}?reset&token={self.token}"


def chromium() -> str:
    path = os.environ.get("AUX_SELECT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        message = "no chromium: apt-get install chromium, or set AUX_SELECT_CHROMIUM to a Chromium executable"
        if _on_ci():
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    return path


def prepare(name: str, root: Path, source: Path | None = None, **parameters) -> str:
    """A copy of notebook `name` (or of `source`) in root with the PARAMETERS injected the
    way papermill injects them (a cell after the `parameters` one); returns its file name."""
    target = root / (source.name if source else name)
    # the outputs stay in the temporary root (the defaults would be the checkout's results/smoke)
    outputs = {"out_dir": str(root / "out"), "figures_dir": str(root / "figures")}
    papermill.execute_notebook(str(source or NOTEBOOKS / name), str(target), prepare_only=True, progress_bar=False,
                               parameters={**PARAMETERS[name], **outputs, **parameters})
    return target.name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(server: subprocess.Popen, url: str, log: Path) -> None:
    for _ in range(240):  # a cold start imports jupyterlab and its extensions: seconds
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited ({server.returncode}):\n{log.read_text()[-3000:]}", pytrace=False)
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer at {url}:\n{log.read_text()[-3000:]}", pytrace=False)


def stop(server: subprocess.Popen, lab: Lab) -> None:
    """Shut the server down with its kernels; kill whatever of its process tree is left."""
    try:
        tree = psutil.Process(server.pid).children(recursive=True)  # kernels run in sessions of their own
    except psutil.NoSuchProcess:
        tree = []
    try:  # the API shuts the kernels down before the server
        request = urllib.request.Request(f"{lab.url}/api/shutdown", method="POST",
                                         headers={"Authorization": f"token {lab.token}"})
        urllib.request.urlopen(request, timeout=10)
        server.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        if server.poll() is None:  # not answering: its whole process group goes
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    for process in tree:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(tree, timeout=10)


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Lab:
    """A JupyterLab server on 127.0.0.1 only, for this module; stopped with its kernels at the end,
    also when a test failed."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()
    # user settings of this server only: no news or update checks (no internet here), and a
    # notebook starts its kernel without asking (a kernel dialog would cover the page)
    for plugin, values in {"apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
                           "notebook-extension/tracker": {"autoStartDefaultKernel": True}}.items():
        path = base / "settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    if PROFILE == "smoke":
        data = {"AUX_SELECT_DATA": str(FIXTURE_DATA), "AUX_SELECT_STORE": str(base / "store")}
    elif not os.environ.get("AUX_SELECT_DATA"):
        pytest.fail("AUX_SELECT_BROWSER_PROFILE=cpu reads the real data: set AUX_SELECT_DATA=../shared/data",
                    pytrace=False)
    else:
        data = {"AUX_SELECT_DATA": str(Path(os.environ["AUX_SELECT_DATA"]).resolve()),
                "AUX_SELECT_STORE": str(ROOT / "results" / "cpu" / "store")}
    env = {**os.environ, **data,
           "JUPYTER_CONFIG_DIR": str(base / "config"), "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces")}
    port, token = free_port(), secrets.token_hex(16)
    lab = Lab(f"http://127.0.0.1:{port}", token, root)
    log = base / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
             "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # its own process group
    try:
        wait_until_up(server, f"{lab.url}/api/status?token={token}", log)
        yield lab
    finally:
        stop(server, lab)


@pytest.fixture(scope="module")
def browser():
    executable = chromium()
    with sync_api.sync_playwright() as playwright:
        # as root (CI) chromium refuses its sandbox; /dev/shm is small in containers
        browser = playwright.chromium.launch(executable_path=executable,
                                             args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


def run_all(page, lab: Lab, name: str, failed: Path) -> None:
    """Open the notebook and run every cell from JupyterLab's Run menu; fail on a cell's error
    (or a timeout, with a screenshot of the page in `failed`)."""
    page.goto(lab.tree(name))
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)  # the kernel is up
    # a click in the notebook makes it the current document, which the Run menu's commands act on
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    # done when no cell is running or queued ([*]) any more: all numbered, or stopped at an error
    try:
        page.wait_for_function("""() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                .map(p => p.textContent.trim());
            return prompts.length && !prompts.includes('[*]:') && prompts[0] !== '[ ]:' }""",
                               timeout=RUN_ALL_TIMEOUT_MS)
    except sync_api.TimeoutError:  # what the page showed says why
        page.screenshot(path=str(failed), full_page=True)
        raise AssertionError(f"{name}: the cells did not finish within {RUN_ALL_TIMEOUT_MS // 1000} s; "
                             f"the page: {failed}") from None
    cells = page.locator(".jp-CodeCell")
    prompts = [p.strip() for p in cells.locator(".jp-InputPrompt").all_text_contents()]
    if "[ ]:" in prompts:  # Run All stops at a cell that raised
        failed_cell = cells.nth(prompts.index("[ ]:") - 1)
        raise AssertionError(f"{name}: a cell raised:\n{failed_cell.locator('.jp-OutputArea').text_content()[-3000:]}")


def widget_cell(page, widget: str):
    """The code cell whose output holds `widget` (a CSS class) and a rendered figure."""
    cell = page.locator(".jp-CodeCell", has=page.locator(widget))
    cell.locator(".widget-output img").wait_for(timeout=REDRAW_TIMEOUT_MS)
    cell.scroll_into_view_if_needed()
    return cell


def figure(cell) -> str:
    return cell.locator(".widget-output img").get_attribute("src")


def assert_redrawn(cell, before: str) -> None:
    """The widget's output area shows a figure other than `before`, and no error."""
    output = cell.locator(".widget-output")
    try:  # an error's traceback or a new image, whichever comes first
        output.locator("img:not([src='%s']), .jp-RenderedText[data-mime-type*='error'], "
                       ".jp-RenderedText[data-mime-type*='stderr']" % before).first.wait_for(timeout=REDRAW_TIMEOUT_MS)
    except sync_api.TimeoutError:
        raise AssertionError("the figure did not change after the widget moved") from None
    errors = output.locator(".jp-RenderedText[data-mime-type*='error'], .jp-RenderedText[data-mime-type*='stderr']")
    assert errors.count() == 0, f"the widget's callback failed:\n{errors.first.inner_text()[-2000:]}"
    assert output.locator("img").count() == 1 and figure(cell) != before, "the figure did not change"


def screenshot(cell, name: str, tmp_path: Path) -> Path:
    path = tmp_path / name
    cell.screenshot(path=str(path))
    if os.environ.get("AUX_SELECT_SCREENSHOTS"):
        folder = Path(os.environ["AUX_SELECT_SCREENSHOTS"])
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / name)
    return path


def move_slider_to_middle(page, cell) -> None:
    """Drag the round slider's handle from the last round to the middle of its track: a round
    halfway through stage 1, whose posteriors have moved from the prior but not settled."""
    handle, track = cell.locator(".noUi-handle"), cell.locator(".noUi-target")
    box, bar = handle.bounding_box(), track.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(bar["x"] + bar["width"] / 2, box["y"] + box["height"] / 2, steps=10)
    page.mouse.up()  # continuous_update=False: the kernel hears the value on release


def test_02_round_slider_redraws_the_posteriors(lab, page, tmp_path):
    run_all(page, lab, prepare("02_bandit_selection.ipynb", lab.root), tmp_path / "failed.png")
    cell = widget_cell(page, ".widget-slider")
    readout, before = cell.locator(".widget-readout"), figure(cell)
    last_round = int(readout.inner_text())
    move_slider_to_middle(page, cell)
    assert_redrawn(cell, before)
    assert 0 < int(readout.inner_text()) < last_round
    assert screenshot(cell, "02_bandit_selection.png", tmp_path).stat().st_size > 10_000


def test_04_task_picker_redraws_the_heatmap(lab, page, tmp_path):
    run_all(page, lab, prepare("04_head_importance.ipynb", lab.root), tmp_path / "failed.png")
    cell = widget_cell(page, ".widget-dropdown")
    picker, before = cell.locator(".widget-dropdown select"), figure(cell)
    assert picker.input_value() == PRIMARY  # the first task
    picker.select_option(OTHER)
    assert_redrawn(cell, before)
    assert picker.input_value() == OTHER
    assert screenshot(cell, "04_head_importance.png", tmp_path).stat().st_size > 10_000


def test_a_broken_slider_fails_the_check(lab, page, tmp_path):
    """The check above catches a widget that renders but whose callback fails: a test-only copy of
    notebook 02 whose replay raises for every round but the last (the one drawn first)."""
    nb = nbformat.read(NOTEBOOKS / "02_bandit_selection.ipynb", as_version=4)
    replay = next(c for c in nb.cells if "posterior_replay" in c.source)
    replay.source = replay.source.replace(
        "stage1.posterior_at,", "lambda r: stage1.posterior_at(r) if r == len(stage1.trajectory) else 1 / 0,")
    assert "1 / 0" in replay.source
    source = tmp_path / "02_broken_slider.ipynb"
    nbformat.write(nb, source)
    # its stage 1 and runs are read back from the store the good copy filled (when it ran first)
    run_all(page, lab, prepare("02_bandit_selection.ipynb", lab.root, source=source), tmp_path / "failed.png")
    cell = widget_cell(page, ".widget-slider")
    before = figure(cell)
    move_slider_to_middle(page, cell)
    with pytest.raises(AssertionError, match="callback failed"):
        assert_redrawn(cell, before)
