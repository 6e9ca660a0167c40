"""`revledger report`: one self-contained HTML file whose charts really render in a browser.

The browser test opens the report in headless Chromium (Debian's ``chromium``),
measures every SVG chart's laid-out size from inside the page, checks nothing
was logged to the console, and keeps a screenshot under ``out/`` (and the
test's tmp folder) for a person to look at. Without Chromium it is skipped
locally, and fails in CI, where ``.ci/run`` installs it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import FIXTURES, IN_CI, ROOT

from cli.html_report import nice_range, waterfall
from decimal import Decimal

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--hide-scrollbars",
]

# Added to a copy of the report only: the report itself carries no script.
PROBE = """<script>
window.addEventListener("load", () => {
  const charts = Array.from(document.querySelectorAll("svg")).map((svg) => {
    const box = svg.getBoundingClientRect();
    const marks = svg.querySelectorAll("rect, polyline, circle");
    let drawn = 0;
    marks.forEach((m) => { const b = m.getBBox(); if (b.width > 0 || b.height > 0) drawn += 1; });
    return {label: svg.getAttribute("aria-label"), width: box.width, height: box.height,
            marks: marks.length, drawn: drawn};
  });
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(charts);
  document.body.appendChild(out);
});
</script>"""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def browser() -> str:
    found = chromium()
    if found is None:
        if IN_CI:
            pytest.fail("chromium is not installed; .ci/run installs it (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium) — the report's browser test needs it")
    return found


def run_chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [browser(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=120,
        )


@pytest.fixture
def example(rl):
    rl("import", str(FIXTURES / "example.csv"))
    return rl


def test_the_report_is_one_file_that_needs_nothing_else(example, tmp_path):
    out = tmp_path / "report.html"
    result = example("report", "--from", "2025-07-01", "--to", "2026-06-30", "--by", "segment", "--out", str(out))
    assert "wrote" in result.stdout
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "<link" not in page and "<img" not in page and "@import" not in page
    assert re.findall(r"(?:src|href)=\"(?!#)[^\"]*\"", page) == []
    assert set(re.findall(r"https?://[^\"' )]+", page)) <= {"http://www.w3.org/2000/svg"}
    for anchor in ("bridge", "mrr", "retention", "causes", "cohorts", "movers", "groups", "restatements"):
        assert f'<section id="{anchor}">' in page
    # one waterfall per month, and the header names the range, currency and known-at time
    assert page.count('aria-label="MRR bridge ') == 12
    known_at = example.events()[-1]["recorded_at"]
    assert f"as known at {known_at}" in page and "currency USD" in page


def test_the_report_shows_the_figures_metrics_prints(example, tmp_path):
    out = tmp_path / "report.html"
    example("report", "--from", "2026-01-01", "--to", "2026-03-31", "--out", str(out))
    page = out.read_text(encoding="utf-8")
    metrics = example("metrics", "--from", "2026-01-01", "--to", "2026-03-31", "--format", "json").json()
    for period in metrics["periods"]:
        closing = f"{Decimal(period['closing_mrr']):,.2f}"
        assert f"→ {closing}</figcaption>" in page
        assert f"churn: −{Decimal(period['bridge']['churn']):,.2f} USD" in page
        nrr = period["retention"]["nrr"]
        assert f"{Decimal(nrr) * 100:,.2f}%" in page


def test_the_report_is_byte_for_byte_the_same_as_known_at_a_moment(example, tmp_path):
    before = example.events()[-1]["recorded_at"]
    first = tmp_path / "first.html"
    example("report", "--from", "2026-01-01", "--to", "2026-06-30", "--out", str(first))
    example("record", "cancel", "--customer", "cust-010", "--date", "2026-02-10", "--reason", "late news")
    now, then = tmp_path / "now.html", tmp_path / "then.html"
    example("report", "--from", "2026-01-01", "--to", "2026-06-30", "--out", str(now))
    example("report", "--from", "2026-01-01", "--to", "2026-06-30", "--known-at", before, "--out", str(then))
    assert then.read_bytes() == first.read_bytes()
    assert now.read_bytes() != first.read_bytes()


def test_an_empty_ledger_still_writes_a_report(rl, tmp_path):
    out = tmp_path / "empty.html"
    rl("report", "--from", "2026-01-01", "--to", "2026-02-28", "--out", str(out))
    page = out.read_text(encoding="utf-8")
    assert "No customer had its first revenue in this range." in page
    assert "empty ledger" in page


def test_report_refuses_a_folder_that_does_not_exist(rl, tmp_path):
    result = rl("report", "--from", "2026-01-01", "--to", "2026-02-28", "--out", str(tmp_path / "no" / "r.html"), ok=False)
    assert result.exit_code == 1 and "no such folder" in result.stderr


def test_waterfall_bars_stack_from_opening_to_closing():
    period = {
        "start": "2026-01-01", "end": "2026-01-31", "opening_mrr": "1000.00", "closing_mrr": "1150.00",
        "bridge": {"new": "300.00", "expansion": "0.00", "reactivation": "0.00", "contraction": "50.00",
                   "churn": "100.00", "net_new": "150.00"},
    }
    svg = waterfall(period, "USD")
    assert svg.count("<rect ") == 7
    assert "<title>− churn: −100.00 USD</title>" in svg
    assert "<title>closing: 1,150.00 USD</title>" in svg
    assert nice_range(Decimal("0"), Decimal("1300")) == (Decimal("0"), Decimal("1500"), Decimal("500"))
    assert nice_range(Decimal("150285.89"), Decimal("151126.34")) == (Decimal("150200"), Decimal("151200"), Decimal("200"))


def test_the_charts_render_in_a_real_browser(example, tmp_path):
    out = tmp_path / "report.html"
    example("report", "--from", "2025-07-01", "--to", "2026-06-30", "--by", "segment", "--out", str(out))
    page = out.read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")

    dom = run_chromium("--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S)
    assert found, "the page did not finish loading:\n" + dom.stdout[-1000:]
    charts = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    labels = [c["label"] for c in charts]
    assert sum(label.startswith("MRR bridge") for label in labels) == 12
    for wanted in ("closing MRR per period", "ARR per period", "NRR and GRR per period",
                   "expansion and contraction by cause", "cohort net revenue retention"):
        assert wanted in labels
    for chart in charts:
        assert chart["width"] > 100 and chart["height"] > 100, chart
        assert chart["marks"] > 0 and chart["drawn"] > 0, chart
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console

    shot = tmp_path / "report.png"
    taken = run_chromium("--window-size=1400,3000", f"--screenshot={shot}", out.as_uri())
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    keep = ROOT / "out"
    keep.mkdir(exist_ok=True)
    shutil.copy(shot, keep / "report-screenshot.png")
    shutil.copy(out, keep / "report.html")


def test_quarters_are_named_as_quarters(example, tmp_path):
    out = tmp_path / "quarters.html"
    example("report", "--from", "2025-12-15", "--to", "2026-06-30", "--period", "quarter", "--out", str(out))
    page = out.read_text(encoding="utf-8")
    assert page.count('aria-label="MRR bridge ') == 3
    assert "<figcaption>2025-12-15 – 2025-12-31: " in page
    assert "<figcaption>2026-Q1: " in page and "<figcaption>2026-Q2: " in page
