"""Chart geometry for the HTML report: inline SVG, every position computed in Decimal, like the money.

Each chart is a function from figures to one ``<svg>`` string; the document
(``cli.html_report``) places them. Every money axis starts at zero, so a bar
twice as tall is twice the money. A mark that stands for a figure carries it
as ``data-figure`` (metric, start, end, group, value: the names `explain`
takes), so the report's drill-down can open the customers behind it; every
mark also has a ``<title>`` with its exact value, and every chart is readable
without colour (labels and patterns of sign, not colour alone).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

TENTH = Decimal("0.1")
ZERO = Decimal(0)

COLOURS = {
    "opening": "#1f4e79",
    "closing": "#1f4e79",
    "new": "#2e7d32",
    "expansion": "#7cb342",
    "reactivation": "#00897b",
    "contraction": "#f57c00",
    "churn": "#c62828",
    "net": "#1b1f24",
    "mrr": "#1f4e79",
    "nrr": "#1565c0",
    "grr": "#6a1b9a",
}
GAINS = ("new", "expansion", "reactivation")
LOSSES = ("contraction", "churn")
# Trailing NRR bands (SPEC §15), lower bounds included, drawn behind the line.
BANDS = (
    ("below 90%", None, Decimal("0.9"), "#fdecea"),
    ("90–100%", Decimal("0.9"), Decimal("1.0"), "#fff4e0"),
    ("100–110%", Decimal("1.0"), Decimal("1.1"), "#f3f8ec"),
    ("110–120%", Decimal("1.1"), Decimal("1.2"), "#e6f2db"),
    ("120–130%", Decimal("1.2"), Decimal("1.3"), "#d8ebc9"),
    ("130%+", Decimal("1.3"), None, "#c9e3b5"),
)
SERIES_PALETTE = ("#1f4e79", "#7cb342", "#f57c00", "#6a1b9a", "#00897b", "#c62828", "#8d6e63", "#546e7a")


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


# -- money on charts -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Units:
    """How every chart of one report labels money: one unit and one number of decimals for all of them.

    Chosen once from the largest figure, so 86.7k and 88.8k are never shown as "86.7k" beside "89k".
    """

    divisor: Decimal
    suffix: str
    places: int

    @classmethod
    def for_largest(cls, largest: Decimal) -> Units:
        largest = abs(largest)
        if largest >= Decimal(1_000_000):
            return cls(Decimal(1_000_000), "M", 2)
        if largest >= Decimal(10_000):
            return cls(Decimal(1_000), "k", 1)
        return cls(Decimal(1), "", 0)

    def label(self, value: Decimal, *, signed: bool = False) -> str:
        """A bar's value: 150.3k; with ``signed``, +34.0k or −16.0k (a true minus sign)."""
        scaled = (Decimal(value) / self.divisor).quantize(Decimal(1).scaleb(-self.places), rounding=ROUND_HALF_EVEN)
        text = f"{abs(scaled):,.{self.places}f}{self.suffix}"
        if scaled < 0:
            return "−" + text
        return ("+" + text) if signed and scaled > 0 else text

    def tick(self, value: Decimal) -> str:
        """An axis tick (a round number): 0, 50k, 1.5M."""
        scaled = Decimal(value) / self.divisor
        text = f"{abs(scaled):,f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return ("−" if scaled < 0 else "") + text + (self.suffix if value else "")


def percent(value: Decimal, places: int = 1) -> str:
    """A ratio as a percentage with a fixed number of decimals: 104.2%."""
    return f"{(Decimal(value) * 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN):,.{places}f}%"


# -- scales ----------------------------------------------------------------------------------------


def nice_step(span: Decimal, ticks: int = 5) -> Decimal:
    """A round tick step (1, 2 or 5 × 10ⁿ) giving about ``ticks`` intervals over ``span``."""
    if span <= 0:
        return Decimal(1)
    raw = span / ticks
    base = Decimal(1).scaleb(raw.adjusted())
    for mult in (1, 2, 5, 10):
        if base * mult >= raw:
            return base * mult
    return base * 10


