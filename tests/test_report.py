"""The review report (issue 3): self-contained HTML, rendered in a real headless Chromium."""

import re
import shutil
import subprocess

import pytest

synth = pytest.importorskip("meanstest.synth")
write_bundle = pytest.importorskip("meanstest.bundle").write_bundle

from meanstest.policy import default_library
from meanstest.report import write_report
from meanstest.review import ReviewOptions, run_review

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    bundle = tmp_path_factory.mktemp("bundle")
    write_bundle(synth.generate(400, seed=3, bad_fraction=0.03), bundle)
    out = tmp_path_factory.mktemp("review")
    run_review(bundle, out, default_library(), ReviewOptions(quiet=True))
    return write_report(out)


def test_report_is_self_contained(report):
    text = report.read_text(encoding="utf-8")
    urls = set(re.findall(r"(?:src|href)=['\"]([^'\"]+)", text))
    assert not [u for u in urls if "://" in u], urls  # nothing fetched from a network
    assert "<script src" not in text and "<link" not in text


@pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (.ci/run installs it)"
)
def test_report_renders_with_charts_in_chromium(report, tmp_path):
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [*args, "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert dom.count('class="chart"') >= 7  # status, circle, benefit, veto, transition, …
    assert "社会救助年度复核报告" in dom and "toggle" in dom
    shot = tmp_path / "report.png"
    subprocess.run(
        [*args, f"--screenshot={shot}", "--window-size=1100,2400", report.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
