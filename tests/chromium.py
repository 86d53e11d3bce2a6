"""Headless Chromium for the document tests: the DOM it builds and a screenshot of it.

Screenshots go to the test's tmp_path and their paths are printed (`pytest -s` shows
them), so a person can look at what an official would see.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (.ci/run installs it)"
)


def _args(tmp_path: Path) -> list[str]:
    return [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ]


def dom(page: Path, tmp_path: Path) -> str:
    """The DOM after Chromium has loaded the page (scripts run, nothing fetched)."""
    return subprocess.run(
        [*_args(tmp_path), "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


def screenshot(page: Path, tmp_path: Path, name: str, size: str = "1100,2400") -> Path:
    """A PNG of the page as rendered; its path is printed for a person to look at."""
    shot = tmp_path / f"{name}.png"
    subprocess.run(
        [*_args(tmp_path), f"--screenshot={shot}", f"--window-size={size}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    print(f"screenshot: {shot}")
    return shot