def nice_range(lo: Decimal, hi: Decimal, *, zero: bool = False) -> tuple[Decimal, Decimal, Decimal]:
    """Axis bounds rounded outwards to a tick step, optionally including zero."""
    if zero:
        lo, hi = min(lo, ZERO), max(hi, ZERO)
    if hi == lo:
        hi, lo = hi + 1, (lo - 1 if lo != 0 or not zero else lo)
    step = nice_step(hi - lo)
    floor = (lo / step).to_integral_value(rounding="ROUND_FLOOR") * step
    ceil = (hi / step).to_integral_value(rounding="ROUND_CEILING") * step
    return floor, ceil, step


class Scale:
    """Maps a value in [lo, hi] to a pixel position in [start, stop] (start may be greater than stop)."""

    def __init__(self, lo: Decimal, hi: Decimal, start: int | Decimal, stop: int | Decimal):
        self.lo, self.hi, self.start, self.stop = lo, hi, Decimal(start), Decimal(stop)

    def __call__(self, value: Decimal) -> Decimal:
        span = self.hi - self.lo
        frac = (Decimal(value) - self.lo) / span if span else ZERO
        return (self.start + frac * (self.stop - self.start)).quantize(TENTH)


# -- drawing ---------------------------------------------------------------------------------------


def svg(width: int, height: int, label: str, body: Sequence[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{esc(label)}">' + "".join(body) + "</svg>"
    )


def figure_attrs(figure: dict[str, Any] | None) -> str:
    """The attributes that make a mark open its drill-down (nothing when the mark stands for no figure)."""
    if not figure:
        return ""
    return f' class="drill" tabindex="0" data-figure="{esc(json.dumps(figure, separators=(",", ":")))}"'


def rect(x: Decimal, y: Decimal, w: Decimal, h: Decimal, fill: str, tip: str, figure: dict | None = None, kind: str = "") -> str:
    attrs = figure_attrs(figure)
    css = f' data-kind="{esc(kind)}"' if kind else ""
    return (f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}"{attrs}{css}>'
            f"<title>{esc(tip)}</title></rect>")


def text(x: Any, y: Any, content: str, anchor: str = "middle", css: str = "") -> str:
    klass = f' class="{css}"' if css else ""
    return f'<text x="{x}" y="{y}" text-anchor="{anchor}"{klass}>{esc(content)}</text>'


def y_axis(scale: Scale, lo: Decimal, hi: Decimal, step: Decimal, left: int, right: int, fmt: Callable[[Decimal], str]) -> list[str]:
    out = []
    value = lo
    while value <= hi:
        y = scale(value)
        css = "zero" if value == 0 else "gridline"
        out.append(f'<line class="{css}" x1="{left}" y1="{y}" x2="{right}" y2="{y}"/>')
        out.append(text(left - 6, y + Decimal(4), fmt(value), "end"))
        value += step
    return out


def label_every(slot: Decimal, width: int = 50) -> int:
    """Label every n-th period so that labels (a "2026-03" is about 45 px) never overlap."""
    return max(1, int((Decimal(width) / slot).to_integral_value(rounding="ROUND_CEILING")))


def legend(entries: Sequence[tuple[str, str]], x: int, y: int, spacing: int = 112) -> list[str]:
    out = []
    for i, (name, colour) in enumerate(entries):
        lx = x + i * spacing
        out.append(f'<rect x="{lx}" y="{y - 9}" width="10" height="10" fill="{colour}"/>')
        out.append(text(lx + 14, y, name, "start"))
    return out


# -- the charts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One bar of a bridge: its kind (opening, new, … closing), label, amount (a positive size) and figure."""

    kind: str
    label: str
    amount: Decimal
    figure: dict[str, Any] | None = None


