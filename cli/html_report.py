"""The HTML report: one self-contained file, charts drawn here as inline SVG.

No script, no network, no external asset: the file opens the same in a
browser today, in an email attachment or in an audit folder in five years.
Every chart is also readable without colour (values in labels and in each
shape's ``<title>`` tooltip), and every figure comes from the SPEC §11 JSON
documents, so the report shows exactly what ``metrics``, ``cohorts`` and
``restatements`` print. Pixel positions are computed in Decimal, like the money.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from cli.render import money_cell, ratio_cell
from projections.periods import month_end

COLOURS = {
    "opening": "#1f4e79",
    "closing": "#1f4e79",
    "new": "#2e7d32",
    "expansion": "#66bb6a",
    "reactivation": "#00897b",
    "contraction": "#ef6c00",
    "churn": "#c62828",
    "mrr": "#1f4e79",
    "arr": "#6a1b9a",
    "nrr": "#1565c0",
    "grr": "#ef6c00",
}
STEPS = (
    ("new", "+ new", 1),
    ("expansion", "+ expansion", 1),
    ("reactivation", "+ reactivation", 1),
    ("contraction", "− contraction", -1),
    ("churn", "− churn", -1),
)
TENTH = Decimal("0.1")

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; margin: 0; color: #1b1f24; background: #f6f7f9; }
header { background: #1f4e79; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
header p { margin: 0; opacity: .9; font-size: 14px; }
main { padding: 8px 32px 32px 32px; max-width: 1320px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; margin: 18px 0; padding: 14px 20px; }
section h2 { font-size: 17px; margin: 0 0 4px 0; }
section p.note { color: #57606a; font-size: 13px; margin: 2px 0 10px 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(400px, 1fr)); gap: 12px; }
.grid figure { margin: 0; }
.pair { display: grid; grid-template-columns: repeat(auto-fill, minmax(620px, 1fr)); gap: 12px; }
.pair figure { margin: 0; }
figcaption { font-size: 13px; font-weight: 600; margin-bottom: 2px; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font-size: 11px; fill: #1b1f24; }
svg .axis { stroke: #9aa4ae; stroke-width: 1; }
svg .gridline { stroke: #e6e9ed; stroke-width: 1; }
svg .connector { stroke: #9aa4ae; stroke-dasharray: 3 2; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eceff2; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.loss { color: #b71c1c; }
td.gain { color: #1b5e20; }
.legend { font-size: 12px; margin: 4px 0; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: middle; }
.empty { color: #57606a; font-style: italic; }
"""


# -- scales --------------------------------------------------------------------------------------


def nice_step(span: Decimal, ticks: int = 5) -> Decimal:
    """A round tick step (1, 2 or 5 × 10ⁿ) giving about ``ticks`` intervals over ``span``."""
    if span <= 0:
        return Decimal(1)
    raw = span / ticks
    exponent = raw.adjusted()
    base = Decimal(1).scaleb(exponent)
    for mult in (1, 2, 5, 10):
        if base * mult >= raw:
            return base * mult
    return base * 10


def nice_range(lo: Decimal, hi: Decimal, *, zero: bool = False) -> tuple[Decimal, Decimal, Decimal]:
    """Axis bounds rounded outwards to a tick step, optionally including zero."""
    if zero:
        lo, hi = min(lo, Decimal(0)), max(hi, Decimal(0))
    if hi == lo:
        hi, lo = hi + 1, lo - 1 if lo != 0 or not zero else lo
    step = nice_step(hi - lo)
    floor = (lo / step).to_integral_value(rounding="ROUND_FLOOR") * step
    ceil = (hi / step).to_integral_value(rounding="ROUND_CEILING") * step
    return floor, ceil, step


class Scale:
    """Maps a value in [lo, hi] to a pixel position in [start, stop] (start may be greater than stop)."""

    def __init__(self, lo: Decimal, hi: Decimal, start: int, stop: int):
        self.lo, self.hi, self.start, self.stop = lo, hi, Decimal(start), Decimal(stop)

    def __call__(self, value: Decimal) -> Decimal:
        span = self.hi - self.lo
        frac = (Decimal(value) - self.lo) / span if span else Decimal(0)
        return (self.start + frac * (self.stop - self.start)).quantize(TENTH)


