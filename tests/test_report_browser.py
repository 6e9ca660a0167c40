"""`revledger report`: one self-contained HTML file that renders, drills down to the events, and prints.

The browser tests open the report in headless Chromium (Debian's ``chromium``):
a probe added to a copy of the page measures every chart, clicks figures and
reads what the drill-down lists; Chromium also prints the page to PDF, whose
pages are read (pypdfium2) to check no chart is split from its title. The
screen and the first printed page are kept as PNGs under ``out/`` for a person
to look at. Without Chromium they are skipped locally, and fail in CI, where
``.ci/run`` installs it.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import FIXTURES, IN_CI, ROOT

from cli import charts
from cli.charts import Step, Units, nice_range

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
RANGE = ("--from", "2025-07-01", "--to", "2026-06-30")

# Added to a copy of the report only. It measures the charts, then clicks figures of three kinds (a bar of the
# range bridge, a segment of a monthly stacked bar, a headline tile, a segment's table cell) and reads the panel.
PROBE = """<script>
window.addEventListener("load", () => {
  const charts = Array.from(document.querySelectorAll("svg")).map((svg) => {
    const box = svg.getBoundingClientRect();
    const marks = svg.querySelectorAll("rect, polyline, circle");
    let drawn = 0;
    marks.forEach((m) => { const b = m.getBBox(); if (b.width > 0 || b.height > 0) drawn += 1; });
    return {label: svg.getAttribute("aria-label"), width: box.width, height: box.height, marks: marks.length, drawn: drawn};
  });
  const figureOf = (node) => JSON.parse(node.getAttribute("data-figure"));
  const pick = (selector, test) => Array.from(document.querySelectorAll(selector)).find((n) => test(figureOf(n)));
  const targets = [
    pick("#range-bridge rect[data-figure]", (f) => f.metric === "bridge.churn"),
    pick("#monthly-movements rect[data-figure]", (f) => f.metric === "bridge.expansion" && f.start === "2026-03-01"),
    pick("#headline [data-figure]", (f) => f.metric === "closing_mrr"),
    pick("#groups td[data-figure]", (f) => f.metric === "bridge.new" && f.group === "Mid-Market"),
    pick("#figures td[data-figure]", (f) => f.metric === "customers.closing" && f.start === "2026-02-01"),
  ];
  const opened = targets.map((node) => {
    if (!node) return null;
    node.dispatchEvent(new MouseEvent("click", {bubbles: true}));
    const panel = document.getElementById("drill");
    const summary = document.getElementById("drill-summary");
    const items = Array.from(panel.querySelectorAll("tr.item")).map((r) => [r.getAttribute("data-customer"),
      parseInt(r.getAttribute("data-cents"), 10), r.cells[0].textContent]);
    const events = Array.from(panel.querySelectorAll("tr.event")).map((r) => r.textContent);
    const result = {figure: figureOf(node), shown: !panel.hidden, title: document.getElementById("drill-title").textContent,
      value: parseInt(summary.getAttribute("data-value"), 10), total: parseInt(summary.getAttribute("data-total"), 10),
      footer: document.getElementById("drill-total").textContent, items: items, events: events};
    document.getElementById("drill-close").click();
    result.closed = panel.hidden;
    return result;
  });
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({charts: charts, opened: opened});
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


def pdfium():
    try:
        import pypdfium2
    except ImportError:
        if IN_CI:
            pytest.fail("pypdfium2 is not installed (pip install -e '.[test]')")
        pytest.skip("pypdfium2 is not installed (pip install -e '.[test]') — reading the printed report needs it")
    return pypdfium2


def run_chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [browser(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=180,
        )


def keep(path: Path, name: str) -> None:
    folder = ROOT / "out"
    folder.mkdir(exist_ok=True)
    shutil.copy(path, folder / name)


@pytest.fixture
def example(rl):
    rl("import", str(FIXTURES / "example.csv"))
    return rl


def test_the_report_is_one_file_that_needs_nothing_else(example, tmp_path):
    out = tmp_path / "report.html"
    result = example("report", *RANGE, "--by", "segment", "--out", str(out))
    assert "wrote" in result.stdout
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    # Its script and data are inline: nothing is loaded from anywhere.
    assert re.findall(r"<script(?![^>]*>)|<script[^>]*\bsrc=", page) == []
    assert "<link" not in page and "<img" not in page and "@import" not in page and "fetch(" not in page
    assert re.findall(r"(?:src|href)=\"(?!#)[^\"]*\"", page) == []
    assert set(re.findall(r"https?://[^\"' )]+", page)) <= {"http://www.w3.org/2000/svg"}
    for anchor in ("overview", "trends", "causes", "groups", "cohorts", "durability", "figures", "movers",
                   "restatements", "notes"):
        assert f'<section id="{anchor}">' in page
    known_at = example.events()[-1]["recorded_at"]
    assert f"as known at {known_at}" in page and "currency USD" in page
    # One bridge for the whole range, one movements chart: no more small waterfalls.
    assert page.count('aria-label="MRR bridge for the range"') == 1 and page.count('aria-label="movements per period"') == 1


def test_the_report_shows_the_figures_metrics_prints_in_the_finance_teams_words(example, tmp_path):
    out = tmp_path / "report.html"
    example("report", *RANGE, "--out", str(out))
    page = html.unescape(out.read_text(encoding="utf-8"))
    whole = example("metrics", *RANGE, "--period", "year", "--format", "json").json()
    # The range as one period is not a calendar year: measure it through explain's own figure instead.
    closing = example("explain", "closing_mrr", *RANGE, "--format", "json").json()["value"]
    net_new = example("explain", "bridge.net_new", *RANGE, "--format", "json").json()["value"]
    assert f'<div class="value">{Decimal(closing):,.2f}</div>' in page
    assert f'<div class="value">+{Decimal(net_new):,.2f}</div>' in page
    months = example("metrics", *RANGE, "--format", "json").json()["periods"]
    march = next(p for p in months if p["start"] == "2026-03-01")
    assert f"−{Decimal(march['bridge']['contraction']):,.2f}" in page  # a true minus, two decimals, separators
    assert f"2026-03 contraction: −{Decimal(march['bridge']['contraction']):,.2f} USD" in page
    assert "Cross-sell (new product line)" in page and "Product line removed" in page
    shown = visible(page)
    for raw in ("cross_sell", "line_removed", "retention.nrr", "bridge.net_new", "opening_mrr"):
        assert raw not in shown, raw
    assert "cust-001 — Hooli, Inc." in shown  # a customer's name beside its id
    assert "hover" not in shown.lower()
    assert whole["periods"]  # the ledger has figures for the range


def visible(page: str) -> str:
    """The text a reader sees: no style, script or tags (a figure's attributes are not shown)."""
    text = re.sub(r"<style>.*?</style>|<script.*?</script>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def test_the_cohort_heatmap_has_a_legend_and_no_chart_repeats_mrr_as_arr(example, tmp_path):
    """Issue 16: the heatmap had no legend, and an "ARR chart" was the MRR chart times 12."""
    out = tmp_path / "report.html"
    example("report", *RANGE, "--by", "segment", "--out", str(out))
    page = out.read_text(encoding="utf-8")
    labels = re.findall(r'<svg[^>]*aria-label="([^"]*)"', page) + re.findall(r"<figcaption>(.*?)</figcaption>", page, re.S)
    assert labels and not [label for label in labels if "ARR" in label], labels
    [heatmap] = re.findall(r'<svg[^>]*aria-label="cohort net revenue retention".*?</svg>', page, re.S)
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]+)</text>", heatmap)]
    for wanted in ("NRR:", "0%", "50%", "100%", "150%+", "n/a (no MRR in month 0)"):
        assert wanted in texts, wanted
    # A cohort's month 0 is 100% of itself: its cells have the colour of the legend's swatch under "100%".
    swatches = [(int(x), fill) for x, fill in re.findall(r'<rect x="(\d+)" y="\d+" width="18" height="12" fill="([^"]+)"/>', heatmap)]
    legend = re.findall(r'<text x="(\d+)" y="\d+" text-anchor="middle">([^<]+)</text>', heatmap)  # cells have a class
    [hundred] = [int(x) for x, label in legend if label == "100%"]
    [under] = [fill for x, fill in swatches if x <= hundred < x + 18]
    month_0 = re.findall(r'fill="([^"]+)"[^>]*><title>cohort [0-9-]+, month 0: NRR 100%', heatmap)
    assert month_0 and set(month_0) == {under}


def test_the_bridge_starts_at_zero_so_bars_compare_truly():
    """86.7k against 88.8k: the bars' heights are in the ratio of the money, never a truncated axis."""
    steps = [Step("opening", "Opening", Decimal("86700.00")), Step("new", "New", Decimal("3100.00")),
             Step("churn", "Churn", Decimal("1000.00")), Step("closing", "Closing", Decimal("88800.00"))]
    svg = charts.bridge(steps, Units.for_largest(Decimal("88800")), "USD", "test")
    bars = {k: (Decimal(y), Decimal(h)) for y, h, k in re.findall(r'<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)"'
                                                                    r' fill="[^"]+" data-kind="(\w+)"', svg)}
    opening, closing = bars["opening"][1], bars["closing"][1]
    assert abs(opening / closing - Decimal("86700") / Decimal("88800")) < Decimal("0.002")
    assert bars["opening"][0] + opening == bars["closing"][0] + closing  # both stand on the zero line
    assert "<title>Churn: −1,000.00 USD</title>" in svg and "<title>Closing: 88,800.00 USD</title>" in svg
    assert ">−1.0k<" in svg and ">+3.1k<" in svg and ">86.7k<" in svg and ">88.8k<" in svg
    assert nice_range(Decimal("0"), Decimal("1300")) == (Decimal("0"), Decimal("1500"), Decimal("500"))


def test_one_unit_and_one_number_of_decimals_for_every_chart_label():
    units = Units.for_largest(Decimal("203531.99"))
    assert [units.label(Decimal(v), signed=True) for v in ("-482.30", "950", "457.38", "112795.52")] == [
        "−0.5k", "+1.0k", "+0.5k", "+112.8k"]
    assert units.tick(Decimal("150000")) == "150k" and units.tick(Decimal("0")) == "0"
    assert Units.for_largest(Decimal("2500000")).label(Decimal("1234567")) == "1.23M"


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


def embedded_drill(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="drill-data">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


def test_a_ledger_too_large_to_embed_says_what_it_left_out(example, tmp_path, monkeypatch):
    """Never a silent truncation: the report names the periods it carries and how to list the rest."""
    import cli.report

    months = example("metrics", *RANGE, "--format", "json").json()["periods"]
    moves = example("movements", *RANGE, "--format", "json").json()["movements"]
    # Room for the last two months only: their movements and every customer active at May's opening.
    may_on = [m for m in moves if m["date"] >= "2026-05-01"]
    limit = len(may_on) + months[-2]["customers"]["opening"]
    monkeypatch.setattr(cli.report, "DRILL_LIMIT", limit)
    out = tmp_path / "report.html"
    example("report", *RANGE, "--out", str(out))
    page = html.unescape(out.read_text(encoding="utf-8"))
    drill = embedded_drill(page)
    assert drill["from"] == "2026-05-01" and drill["embedded_movements"] <= limit
    assert (f"The range has {len(moves):,} movements, more than the {limit:,} one file carries: figures of periods from "
            "2026-05-01 on open from this file") in page
    monkeypatch.setattr(cli.report, "DRILL_LIMIT", 10)
    example("report", *RANGE, "--out", str(out))
    page = html.unescape(out.read_text(encoding="utf-8"))
    assert embedded_drill(page)["movements"] == []
    assert f"Not embedded: the range has {len(moves):,} movements, more than the 10 one file carries" in page


def explained(rl, figure: dict) -> dict:
    args = ["explain", figure["metric"], "--from", figure["start"], "--to", figure["end"], "--format", "json"]
    if "group" in figure:
        args += ["--by", "segment", "--group", figure["group"]]
    return rl(*args).json()


def cents(text: str) -> int:
    return int(Decimal(text) * 100)


def probed(rl, out: Path, tmp_path: Path) -> dict:
    """The report at ``out`` loaded in Chromium with PROBE: no console message, every chart drawn; what PROBE found."""
    probe = tmp_path / "probe.html"
    probe.write_text(out.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = run_chromium("--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S)
    assert found, "the page did not finish loading:\n" + dom.stdout[-1000:]
    result = json.loads(html.unescape(found.group(1)))
    labels = [c["label"] for c in result["charts"]]
    for wanted in ("MRR bridge for the range", "movements per period", "closing MRR per period", "trailing NRR and GRR",
                   "expansion and contraction by cause", "closing MRR by segment", "cohort net revenue retention"):
        assert wanted in labels
    for chart in result["charts"]:
        assert chart["width"] > 100 and chart["height"] > 100, chart
        assert chart["marks"] > 0 and chart["drawn"] > 0, chart
    return result


def drill_downs_add_up(rl, opened: list[dict]) -> None:
    """Each panel opened lists items adding up exactly to its figure, as explain lists them, with their events."""
    assert all(o is not None for o in opened), opened
    for o in opened:
        figure = o["figure"]
        assert o["shown"] and o["closed"], o["title"]
        counting = figure["metric"].startswith("customers.")
        value = int(figure["value"]) if counting else cents(figure["value"])
        # The items listed add up, exactly, to the figure the click came from.
        assert o["value"] == value and sum(amount for _, amount, _ in o["items"]) == value == o["total"], o["title"]
        ledger = explained(rl, figure)
        assert ledger["value"] == figure["value"]
        assert [(c, a) for c, a, _ in o["items"]] == [
            (item["customer_id"], int(item["amount"]) if counting else cents(item["amount"])) for item in ledger["items"]]
        # Each event behind the movements, with its id, sequence, dates, actor and source, as explain lists them.
        listed = [e for item in ledger["items"] for m in item["movements"] for e in m["events"]]
        assert len(o["events"]) == len(listed)
        for shown, event in zip(o["events"], listed):
            for key in ("event_id", "sequence", "effective_date", "recorded_at", "actor", "source"):
                assert str(event[key]) in shown, (key, shown)


def test_the_charts_render_and_the_drill_down_lists_what_explain_lists(example, tmp_path):
    out = tmp_path / "report.html"
    example("report", *RANGE, "--by", "segment", "--out", str(out))
    opened = probed(example, out, tmp_path)["opened"]
    drill_downs_add_up(example, opened)
    titles = [o["title"] for o in opened]
    assert titles[0] == "Churned MRR, 2025-07-01 – 2026-06-30" and titles[1] == "Expansion MRR, 2026-03"
    assert any("Hooli, Inc." in name for _, _, name in opened[2]["items"])  # names beside ids in the panel too

    shot = tmp_path / "screen.png"
    taken = run_chromium("--window-size=1400,1300", f"--screenshot={shot}", out.as_uri())
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    keep(shot, "report-screenshot.png")
    keep(out, "report.html")


@pytest.mark.slow
def test_a_generated_36_month_ledger_opens_drills_down_and_prints_its_first_page(rl, tmp_path):
    """Issue 16's acceptance on the 36-month example `revledger generate` writes (the browser test above reads the
    fixtures' twelve months): no console message, five drill-downs adding up, and the headline strip, the range
    bridge and the monthly movements on the first printed page."""
    pdfium()
    events = tmp_path / "events.csv"
    rl("generate", "--customers", "300" if IN_CI else "120", "--months", "36", "--out", str(events))
    rl("import", str(events))
    out = tmp_path / "report.html"
    rl("report", "--from", "2024-01-01", "--to", "2026-12-31", "--by", "segment", "--out", str(out))
    opened = probed(rl, out, tmp_path)["opened"]
    drill_downs_add_up(rl, opened)
    assert [o["title"] for o in opened][:3] == ["Churned MRR, 2024-01-01 – 2026-12-31", "Expansion MRR, 2026-03",
                                                 "Closing MRR, 2024-01-01 – 2026-12-31"]
    assert len({o["figure"]["metric"] for o in opened}) == 5 and all(o["items"] for o in opened)
    pdf = tmp_path / "report.pdf"
    printed = run_chromium("--no-pdf-header-footer", f"--print-to-pdf={pdf}", out.as_uri())
    assert printed.returncode == 0 and pdf.exists(), printed.stderr[-2000:]
    first = page_texts(pdf)[0]
    for wanted in ("Ending MRR", "Ending ARR", "Net new MRR", "MRR growth", "NRR, trailing 12 months",
                   "GRR, trailing 12 months", "Customers", "MRR bridge, 2024-01-01 – 2026-12-31", "Movements by month"):
        assert wanted in first, wanted


def svg_texts(page: str) -> dict[str, tuple[str, list[str]]]:
    """Each chart's caption and the texts drawn in its SVG, by the figure's id (or its caption)."""
    figures = {}
    for ident, caption, body in re.findall(r"<figure(?: id=\"([^\"]*)\")?><figcaption>(.*?)</figcaption>(<svg.*?</svg>)</figure>",
                                           page, re.S):
        texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]+)</text>", body)]
        figures[ident or caption] = (html.unescape(caption), texts)
    return figures


def page_texts(pdf: Path) -> list[str]:
    document = pdfium().PdfDocument(str(pdf))
    texts = []
    for page in document:
        textpage = page.get_textpage()
        texts.append(" ".join(textpage.get_text_range().split()))
    return texts


def save_png(bitmap, path: Path) -> None:
    """The page as a PNG (RGB), written with zlib alone."""
    width, height, stride = bitmap.width, bitmap.height, bitmap.stride
    raw = bytes(bitmap.buffer)
    channels = stride // width if stride // width in (3, 4) else 3
    rows = b"".join(b"\x00" + b"".join(raw[y * stride + x * channels: y * stride + x * channels + 3] for x in range(width))
                    for y in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b""))


def test_the_printed_report_keeps_each_chart_with_its_title_and_opens_with_the_headline(example, tmp_path):
    pdfium()
    out = tmp_path / "report.html"
    example("report", *RANGE, "--by", "segment", "--out", str(out))
    page = out.read_text(encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    printed = run_chromium("--no-pdf-header-footer", f"--print-to-pdf={pdf}", out.as_uri())
    assert printed.returncode == 0 and pdf.exists(), printed.stderr[-2000:]
    pages = page_texts(pdf)
    assert 2 <= len(pages) <= 8, len(pages)
    for ident, (caption, texts) in svg_texts(page).items():
        on = [i for i, text in enumerate(pages) if " ".join(caption.split()) in text]
        assert len(on) == 1, (caption, on)
        text = pages[on[0]]
        position = text.index(" ".join(caption.split())) + len(caption)
        for label in (texts[0], texts[-1]):  # the chart's first and last text: all of it on the caption's page
            where = text.find(" ".join(label.split()), position)
            assert where >= 0, f"{ident}: {label!r} is not on the page of its title {caption!r}"
    first = pages[0]
    for wanted in ("Ending MRR", "Ending ARR", "Net new MRR", "MRR growth", "NRR, trailing 12 months",
                   "GRR, trailing 12 months", "Customers", "MRR bridge, 2025-07-01 – 2026-06-30", "Movements by month"):
        assert wanted in first, wanted
    assert "Click any figure" not in " ".join(pages)  # paper cannot be clicked: the print says how to trace instead

    document = pdfium().PdfDocument(str(pdf))
    shot = tmp_path / "print-page-1.png"
    save_png(document[0].render(scale=1.5, rev_byteorder=True), shot)
    assert shot.stat().st_size > 30_000
    keep(shot, "report-print-page-1.png")
    keep(pdf, "report.pdf")


def test_quarters_are_named_as_quarters(example, tmp_path):
    out = tmp_path / "quarters.html"
    example("report", "--from", "2025-12-15", "--to", "2026-06-30", "--period", "quarter", "--out", str(out))
    page = out.read_text(encoding="utf-8")
    assert "Movements by quarter" in page
    assert "<td class=\"\">2025-12-15..2025-12-31</td>" in page
    assert "<td class=\"\">2026-Q1</td>" in page and "<td class=\"\">2026-Q2</td>" in page


def test_trailing_nrr_is_the_windows_own_retention_in_finances_bands(example):
    from decimal import ROUND_HALF_EVEN

    from cli.report import band

    assert [band(v) for v in ("0.899999", "0.900000", "0.999999", "1.000000", "1.199999", "1.200000", "1.300000", None)] == [
        "below 90%", "90–100%", "90–100%", "100–110%", "110–120%", "120–130%", "130%+", None]
    window = ("--from", "2025-07-01", "--to", "2026-06-30", "--format", "json")
    parts = {m: Decimal(example("explain", m, *window).json()["value"])
             for m in ("opening_mrr", "retention.expansion", "retention.contraction", "retention.churn")}
    nrr = ((parts["opening_mrr"] + parts["retention.expansion"] - parts["retention.contraction"] - parts["retention.churn"])
           / parts["opening_mrr"]).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    grr = ((parts["opening_mrr"] - parts["retention.contraction"] - parts["retention.churn"])
           / parts["opening_mrr"]).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)

    import cli.report
    from cli.context import State

    state = State(example.db, None)
    rm, k = state.reading(None)
    report = cli.report.trailing_retention(rm, date(2026, 1, 1), date(2026, 6, 30), k)
    assert report["window"] == 12 and [m["month"] for m in report["months"]] == [f"2026-0{i}" for i in range(1, 7)]
    june = report["months"][-1]
    assert (june["start"], june["end"]) == ("2025-07-01", "2026-06-30")
    assert (june["nrr"], june["grr"]) == (f"{nrr}", f"{grr}")
    assert june["band"] == band(june["nrr"])


def test_the_durability_table_shows_the_spec_shape():
    """SPEC §15's `durability` JSON, as `projections.durability.durability_report` returns it, drawn as a table."""
    from cli.html_report import durability_section

    report = {"currency": "USD", "known_at": "2026-07-01T00:00:00Z", "policy": {}, "within": 90, "periods": [
        {"start": "2026-01-01", "end": "2026-03-31", "group": None,
         "expansion": {"customers": 12, "followed": 3, "rate": "0.250000", "expansion_amount": "4500.00", "lost_amount": "1200.50"},
         "contraction": {"customers": 4, "churned": 1, "churn_rate": "0.250000", "repeated": 2},
         "first_expansion": {"customers": 9, "expanded": 5, "within_90": 2, "within_180": 4, "within_365": 5,
                             "median_days": 121, "p25_days": 60, "p75_days": 200}}]}
    page = durability_section({"durability": report})
    row = re.search(r"<tbody><tr>(.*?)</tr>", page).group(1)
    cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
    assert cells == ["2026-Q1", "12", "3", "25.0%", "4,500.00", "1,200.50", "4", "1", "25.0%", "2", "9", "5", "2", "121"]
    assert "within 90 days" in page
    assert "not in this build" in durability_section({"durability": None})