def bridge(steps: Sequence[Step], units: Units, currency: str, label: str, width: int = 620, height: int = 320) -> str:
    """A waterfall from opening to closing MRR, on an axis from zero: each movement floats from the level before it."""
    levels, level = [], ZERO
    for s in steps:
        if s.kind in ("opening", "closing"):
            start, stop = ZERO, s.amount
            level = s.amount
        else:
            sign = -1 if s.kind in LOSSES else 1
            start, stop = level, level + sign * s.amount
            level = stop
        levels.append((start, stop))
    lo, hi, step = nice_range(min(min(a, b) for a, b in levels), max(max(a, b) for a, b in levels), zero=True)
    left, right, top, bottom = 64, width - 10, 24, height - 46
    y = Scale(lo, hi, bottom, top)
    body = y_axis(y, lo, hi, step, left, right, units.tick)
    slot = Decimal(right - left) / len(steps)
    bar = (slot * Decimal("0.64")).quantize(TENTH)
    for i, (s, (start, stop)) in enumerate(zip(steps, levels)):
        x = (left + slot * i + (slot - bar) / 2).quantize(TENTH)
        top_px, bottom_px = y(max(start, stop)), y(min(start, stop))
        h = max(bottom_px - top_px, Decimal(1) if s.amount else ZERO)
        signed = s.kind not in ("opening", "closing")
        sign = "−" if s.kind in LOSSES else "+"
        value = units.label(-s.amount if s.kind in LOSSES else s.amount, signed=signed)
        tip = f"{s.label}: {(sign if signed else '')}{s.amount:,.2f} {currency}"
        body.append(rect(x, top_px, bar, h, COLOURS[s.kind], tip, s.figure, s.kind))
        centre = (x + bar / 2).quantize(TENTH)
        body.append(text(centre, top_px - Decimal(5), value, css="value"))
        body.append(text(centre, bottom + 16, s.label, css="label"))
        if i < len(steps) - 1:
            level_px = y(stop)
            body.append(f'<line class="connector" x1="{x + bar}" y1="{level_px}" x2="{(x + slot).quantize(TENTH)}" y2="{level_px}"/>')
    body.append(text(left, height - 8, f"{currency}, {units.suffix or 'units'}; axis from zero", "start", "note"))
    return svg(width, height, label, body)


@dataclass(frozen=True, slots=True)
class Column:
    """One period of the monthly movements chart: each category's amount and figure, and the net new MRR."""

    label: str
    amounts: dict[str, Decimal]
    figures: dict[str, dict[str, Any]]
    net: Decimal
    net_figure: dict[str, Any] | None = None


