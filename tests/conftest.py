"""Shared fixtures: every test runs offline, single-threaded, with its own avbench cache unless it asks to share."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("AVBENCH_THREADS", "1")
torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def run_avbench(*args: str) -> int:
    """avbench's console-script entry point in this process, as ``avbench ARGS`` runs it: its exit code."""
    import sys

    from avbench.cli import main

    argv, sys.argv = sys.argv, ["avbench", *args]
    try:
        main()
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One avbench cache for the whole session, so the synthetic dataset is generated once."""
    path = tmp_path_factory.mktemp("avbench-cache")
    os.environ["AVBENCH_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def synthetic(session_cache: Path):
    from avbench.data.datasets import open_dataset

    return open_dataset("synthetic")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture()
def browser(tmp_path: Path):
    """Headless Chromium through Selenium, for the HTML pages (skipped where the Debian packages are absent)."""
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs the Debian packages chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """``cli("run", ...)`` runs avbench's console-script entry point in this process: (exit code, stderr)."""

    def invoke(*args: str) -> tuple[int, str]:
        code = run_avbench(*args)
        return code, capsys.readouterr().err

    return invoke


@pytest.fixture
def cli_output(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """``cli_output("show", ...)``: like ``cli``, for commands whose standard output is the point (JSON, CSV,
    --version): (exit code, stdout, stderr)."""
    monkeypatch.setenv("COLUMNS", "200")

    def invoke(*args: str) -> tuple[int, str, str]:
        code = run_avbench(*args)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke
