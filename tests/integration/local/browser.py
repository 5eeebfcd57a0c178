"""Headless Chromium (Debian's `chromium`) loading a page from disk, as the tests use it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

# No sandbox (root in a container), no GPU, and nothing that talks to the network by itself.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium() -> str:
    """The browser's path, or skip: `.ci/run` installs it with apt where it can."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no chromium on PATH (apt-get install chromium; .ci/run installs it)")


def run_chromium(page: Path, profile: Path, *args: str) -> str:
    """Run the browser once on `page` with a fresh profile; its stdout."""
    done = subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM after the page's scripts ran."""
    return run_chromium(page, profile, "--dump-dom")


def screenshot(page: Path, profile: Path, path: Path, size: str = "1400,2600") -> Path:
    run_chromium(
        page, profile, f"--screenshot={path}", f"--window-size={size}", "--hide-scrollbars"
    )
    assert path.exists() and path.stat().st_size > 0, path
    return path