def movements(columns: Sequence[Column], units: Units, currency: str, label: str, width: int = 620, height: int = 320) -> str:
    """Gains stacked up from zero, losses stacked down from it, per period; the net new MRR as a line across them."""
    ups = [sum((c.amounts.get(k, ZERO) for k in GAINS), ZERO) for c in columns] or [ZERO]
    downs = [sum((c.amounts.get(k, ZERO) for k in LOSSES), ZERO) for c in columns] or [ZERO]
    nets = [c.net for c in columns] or [ZERO]
    lo, hi, step = nice_range(min([-d for d in downs] + nets), max(ups + nets), zero=True)
    left, right, top, bottom = 64, width - 10, 16, height - 62
    y = Scale(lo, hi, bottom, top)
    body = y_axis(y, lo, hi, step, left, right, units.tick)
    n = max(len(columns), 1)
    slot = Decimal(right - left) / n
    bar = (slot * Decimal("0.7")).quantize(TENTH)
    every = label_every(slot)
    points = []
    for i, c in enumerate(columns):
        x = (left + slot * i + (slot - bar) / 2).quantize(TENTH)
        for kinds, sign in ((GAINS, 1), (LOSSES, -1)):
            level = ZERO
            for k in kinds:
                amount = c.amounts.get(k, ZERO)
                if not amount:
                    continue
                a, b = level, level + sign * amount
                top_px, bottom_px = y(max(a, b)), y(min(a, b))
                tip = f"{c.label} {k}: {'+' if sign > 0 else '−'}{amount:,.2f} {currency}"
                body.append(rect(x, top_px, bar, max(bottom_px - top_px, Decimal(1)), COLOURS[k], tip, c.figures.get(k), k))
                level = b
        centre = (x + bar / 2).quantize(TENTH)
        points.append((centre, y(c.net), c))
        if i % every == 0:
            body.append(text(centre, bottom + 14, c.label, css="label"))
    if len(points) > 1:
        body.append(f'<polyline class="net" fill="none" stroke="{COLOURS["net"]}" stroke-width="2" '
                    f'points="{" ".join(f"{px},{py}" for px, py, _ in points)}"/>')
    for px, py, c in points:
        tip = f"{c.label} net new MRR: {'+' if c.net > 0 else ''}{c.net:,.2f} {currency}"
        body.append(f'<circle cx="{px}" cy="{py}" r="3.5" fill="{COLOURS["net"]}"{figure_attrs(c.net_figure)}>'
                    f"<title>{esc(tip)}</title></circle>")
    body += legend([("New", COLOURS["new"]), ("Expansion", COLOURS["expansion"]), ("Reactivation", COLOURS["reactivation"]),
                    ("Contraction", COLOURS["contraction"]), ("Churn", COLOURS["churn"])], left - 50, height - 26, 92)
    net_x = left - 50 + 5 * 92
    body.append(f'<line x1="{net_x}" y1="{height - 30}" x2="{net_x + 16}" y2="{height - 30}" '
                f'stroke="{COLOURS["net"]}" stroke-width="2"/>')
    body.append(text(net_x + 20, height - 26, "Net new", "start"))
    body.append(text(left, height - 6, f"{currency}, {units.suffix or 'units'}; gains above zero, losses below", "start", "note"))
    return svg(width, height, label, body)


@dataclass(frozen=True, slots=True)
class Series:
    """A line over periods: its name, colour, values (None: no value) and, per point, its figure."""

    name: str
    colour: str
    values: Sequence[Decimal | None]
    figures: Sequence[dict[str, Any] | None] = ()


def lines(
    labels: Sequence[str], series: Sequence[Series], *, fmt: Callable[[Decimal], str], tip: Callable[[Decimal], str],
    label: str, zero: bool = False, bands: bool = False, note: str = "", width: int = 620, height: int = 290,
) -> str:
    """Lines over periods, a point per period; with ``bands``, the trailing-NRR bands drawn behind them."""
    values = [v for s in series for v in s.values if v is not None] or [ZERO, Decimal(1)]
    lo_v, hi_v = min(values), max(values)
    if bands:
        lo_v, hi_v = min(lo_v, Decimal("0.8")), max(hi_v, Decimal("1.4"))
    lo, hi, step = nice_range(lo_v, hi_v, zero=zero)
    left, right, top, bottom = 64, width - 90 if bands else width - 10, 14, height - 52
    y = Scale(lo, hi, bottom, top)
    body: list[str] = []
    if bands:
        for name, low, high, colour in BANDS:
            a, b = max(low if low is not None else lo, lo), min(high if high is not None else hi, hi)
            if a >= b:
                continue
            body.append(f'<rect class="band" x="{left}" y="{y(b)}" width="{right - left}" height="{y(a) - y(b)}" fill="{colour}">'
                        f"<title>{esc(name)}</title></rect>")
            body.append(text(right + 6, (y(a) + y(b)) / 2 + Decimal(4), name, "start", "band-label"))
    body += y_axis(y, lo, hi, step, left, right, fmt)
    n = max(len(labels), 1)
    slot = Decimal(right - left) / n
    xs = [(left + slot * i + slot / 2).quantize(TENTH) for i in range(n)]
    every = label_every(slot)
    for i, name in enumerate(labels):
        if i % every == 0:
            body.append(text(xs[i], bottom + 16, name, css="label"))
    for s in series:
        points = [f"{xs[i]},{y(v)}" for i, v in enumerate(s.values) if v is not None]
        if len(points) > 1:
            body.append(f'<polyline fill="none" stroke="{s.colour}" stroke-width="2.2" points="{" ".join(points)}"/>')
        for i, v in enumerate(s.values):
            if v is None:
                continue
            figure = s.figures[i] if i < len(s.figures) else None
            body.append(f'<circle cx="{xs[i]}" cy="{y(v)}" r="3.5" fill="{s.colour}"{figure_attrs(figure)}>'
                        f"<title>{esc(f'{s.name} {labels[i]}: {tip(v)}')}</title></circle>")
    body += legend([(s.name, s.colour) for s in series], left, height - 18, 200)
    if note:
        body.append(text(left, height - 4, note, "start", "note"))
    return svg(width, height, label, body)


