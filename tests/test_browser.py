"""The student's path in a real browser: JupyterLab on the labs, run, validate.

Starts JupyterLab with the README's main command (`make lab`) on a temporary copy of labs/,
drives Debian's Chromium through Playwright, and keeps screenshots in test-artifacts/browser/
when a step fails. Skipped, with the reason, where no Chromium can be found.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

from course_utils import notebooks
from course_utils.runtime import device

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
LAB = "lab1_onehot"
CHROMIUM = os.environ.get("COURSE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Flags for a headless browser on a machine with no network (as root, in a container).
ERRORS = ".jp-Notebook .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.xdist_group(name="browser")  # one JupyterLab server, one browser
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
if not Path(CHROMIUM).is_file():
    pytest.skip(
        f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium when run "
        "as root with apt-get; otherwise install it or set COURSE_CHROMIUM",
        allow_module_level=True,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lab_command(lab_dir: Path, port: int, token: str) -> list[str]:
    """The README's `make lab`, pointed at ``lab_dir``, headless, on loopback, with a token."""
    extra = f"--no-browser --ServerApp.ip=127.0.0.1 --IdentityProvider.token={token}"
    if Path(sys.prefix).resolve() == (ROOT / ".venv").resolve():
        return [
            "make",
            "--no-print-directory",
            "lab",
            f"LAB_DIR={lab_dir}",
            f"PORT={port}",
            f"LAB_ARGS={extra}",
        ]
    # another environment (conda): the command that `make lab` runs
    return [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        f"--ServerApp.root_dir={lab_dir}",
        f"--port={port}",
        *extra.split(),
    ]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """JupyterLab on a copy of labs/ (plus an untouched copy of lab 1); yields (url, folder)."""
    lab_dir = tmp_path_factory.mktemp("student") / "labs"
    shutil.copytree(ROOT / "labs", lab_dir)
    shutil.copytree(lab_dir / LAB, lab_dir / "untouched")
    port, token = _free_port(), secrets.token_hex(16)
    log = open(lab_dir.parent / "jupyterlab.log", "w")  # noqa: SIM115
    # a workspace of its own, so that no earlier session's open tabs come back
    env = {**os.environ, "JUPYTERLAB_WORKSPACES_DIR": str(lab_dir.parent / "workspaces")}
    proc = subprocess.Popen(
        _lab_command(lab_dir, port, token),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(
                        "JupyterLab did not start:\n"
                        + (lab_dir.parent / "jupyterlab.log").read_text()[-3000:]
                    )
                time.sleep(0.5)
        # ?reset: start from an empty workspace, nothing open
        yield f"{url}/lab?reset&token={token}", lab_dir
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@contextmanager
def step(page, name: str) -> Iterator[None]:
    """Run one step of the walk; on failure keep a screenshot of what the student would see."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        raise


def open_notebook(browser, url: str, path: str):
    """Open ``path`` the way a student does: double clicks in JupyterLab's file browser."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(url)
    for name in path.split("/"):
        label = page.locator(".jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(name)}$"))
        page.locator(".jp-DirListing-item", has=label).dblclick()
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    page.wait_for_selector(".jp-Notebook .jp-RenderedMarkdown h1")
    assert page.locator(".jp-NotebookPanel").count() == 1, "another notebook is open too"
    # Run All before the kernel is up does nothing on a slow machine: wait for it
    page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle")).wait_for(timeout=120_000)
    return page


def click_run_all(page) -> None:
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def run_all(page) -> None:
    """Run All Cells, and wait until every code cell of the open notebook has run."""
    click_run_all(page)
    page.wait_for_function(
        """() => {
            const panel = [...document.querySelectorAll('.jp-NotebookPanel')]
                .find(p => !p.classList.contains('lm-mod-hidden'));
            const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=240_000,
    )


def validate(page) -> str:
    """Click Validate (it saves the notebook first) and return the text of the result dialog."""
    page.locator("[title='Validate Assignment']:visible").click()  # this notebook's toolbar
    dialog = page.locator(".jp-Dialog", has_text="Validation Results")
    dialog.wait_for(timeout=240_000)
    text = dialog.text_content()
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    return text


def answers() -> list[tuple[int, str]]:
    """(cell index, text) for every answer cell: the reference code, a written answer."""
    solution = nbformat.read(ROOT / "solutions" / LAB / f"{LAB}.ipynb", as_version=4)
    out = []
    for i, cell in enumerate(solution.cells):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            text = (
                notebooks.reference_answer(cell.source)
                if cell.cell_type == "code"
                else "One-hot vectors of different words are orthogonal: cosine 0, "
                "distance sqrt(2), whatever the words mean."
            )
            out.append((i, text))
    return out


def type_into_cell(page, index: int, text: str) -> None:
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.scroll_into_view_if_needed()
    if "jp-MarkdownCell" in (cell.get_attribute("class") or ""):
        cell.dblclick()  # a rendered markdown cell opens its editor on a double click
    editor = cell.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)
    page.keyboard.press("Escape")


def test_student_walk_through_lab1(server, browser):
    url, lab_dir = server
    page = open_notebook(browser, url, f"{LAB}/{LAB}.ipynb")

    with step(page, "1-open-and-render"):
        title = page.locator(".jp-Notebook .jp-RenderedMarkdown h1").first.inner_text()
        assert title.startswith("Lab 1"), title
        page.wait_for_selector(".jp-Notebook mjx-container")  # the maths is typeset
        assert page.locator(".jp-Notebook mjx-container").count() >= 3

    with step(page, "2-type-answers-and-run-all"):
        for index, text in answers():
            type_into_cell(page, index, text)
        run_all(page)
        errors = page.locator(ERRORS)
        assert errors.count() == 0, errors.first.text_content()
        passed = page.locator(".jp-Notebook .jp-OutputArea-output", has_text="visible tests passed")
        assert passed.count() == 6
        figures = page.locator(".jp-Notebook .jp-OutputArea-output img")
        assert figures.count() >= 2
        figures.first.scroll_into_view_if_needed()
        assert figures.first.bounding_box()["height"] > 100, "the heatmap is not displayed"

    with step(page, "4-device"):
        shown = page.locator(".jp-OutputArea-output", has_text="This notebook computes on:")
        assert shown.first.text_content().strip() == f"This notebook computes on: {device()}"

    with step(page, "3-validate-solution"):
        result = validate(page)
        assert "Success! Your notebook passes all the tests." in result, result
    page.close()

    page = open_notebook(browser, url, f"untouched/{LAB}.ipynb")
    with step(page, "2-run-all-untouched"):
        # JupyterLab's Run All stops at the first error: the first test cell, whose stub raises
        click_run_all(page)
        page.locator(ERRORS, has_text="NotImplementedError").first.wait_for(timeout=240_000)
    with step(page, "3-validate-untouched"):
        result = validate(page)
        assert "Validation failed" in result or "failed" in result.lower(), result
        assert "NotImplementedError" in result, result
    page.close()