def compact(value: Decimal) -> str:
    """An axis label: 1.2M, 350k, 900."""
    v = abs(value)
    sign = "-" if value < 0 else ""
    for limit, suffix in ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "k")):
        if v >= limit:
            text = f"{(v / limit):.2f}".rstrip("0").rstrip(".")
            return f"{sign}{text}{suffix}"
    return f"{sign}{v.normalize():f}"


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{esc(label)}">' + "".join(body) + "</svg>"
    )


def _y_axis(scale: Scale, lo: Decimal, hi: Decimal, step: Decimal, left: int, right: int, fmt) -> list[str]:
    out = []
    value = lo
    while value <= hi:
        y = scale(value)
        out.append(f'<line class="gridline" x1="{left}" y1="{y}" x2="{right}" y2="{y}"/>')
        out.append(f'<text x="{left - 6}" y="{y + Decimal(4)}" text-anchor="end">{esc(fmt(value))}</text>')
        value += step
    out.append(f'<line class="axis" x1="{left}" y1="{scale(lo)}" x2="{left}" y2="{scale(hi)}"/>')
    return out


# -- charts --------------------------------------------------------------------------------------


def waterfall(period: dict[str, Any], currency: str) -> str:
    """One period's MRR bridge: opening, each movement category as a floating bar, closing."""
    opening, closing = Decimal(period["opening_mrr"]), Decimal(period["closing_mrr"])
    bars: list[tuple[str, str, Decimal, Decimal, Decimal]] = [("opening", "opening", Decimal(0), opening, opening)]
    level = opening
    for key, label, sign in STEPS:
        amount = Decimal(period["bridge"][key])
        after = level + sign * amount
        bars.append((key, label, level, after, amount))
        level = after
    bars.append(("closing", "closing", Decimal(0), closing, closing))
    levels = [b[2] for b in bars[1:-1]] + [b[3] for b in bars]
    floor_hint = min(levels)
    top = max(levels)
    # The movements are small beside the opening MRR: start the axis near the lowest level so they show.
    spread = top - floor_hint
    lo_raw = floor_hint - max(spread, top / 50) * Decimal("0.6")
    lo, hi, step = nice_range(max(lo_raw, Decimal(0)), top)
    width, height, left, right, top_px, bottom = 460, 270, 64, 450, 16, 214
    y = Scale(lo, hi, bottom, top_px)
    body = _y_axis(y, lo, hi, step, left, right, compact)
    slot = Decimal(right - left) / len(bars)
    bar_w = (slot * Decimal("0.62")).quantize(TENTH)
    for i, (key, label, start, stop, amount) in enumerate(bars):
        x = (left + slot * i + (slot - bar_w) / 2).quantize(TENTH)
        a, b = (max(start, lo), stop) if key in ("opening", "closing") else (start, stop)
        y1, y2 = y(max(a, b)), y(max(min(a, b), lo))
        h = max(y2 - y1, Decimal(1) if amount else Decimal(0))
        sign = "−" if key in ("contraction", "churn") else ("+" if key not in ("opening", "closing") else "")
        tip = f"{label}: {sign}{money_cell(amount)} {currency}"
        body.append(
            f'<rect class="bar {key}" x="{x}" y="{y1}" width="{bar_w}" height="{h}" fill="{COLOURS[key]}">'
            f"<title>{esc(tip)}</title></rect>"
        )
        if amount or key in ("opening", "closing"):
            body.append(
                f'<text x="{(x + bar_w / 2).quantize(TENTH)}" y="{y1 - Decimal(4)}" text-anchor="middle">'
                f"{esc(sign + compact(amount))}</text>"
            )
        if i < len(bars) - 1:
            nxt = (x + slot).quantize(TENTH)
            yl = y(stop)
            body.append(f'<line class="connector" x1="{x + bar_w}" y1="{yl}" x2="{nxt}" y2="{yl}"/>')
        cx = (x + bar_w / 2).quantize(TENTH)
        body.append(
            f'<text x="{cx}" y="{bottom + 14}" text-anchor="end" transform="rotate(-30 {cx} {bottom + 14})">'
            f"{esc(label)}</text>"
        )
    body.append(f'<line class="axis" x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}"/>')
    return _svg(width, height, f"MRR bridge {period['start']} to {period['end']}", body)


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[Decimal | None]]],
    *,
    fmt,
    zero: bool = False,
    width: int = 640,
    height: int = 280,
    label: str = "",
) -> str:
    """Lines over periods: each series (name, colour, values; None = no value) with a point per period."""
    values = [v for _, _, vs in series for v in vs if v is not None]
    if not values:
        values = [Decimal(0), Decimal(1)]
    lo, hi, step = nice_range(min(values), max(values), zero=zero)
    left, right, top_px, bottom = 72, width - 16, 16, height - 46
    y = Scale(lo, hi, bottom, top_px)
    n = max(len(labels), 1)
    slot = Decimal(right - left) / n
    xs = [(left + slot * i + slot / 2).quantize(TENTH) for i in range(n)]
    body = _y_axis(y, lo, hi, step, left, right, fmt)
    body.append(f'<line class="axis" x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}"/>')
    every = max(1, (n + 11) // 12)
    for i, text in enumerate(labels):
        if i % every == 0:
            body.append(f'<text x="{xs[i]}" y="{bottom + 16}" text-anchor="middle">{esc(text)}</text>')
    for name, colour, vals in series:
        points = [f"{xs[i]},{y(v)}" for i, v in enumerate(vals) if v is not None]
        if len(points) > 1:
            body.append(
                f'<polyline class="series {esc(name)}" fill="none" stroke="{colour}" stroke-width="2" '
                f'points="{" ".join(points)}"/>'
            )
        for i, v in enumerate(vals):
            if v is not None:
                body.append(
                    f'<circle class="point {esc(name)}" cx="{xs[i]}" cy="{y(v)}" r="3.5" fill="{colour}">'
                    f"<title>{esc(f'{name} {labels[i]}: {fmt(v)}')}</title></circle>"
                )
    for j, (name, colour, _) in enumerate(series):
        lx = left + 10 + j * 120
        body.append(f'<rect x="{lx}" y="{height - 16}" width="10" height="10" fill="{colour}"/>')
        body.append(f'<text x="{lx + 14}" y="{height - 7}">{esc(name)}</text>')
    return _svg(width, height, label, body)


def cause_bars(causes: dict[str, dict[str, Decimal]], currency: str) -> str:
    """Expansion (right, green) against contraction (left, orange) by cause, summed over the range."""
    names = sorted(set(causes["expansion"]) | set(causes["contraction"]))
    if not names:
        names = ["(none)"]
    biggest = max([Decimal(1)] + list(causes["expansion"].values()) + list(causes["contraction"].values()))
    lo, hi, step = nice_range(-biggest, biggest, zero=True)
    bound = max(-lo, hi)
    width, left, right = 640, 100, 624
    row_h, top_px = 30, 24
    height = top_px + row_h * len(names) + 30
    x = Scale(-bound, bound, left, right)
    body = [
        f'<text x="{x(-bound / 2)}" y="14" text-anchor="middle">◀ contraction</text>',
        f'<text x="{x(bound / 2)}" y="14" text-anchor="middle">expansion ▶</text>',
    ]
    for i, name in enumerate(names):
        cy = top_px + row_h * i
        body.append(f'<text x="{left - 6}" y="{cy + 19}" text-anchor="end">{esc(name)}</text>')
        for kind, sign in (("expansion", 1), ("contraction", -1)):
            amount = causes[kind].get(name, Decimal(0))
            a, b = x(Decimal(0)), x(sign * amount)
            x0, w = min(a, b), abs(b - a)
            tip = f"{kind} by {name}: {money_cell(amount)} {currency}"
            body.append(
                f'<rect class="bar {kind}" x="{x0}" y="{cy + 6}" width="{max(w, Decimal(1) if amount else Decimal(0))}" '
                f'height="18" fill="{COLOURS[kind]}"><title>{esc(tip)}</title></rect>'
            )
            if amount:
                tx = b + (4 if sign > 0 else -4)
                anchor = "start" if sign > 0 else "end"
                mark = "+" if sign > 0 else "−"
                body.append(f'<text x="{tx}" y="{cy + 19}" text-anchor="{anchor}">{mark}{esc(compact(amount))}</text>')
    zero_x = x(Decimal(0))
    bottom = top_px + row_h * len(names)
    body.append(f'<line class="axis" x1="{zero_x}" y1="{top_px}" x2="{zero_x}" y2="{bottom}"/>')
    return _svg(width, height, "expansion and contraction by cause", body)


def heatmap(cohorts: Sequence[dict[str, Any]]) -> str:
    """Cohort NRR by month offset: one row per cohort, darker blue for higher retention."""
    width_k = max((len(c.get("offsets", [])) for c in cohorts), default=0)
    cell_w, cell_h, left, top_px = 46, 22, 150, 26
    width = left + cell_w * max(width_k, 1) + 10
    height = top_px + cell_h * max(len(cohorts), 1) + 10
    body = []
    for k in range(width_k):
        body.append(f'<text x="{left + cell_w * k + cell_w // 2}" y="16" text-anchor="middle">M{k}</text>')
    for r, cohort in enumerate(cohorts):
        cy = top_px + cell_h * r
        body.append(
            f'<text x="{left - 6}" y="{cy + 15}" text-anchor="end">{esc(cohort["cohort"])} '
            f'({cohort.get("customers", "")})</text>'
        )
        for offset in cohort.get("offsets", []):
            k, nrr = offset["k"], offset.get("nrr")
            cx = left + cell_w * k
            if nrr is None:
                fill, text = "#eeeeee", "n/a"
            else:
                v = min(max(Decimal(nrr), Decimal(0)), Decimal("1.5"))
                # 0 → pale, 1.5 → deep blue; lightness in whole percent keeps the text deterministic.
                light = int(Decimal(95) - v / Decimal("1.5") * Decimal(62))
                fill, text = f"hsl(210, 70%, {light}%)", f"{(Decimal(nrr) * 100).quantize(Decimal(1))}%"
            colour = "#ffffff" if nrr is not None and Decimal(nrr) > Decimal("0.8") else "#1b1f24"
            tip = f"cohort {cohort['cohort']} M{k}: NRR {ratio_cell(nrr)}, MRR {money_cell(offset.get('mrr'))}"
            body.append(
                f'<rect class="cell" x="{cx}" y="{cy}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{fill}">'
                f"<title>{esc(tip)}</title></rect>"
            )
            body.append(
                f'<text x="{cx + (cell_w - 2) // 2}" y="{cy + 15}" text-anchor="middle" style="fill:{colour}">{text}</text>'
            )
    return _svg(width, height, "cohort net revenue retention", body)


# -- the document --------------------------------------------------------------------------------


def _table(headings: Sequence[tuple[str, str]], rows: Sequence[Sequence[tuple[str, str]]]) -> str:
    """An HTML table; each heading and cell is (text, class)."""
    head = "".join(f'<th class="{c}">{esc(t)}</th>' for t, c in headings)
    body = "".join("<tr>" + "".join(f'<td class="{c}">{esc(t)}</td>' for t, c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(anchor: str, title: str, note: str, content: str) -> str:
    note_html = f'<p class="note">{note}</p>' if note else ""
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>{note_html}{content}</section>'


def _unavailable(what: str) -> str:
    return f'<p class="empty">{esc(what)}</p>'


def _period_label(p: dict[str, Any]) -> str:
    """2026-03 for a whole month, 2026-Q1 for a whole quarter, 2026 for a whole year, else the dates."""
    start, end = date.fromisoformat(p["start"]), date.fromisoformat(p["end"])
    whole = start.day == 1 and end == month_end(end)
    if whole and (start.year, start.month) == (end.year, end.month):
        return start.isoformat()[:7]
    if whole and start.year == end.year and start.month % 3 == 1 and end.month == start.month + 2:
        return f"{start.year}-Q{(start.month + 2) // 3}"
    if whole and start.year == end.year and (start.month, end.month) == (1, 12):
        return str(start.year)
    return f"{start.isoformat()} – {end.isoformat()}"


def document(data: dict[str, Any]) -> str:
    """The whole report as one HTML string, from the documents gathered by ``cli.report``.

    ``data`` holds: title, start, end, period, by, currency, known_at, metrics
    (SPEC §11 document, without groups), grouped (the ``--by`` document or None),
    cohorts (or None), movers {"gainers": [...], "losers": [...]}, restatements
    (list, or None when that part of the ledger is not available).
    """
    currency = data["currency"]
    periods = data["metrics"]["periods"] if data.get("metrics") else []
    known = data.get("known_at") or "empty ledger"
    sections = []

    # 1. MRR bridge waterfalls.
    if periods:
        figures = "".join(
            f"<figure><figcaption>{esc(_period_label(p))}: {esc(money_cell(p['opening_mrr']))} → "
            f"{esc(money_cell(p['closing_mrr']))}</figcaption>{waterfall(p, currency)}</figure>"
            for p in periods
        )
        legend = "".join(
            f'<span><i style="background:{COLOURS[k]}"></i>{esc(label)}</span>'
            for k, label in [("opening", "opening / closing")] + [(k, label) for k, label, _ in STEPS]
        )
        content = f'<div class="legend">{legend}</div><div class="grid">{figures}</div>'
    else:
        content = _unavailable("No periods in this range.")
    sections.append(_section(
        "bridge", "MRR bridge per period",
        f"Opening MRR + new + expansion + reactivation − contraction − churn = closing MRR, in {esc(currency)}. "
        "Hover a bar for the exact amount.",
        content,
    ))

    # 2. MRR and ARR over time.
    labels = [_period_label(p) for p in periods]
    if periods:
        mrr = line_chart(labels, [("MRR", COLOURS["mrr"], [Decimal(p["closing_mrr"]) for p in periods])],
                         fmt=compact, zero=True, label="closing MRR per period")
        arr = line_chart(labels, [("ARR", COLOURS["arr"], [Decimal(p["arr"]) for p in periods])],
                         fmt=compact, zero=True, label="ARR per period")
        rows = [
            [(lab, ""), (money_cell(p["opening_mrr"]), "num"), (money_cell(p["bridge"]["net_new"]),
             "num loss" if Decimal(p["bridge"]["net_new"]) < 0 else "num"),
             (money_cell(p["closing_mrr"]), "num"), (money_cell(p["arr"]), "num"),
             (str(p["customers"]["closing"]), "num")]
            for lab, p in zip(labels, periods)
        ]
        table = _table([("period", ""), ("opening MRR", "num"), ("net new", "num"), ("closing MRR", "num"),
                        ("ARR", "num"), ("customers", "num")], rows)
        content = f'<div class="pair"><figure>{mrr}</figure><figure>{arr}</figure></div>{table}'
    else:
        content = _unavailable("No periods in this range.")
    sections.append(_section("mrr", "MRR and ARR over time", f"At the end of each period, in {esc(currency)}.", content))

    # 3. NRR and GRR.
    if periods:
        def ratio(p, key):
            value = p["retention"][key]
            return None if value is None else Decimal(value)

        chart = line_chart(
            labels,
            [("NRR", COLOURS["nrr"], [ratio(p, "nrr") for p in periods]),
             ("GRR", COLOURS["grr"], [ratio(p, "grr") for p in periods])],
            fmt=lambda v: f"{(v * 100).normalize():f}%", label="NRR and GRR per period",
        )
        rows = [
            [(lab, ""), (ratio_cell(p["retention"]["nrr"]), "num"), (ratio_cell(p["retention"]["grr"]), "num"),
             (ratio_cell(p["retention"]["churn_rate"]), "num"), (ratio_cell(p["customers"]["logo_churn_rate"]), "num")]
            for lab, p in zip(labels, periods)
        ]
        table = _table([("period", ""), ("NRR", "num"), ("GRR", "num"), ("churn rate", "num"),
                        ("logo churn", "num")], rows)
        content = f"<figure>{chart}</figure>{table}"
    else:
        content = _unavailable("No periods in this range.")
    sections.append(_section(
        "retention", "Net and gross revenue retention",
        "Over the customers active at each period's opening: NRR = closing ÷ opening MRR; "
        "GRR = (opening − contraction − churn) ÷ opening.", content,
    ))

    # 4. Causes.
    if periods:
        totals: dict[str, dict[str, Decimal]] = {"expansion": {}, "contraction": {}}
        for p in periods:
            for kind in totals:
                for cause, amount in p["causes"][kind].items():
                    totals[kind][cause] = totals[kind].get(cause, Decimal(0)) + Decimal(amount)
        names = sorted(set(totals["expansion"]) | set(totals["contraction"]))
        def signed(amount: Decimal, mark: str) -> str:
            return mark + money_cell(amount) if amount else money_cell(amount)

        rows = [
            [(n, ""), (signed(totals["expansion"].get(n, Decimal(0)), "+"), "num gain"),
             (signed(totals["contraction"].get(n, Decimal(0)), "−"), "num loss")]
            for n in names
        ]
        table = _table([("cause", ""), ("expansion", "num"), ("contraction", "num")], rows)
        content = f"<figure>{cause_bars(totals, currency)}</figure>{table}"
    else:
        content = _unavailable("No periods in this range.")
    sections.append(_section(
        "causes", "Expansion vs contraction by cause",
        f"Bridge expansion and contraction over the whole range, by what changed: plan, seats, price, usage, "
        f"cross_sell, line_removed or mixed ({esc(currency)}).", content,
    ))

    # 5. Cohorts.
    cohorts = data.get("cohorts")
    if cohorts is None:
        content = _unavailable("Cohorts are not available in this version of the ledger.")
    elif not cohorts.get("cohorts"):
        content = _unavailable("No customer had its first revenue in this range.")
    else:
        content = f"<figure>{heatmap(cohorts['cohorts'])}</figure>"
    sections.append(_section(
        "cohorts", "Cohort retention",
        "Customers grouped by the month of their first revenue (count in brackets); each cell is the cohort's MRR "
        "at the end of month k as a share of its MRR at the end of its first month.", content,
    ))

    # 6. Top movers.
    movers = data.get("movers") or {"gainers": [], "losers": []}
    parts = []
    for key, title in (("gainers", "Largest increases"), ("losers", "Largest decreases")):
        rows = [
            [(m["customer_id"], ""), (money_cell(m["opening_mrr"]), "num"), (money_cell(m["closing_mrr"]), "num"),
             (("+" if Decimal(m["change"]) > 0 else "") + money_cell(m["change"]),
              "num gain" if Decimal(m["change"]) > 0 else "num loss"),
             (m["categories"], "")]
            for m in movers[key]
        ]
        table = _table([("customer", ""), ("opening MRR", "num"), ("closing MRR", "num"), ("change", "num"),
                        ("movements", "")], rows) if rows else _unavailable("None.")
        parts.append(f"<div><h3>{esc(title)}</h3>{table}</div>")
    sections.append(_section(
        "movers", "Top movers",
        f"Customers whose MRR changed most between {esc(data['start'])} (opening) and {esc(data['end'])} (closing), "
        f"in {esc(currency)}.", '<div class="grid">' + "".join(parts) + "</div>",
    ))

    # 7. Groups.
    grouped = data.get("grouped")
    if data.get("by"):
        if grouped and grouped.get("periods"):
            rows = [
                [(_period_label(p), ""), (str(p["group"]) if p["group"] is not None else "(none)", ""),
                 (money_cell(p["opening_mrr"]), "num"), (money_cell(p["closing_mrr"]), "num"),
                 (ratio_cell(p["retention"]["nrr"]), "num"), (ratio_cell(p["retention"]["grr"]), "num")]
                for p in grouped["periods"]
            ]
            content = _table([("period", ""), (data["by"], ""), ("opening MRR", "num"), ("closing MRR", "num"),
                              ("NRR", "num"), ("GRR", "num")], rows)
        else:
            content = _unavailable("No group has revenue in this range.")
        sections.append(_section("groups", f"By {data['by']}", "Each group's bridge reconciles on its own.", content))

    # 8. Restatements.
    restatements = data.get("restatements")
    if restatements is None:
        content = _unavailable("Closing periods is not available in this version of the ledger.")
    elif not restatements:
        content = _unavailable("No closed period has been restated: every closed period's figures are as they were "
                               "at its close (or no period has been closed yet).")
    else:
        content = _restatements_table(restatements)
    sections.append(_section(
        "restatements", "Restatements of closed periods",
        "Figures of closed periods that differ now from what was recorded at the close, and the late events that "
        "changed them.", content,
    ))

    nav = " · ".join(f'<a href="#{a}" style="color:#fff">{t}</a>' for a, t in (
        ("bridge", "bridge"), ("mrr", "MRR/ARR"), ("retention", "NRR/GRR"), ("causes", "causes"),
        ("cohorts", "cohorts"), ("movers", "top movers"), ("restatements", "restatements")))
    subtitle = (
        f"{esc(data['start'])} to {esc(data['end'])}, by {esc(data['period'])} · currency {esc(currency)} · "
        f"as known at {esc(known)}" + (f" · grouped by {esc(data['by'])}" if data.get("by") else "")
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(data['title'])}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(data['title'])}</h1><p>{subtitle}</p><p>{nav}</p></header>"
        f"<main>{''.join(sections)}</main></body></html>\n"
    )


def _restatements_table(restatements: Sequence[dict[str, Any]]) -> str:
    """Restatements as rows: period (closed when), figure, at close, now, difference, the late events behind it."""
    rows = []
    for r in restatements:
        events = r.get("events") or []
        ids = " ".join(e.get("event_id", "") if isinstance(e, dict) else str(e) for e in events)
        closed_at = f"{r.get('period', '')} (closed {r.get('recorded_at', '')}{', locked' if r.get('locked') else ''})"
        for i, figure in enumerate(r.get("figures", [])):
            diff, name = figure.get("difference"), str(figure.get("metric", ""))
            rows.append([
                (closed_at if i == 0 else "", ""), (str(figure.get("metric", "")), ""),
                (_figure(figure.get("closed"), name), "num"), (_figure(figure.get("now"), name), "num"),
                (_figure(diff, name, signed=True), "num loss" if _negative(diff) else "num"), (ids if i == 0 else "", ""),
            ])
    return _table([("closed period", ""), ("figure", ""), ("at close", "num"), ("now", "num"), ("difference", "num"),
                   ("events recorded after the close", "")], rows)


def _figure(value: Any, metric: str = "", *, signed: bool = False) -> str:
    """A SPEC figure for a table: money (two decimals) with separators, a ratio (six) as a percentage."""
    if value is None:
        return "n/a"
    text = str(value)
    decimals = len(text.split(".")[1]) if "." in text else 0
    try:
        number = Decimal(text)
    except ArithmeticError:
        return text
    if metric == "quick_ratio":
        shown = f"{number:,.2f}x"
    else:
        shown = money_cell(number) if decimals == 2 else ratio_cell(number) if decimals == 6 else f"{number:,}"
    return ("+" + shown) if signed and number > 0 else shown


def _negative(value: Any) -> bool:
    try:
        return value is not None and Decimal(str(value)) < 0
    except ArithmeticError:
        return False