def stacked(
    labels: Sequence[str], series: Sequence[Series], units: Units, currency: str, label: str,
    width: int = 620, height: int = 300,
) -> str:
    """Bars per period stacked from zero, one colour per series (closing MRR by segment)."""
    totals = [sum((s.values[i] or ZERO for s in series), ZERO) for i in range(len(labels))] or [ZERO]
    lo, hi, step = nice_range(ZERO, max(totals), zero=True)
    left, right, top, bottom = 64, width - 10, 14, height - 60
    y = Scale(lo, hi, bottom, top)
    body = y_axis(y, lo, hi, step, left, right, units.tick)
    n = max(len(labels), 1)
    slot = Decimal(right - left) / n
    bar = (slot * Decimal("0.7")).quantize(TENTH)
    every = label_every(slot)
    for i, name in enumerate(labels):
        x = (left + slot * i + (slot - bar) / 2).quantize(TENTH)
        level = ZERO
        for s in series:
            v = s.values[i] or ZERO
            if not v:
                continue
            figure = s.figures[i] if i < len(s.figures) else None
            body.append(rect(x, y(level + v), bar, max(y(level) - y(level + v), Decimal(1)), s.colour,
                             f"{name} {s.name}: {v:,.2f} {currency}", figure))
            level += v
        if i % every == 0:
            body.append(text((x + bar / 2).quantize(TENTH), bottom + 14, name, css="label"))
    body += legend([(s.name, s.colour) for s in series], left, height - 26, 140)
    body.append(text(left, height - 6, f"{currency}, {units.suffix or 'units'}; axis from zero", "start", "note"))
    return svg(width, height, label, body)


@dataclass(frozen=True, slots=True)
class CauseRow:
    """One cause: its words, the expansion and contraction it caused, and their figures."""

    label: str
    expansion: Decimal
    contraction: Decimal
    expansion_figure: dict[str, Any] | None = None
    contraction_figure: dict[str, Any] | None = None


def causes(rows: Sequence[CauseRow], units: Units, currency: str, label: str, width: int = 620) -> str:
    """Contraction to the left of zero, expansion to the right, one row per cause in the fixed order."""
    biggest = max([Decimal(1)] + [r.expansion for r in rows] + [r.contraction for r in rows])
    lo, hi, step = nice_range(-biggest, biggest, zero=True)
    bound = max(-lo, hi)
    left, right, row_h, top = 130, width - 20, 26, 26
    height = top + row_h * len(rows) + 34
    x = Scale(-bound, bound, left, right)
    body = [text(x(-bound / 2), 14, "◀ contraction"), text(x(bound / 2), 14, "expansion ▶")]
    tick = -bound
    while tick <= bound:
        body.append(f'<line class="{"zero" if tick == 0 else "gridline"}" x1="{x(tick)}" y1="{top - 4}" x2="{x(tick)}" '
                    f'y2="{top + row_h * len(rows)}"/>')
        body.append(text(x(tick), top + row_h * len(rows) + 14, units.tick(abs(tick))))
        tick += step
    for i, r in enumerate(rows):
        cy = top + row_h * i
        body.append(text(left - 8, cy + 16, r.label, "end"))
        for amount, sign, kind, figure in ((r.expansion, 1, "expansion", r.expansion_figure),
                                           (r.contraction, -1, "contraction", r.contraction_figure)):
            if not amount:
                continue
            a, b = x(ZERO), x(sign * amount)
            tip = f"{r.label}, {kind}: {'+' if sign > 0 else '−'}{amount:,.2f} {currency}"
            body.append(rect(min(a, b), Decimal(cy + 4), max(abs(b - a), Decimal(1)), Decimal(row_h - 8), COLOURS[kind], tip, figure, kind))
    body.append(text(left, height - 4, f"{currency}, {units.suffix or 'units'}", "start", "note"))
    return svg(width, height, label, body)


def heat(value: Decimal | None) -> tuple[str, str]:
    """A cohort cell's colour and text colour: pale at 0%, deep blue at 150% (and above)."""
    if value is None:
        return "#eeeeee", "#1b1f24"
    v = min(max(Decimal(value), ZERO), Decimal("1.5"))
    light = int(Decimal(95) - v / Decimal("1.5") * Decimal(62))
    return f"hsl(210, 70%, {light}%)", ("#ffffff" if light < 62 else "#1b1f24")


def heatmap(cohorts: Sequence[dict[str, Any]], figure: Callable[[dict, dict], dict | None], label: str) -> str:
    """Cohorts as rows, month offsets as columns, each cell the cohort's NRR; its legend below."""
    width_k = max((len(c.get("offsets", [])) for c in cohorts), default=1)
    cell_w = max(24, min(46, 900 // max(width_k, 1)))
    cell_h, left, top = 20, 120, 22
    width = left + cell_w * width_k + 10
    height = top + cell_h * max(len(cohorts), 1) + 56
    body = [text(left + cell_w * k + cell_w // 2, 16, f"M{k}") for k in range(width_k)]
    for r, cohort in enumerate(cohorts):
        cy = top + cell_h * r
        body.append(text(left - 6, cy + 14, f"{cohort['cohort']} ({cohort.get('customers', '')})", "end"))
        for offset in cohort.get("offsets", []):
            k, nrr = offset["k"], offset.get("nrr")
            fill, colour = heat(None if nrr is None else Decimal(nrr))
            shown = "n/a" if nrr is None else percent(Decimal(nrr), 0)
            tip = f"cohort {cohort['cohort']}, month {k}: NRR {shown}, MRR {Decimal(offset.get('mrr') or 0):,.2f}"
            cx = left + cell_w * k
            body.append(rect(Decimal(cx), Decimal(cy), Decimal(cell_w - 2), Decimal(cell_h - 2), fill, tip, figure(cohort, offset)))
            body.append(f'<text x="{cx + (cell_w - 2) // 2}" y="{cy + 14}" text-anchor="middle" class="cell" '
                        f'style="fill:{colour}">{esc(shown)}</text>')
    ly = top + cell_h * max(len(cohorts), 1) + 14
    body.append(text(left, ly + 10, "NRR:", "end"))
    for i, step in enumerate(range(0, 16)):
        v = Decimal(step) / 10
        fill, _ = heat(v)
        body.append(f'<rect x="{left + i * 18}" y="{ly}" width="18" height="12" fill="{fill}"/>')
    for v in (0, 50, 100, 150):
        body.append(text(left + v * 18 // 10 + 9, ly + 26, f"{v}%{'+' if v == 150 else ''}"))
    body.append(f'<rect x="{left + 16 * 18 + 20}" y="{ly}" width="18" height="12" fill="#eeeeee"/>')
    body.append(text(left + 16 * 18 + 42, ly + 10, "n/a (no MRR in month 0)", "start"))
    return svg(width, height, label, body)
