"""The HTML report: one self-contained file for a CFO to sign and an auditor to trace.

The first page: the headline figures, one bridge for the whole range and the
monthly movements. Then the MRR trend, trailing retention, causes, segments,
cohorts, durability, every period's figures, top movers, restatements and
notes. Every figure comes from the SPEC JSON documents (``cli.report.gather``),
so the page shows exactly what `metrics`, `cohorts` and `restatements` print;
clicking a figure or a bar opens the customers, movements and events behind
it, from data embedded in the file (no server, no network), by the rules of
`explain`. Chart geometry lives in ``cli.charts``; style and script in
``cli.report_assets``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from cli import charts
from cli.charts import COLOURS, SERIES_PALETTE, CauseRow, Column, Series, Step, Units, esc, figure_attrs, percent
from cli.report_assets import CSS, SCRIPT
from ledger.customer import CAUSES
from projections.periods import period_label

ZERO = Decimal(0)
CATEGORY_WORDS = {"new": "New", "expansion": "Expansion", "contraction": "Contraction", "churn": "Churn",
                  "reactivation": "Reactivation"}
CAUSE_WORDS = {"cross_sell": "Cross-sell (new product line)", "line_removed": "Product line removed",
               "plan": "Plan change", "seats": "Seats", "price": "Price", "usage": "Usage", "mixed": "Several causes"}
EVENT_WORDS = {"subscription_started": "subscription started", "subscription_changed": "terms changed", "upsell": "upsell",
               "downgrade": "downgrade", "seat_change": "seat change", "price_change": "price change",
               "usage_change": "usage change", "cancel": "cancellation", "customer_updated": "customer details",
               "void": "void"}
WORDS = {
    "opening_mrr": "Opening MRR", "closing_mrr": "Closing MRR", "arr": "ARR",
    "bridge.new": "New MRR", "bridge.expansion": "Expansion MRR", "bridge.contraction": "Contraction MRR",
    "bridge.churn": "Churned MRR", "bridge.reactivation": "Reactivation MRR", "bridge.net_new": "Net new MRR",
    "retention.expansion": "Expansion of existing customers", "retention.contraction": "Contraction of existing customers",
    "retention.churn": "MRR of customers lost", "retention.nrr": "Net revenue retention",
    "retention.grr": "Gross revenue retention", "retention.churn_rate": "Revenue churn rate",
    "customers.opening": "Customers at opening", "customers.closing": "Customers", "customers.new": "New customers",
    "customers.reactivated": "Reactivated customers", "customers.churned": "Churned customers",
    "customers.logo_churn_rate": "Logo churn rate", "quick_ratio": "Quick ratio", "growth": "MRR growth",
    "cohort.mrr": "Cohort MRR", "customer": "Customer",
    "formula.retention.nrr": "NRR = (opening MRR + expansion − contraction − MRR lost) ÷ opening MRR, over the customers active at opening",
    "formula.retention.grr": "GRR = (opening MRR − contraction − MRR lost) ÷ opening MRR, over the customers active at opening",
    "formula.growth": "Growth = closing MRR ÷ opening MRR − 1",
    **CATEGORY_WORDS, **CAUSE_WORDS, **EVENT_WORDS,
    **{f"causes.{kind}.{cause}": f"{CATEGORY_WORDS[kind]} from {CAUSE_WORDS[cause].lower()}"
       for kind in ("expansion", "contraction") for cause in CAUSES},
}
STEPS = ("new", "expansion", "reactivation", "contraction", "churn")


# -- cells ---------------------------------------------------------------------------------------


def money(value: Any) -> str:
    """Money for a table: 1,234.56, always two decimals, a true minus sign."""
    if value is None:
        return "n/a"
    amount = Decimal(value)
    return ("−" if amount < 0 else "") + f"{abs(amount):,.2f}"


def signed(value: Any) -> str:
    """A change: +1,234.56 or −1,234.56."""
    amount = Decimal(value)
    return ("+" if amount > 0 else "") + money(amount)


def ratio(value: Any) -> str:
    return "n/a" if value is None else percent(Decimal(value))


def figure(metric: str, start: str, end: str, value: Any, label: str, **more: Any) -> dict[str, Any]:
    """What a clickable number stands for: a figure `explain` takes (metric, range, optional group) and its value."""
    return {"metric": metric, "start": start, "end": end, "value": None if value is None else str(value), "label": label, **more}


def cell(text: str, css: str = "", fig: dict[str, Any] | None = None) -> str:
    attrs = figure_attrs(fig)
    if attrs:
        attrs = attrs.replace(' class="drill"', "")
        css = f"{css} drill".strip()
    return f'<td class="{css}"{attrs}>{esc(text)}</td>'


def table(headings: Sequence[tuple[str, str]], rows: Sequence[str], totals: Sequence[str] = ()) -> str:
    head = "".join(f'<th class="{c}">{esc(t)}</th>' for t, c in headings)
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    foot = "".join(f'<tr class="total">{r}</tr>' for r in totals)
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}{foot}</tbody></table></div>'


def section(anchor: str, title: str, note: str, content: str) -> str:
    note_html = f'<p class="note">{note}</p>' if note else ""
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>{note_html}{content}</section>'


def chart(caption: str, svg: str, anchor: str = "") -> str:
    ident = f' id="{anchor}"' if anchor else ""
    return f"<figure{ident}><figcaption>{esc(caption)}</figcaption>{svg}</figure>"


def unavailable(what: str) -> str:
    return f'<p class="empty">{esc(what)}</p>'


def customer_name(data: dict[str, Any], customer: str) -> str:
    name = (data.get("names") or {}).get(customer)
    return f"{customer} — {name}" if name else customer


# -- the first page --------------------------------------------------------------------------------


def headline(data: dict[str, Any]) -> str:
    """The headline strip: ending MRR and ARR, net new, growth, trailing-12-month NRR and GRR, customers."""
    w, s, e = data["whole"], data["start"], data["end"]
    rng = f"{s} – {e}"
    opening, closing = Decimal(w["opening_mrr"]), Decimal(w["closing_mrr"])
    growth = None if not opening else (closing - opening) / opening
    parts = {"opening_mrr": w["opening_mrr"], "closing_mrr": w["closing_mrr"]}
    tiles = [
        _tile("Ending MRR", money(w["closing_mrr"]), f"at {e}, {data['currency']}", figure("closing_mrr", s, e, w["closing_mrr"], rng)),
        _tile("Ending ARR", money(w["arr"]), "12 × ending MRR", figure("arr", s, e, w["arr"], rng)),
        _tile("Net new MRR", signed(w["bridge"]["net_new"]), f"over {rng}", figure("bridge.net_new", s, e, w["bridge"]["net_new"], rng)),
        _tile("MRR growth", "n/a" if growth is None else ("+" if growth > 0 else "") + percent(growth),
              f"from {money(w['opening_mrr'])}", figure("growth", s, e, None, rng, parts=parts,
                                                       shown="n/a" if growth is None else percent(growth))),
    ]
    trailing = (data.get("retention") or {}).get("months") or []
    window = (data.get("retention") or {}).get("window", 12)
    last = trailing[-1] if trailing else None
    for key, name in (("nrr", "NRR"), ("grr", "GRR")):
        if last is None:
            tiles.append(_tile(f"{name}, trailing {window} months", "n/a", "no whole month in the range"))
            continue
        sub = f"12 months to {last['month']}" + (f" · {last['band']}" if key == "nrr" and last.get("band") else "")
        fig = figure(f"retention.{key}", last["start"], last["end"], last[key], f"{last['start']} – {last['end']}",
                     parts=_window_parts(data), shown=ratio(last[key]))
        tiles.append(_tile(f"{name}, trailing {window} months", ratio(last[key]), sub, fig))
    c = w["customers"]
    tiles.append(_tile("Customers", f"{c['closing']:,}", f"+{c['new']:,} new, −{c['churned']:,} churned",
                       figure("customers.closing", s, e, c["closing"], rng)))
    return f'<div class="tiles" id="headline">{"".join(tiles)}</div>'


def _window_parts(data: dict[str, Any]) -> dict[str, str] | None:
    window = data.get("trailing_window")
    if not window:
        return None
    return {"opening_mrr": window["opening_mrr"], **{f"retention.{k}": window["retention"][k] for k in ("expansion", "contraction", "churn")}}


def _tile(name: str, value: str, sub: str, fig: dict[str, Any] | None = None) -> str:
    attrs = figure_attrs(fig).replace(' class="drill"', "")
    css = "tile drill" if fig else "tile"
    return (f'<div class="{css}"{attrs}><div class="name">{esc(name)}</div><div class="value">{esc(value)}</div>'
            f'<div class="sub">{esc(sub)}</div></div>')


def range_bridge(data: dict[str, Any], units: Units) -> str:
    """One bridge for the whole range, opening to closing MRR."""
    w, s, e = data["whole"], data["start"], data["end"]
    rng = f"{s} – {e}"
    steps = [Step("opening", "Opening", Decimal(w["opening_mrr"]), figure("opening_mrr", s, e, w["opening_mrr"], rng))]
    steps += [Step(k, CATEGORY_WORDS[k], Decimal(w["bridge"][k]), figure(f"bridge.{k}", s, e, w["bridge"][k], rng)) for k in STEPS]
    steps.append(Step("closing", "Closing", Decimal(w["closing_mrr"]), figure("closing_mrr", s, e, w["closing_mrr"], rng)))
    svg = charts.bridge(steps, units, data["currency"], "MRR bridge for the range")
    return chart(f"MRR bridge, {rng}: {money(w['opening_mrr'])} → {money(w['closing_mrr'])}", svg, "range-bridge")


def monthly_movements(data: dict[str, Any], periods: list[dict[str, Any]], units: Units) -> str:
    """The movements of each period as zero-based stacked bars, gains up and losses down, with the net new line."""
    columns = []
    for p in periods:
        label = period_label(p["start"], p["end"])
        amounts = {k: Decimal(p["bridge"][k]) for k in STEPS}
        figs = {k: figure(f"bridge.{k}", p["start"], p["end"], p["bridge"][k], label) for k in STEPS}
        columns.append(Column(label, amounts, figs, Decimal(p["bridge"]["net_new"]),
                              figure("bridge.net_new", p["start"], p["end"], p["bridge"]["net_new"], label)))
    svg = charts.movements(columns, units, data["currency"], "movements per period")
    return chart(f"Movements by {data['period']}: gains above zero, losses below, net new as the line", svg, "monthly-movements")


# -- the other sections ----------------------------------------------------------------------------


def mrr_trend(data: dict[str, Any], periods: list[dict[str, Any]], units: Units) -> str:
    labels = [period_label(p["start"], p["end"]) for p in periods]
    series = Series("Closing MRR", COLOURS["mrr"], [Decimal(p["closing_mrr"]) for p in periods],
                    [figure("closing_mrr", p["start"], p["end"], p["closing_mrr"], lab) for p, lab in zip(periods, labels)])
    svg = charts.lines(labels, [series], fmt=units.tick, tip=lambda v: f"{v:,.2f} {data['currency']}",
                       label="closing MRR per period", zero=True, note=f"{data['currency']}, axis from zero")
    return chart(f"Closing MRR at the end of each {data['period']}", svg)


def trends(data: dict[str, Any], periods: list[dict[str, Any]], units: Units) -> str:
    """MRR over time beside the trailing NRR and GRR, the windows' figures below."""
    report = data.get("retention") or {}
    window = report.get("window", 12)
    nrr, rows = retention_trend(data)
    return section("trends", "MRR and retention over time",
                   f"Closing MRR (ARR is 12 times it); NRR and GRR each month over the {window} months ending with it, over "
                   "the customers active at the window's opening (GRR leaves expansion out).",
                   f'<div class="pair">{mrr_trend(data, periods, units)}{nrr}</div>{rows}')


def retention_trend(data: dict[str, Any]) -> tuple[str, str]:
    report = data.get("retention") or {}
    months = report.get("months") or []
    window = report.get("window", 12)
    if not months:
        return unavailable("No whole month ends in this range: no trailing retention."), ""
    labels = [m["month"] for m in months]

    def values(key: str) -> list[Decimal | None]:
        return [None if m[key] is None else Decimal(m[key]) for m in months]

    def figs(key: str) -> list[dict[str, Any]]:
        return [figure(f"retention.{key}", m["start"], m["end"], m[key], f"{m['start']} – {m['end']}", shown=ratio(m[key]))
                for m in months]

    svg = charts.lines(labels, [Series("NRR", COLOURS["nrr"], values("nrr"), figs("nrr")),
                                Series("GRR", COLOURS["grr"], values("grr"), figs("grr"))],
                       fmt=lambda v: percent(v, 0), tip=ratio, label="trailing NRR and GRR", bands=True,
                       note="bands of NRR: below 90%, 90–100%, 100–110%, 110–120%, 120–130%, 130%+")
    rows = [cell(m["month"]) + cell(f"{m['start']} – {m['end']}") + cell(money(m["opening_mrr"]), "num")
            + cell(money(m["closing_mrr"]), "num") + cell(ratio(m["nrr"]), "num") + cell(ratio(m["grr"]), "num")
            + cell(m.get("band") or "n/a") for m in months]
    return chart(f"NRR and GRR, trailing {window} months, in the bands finance uses", svg), table(
        [("month", ""), ("window", ""), ("opening MRR", "num"), ("closing MRR", "num"), ("NRR", "num"), ("GRR", "num"),
         ("band", "")], rows)


def cause_section(data: dict[str, Any], units: Units) -> str:
    w, s, e = data["whole"], data["start"], data["end"]
    rng = f"{s} – {e}"
    rows = []
    for cause in CAUSES:
        x, c = Decimal(w["causes"]["expansion"].get(cause, "0.00")), Decimal(w["causes"]["contraction"].get(cause, "0.00"))
        rows.append(CauseRow(CAUSE_WORDS[cause], x, c, figure(f"causes.expansion.{cause}", s, e, f"{x:.2f}", rng),
                             figure(f"causes.contraction.{cause}", s, e, f"{c:.2f}", rng)))
    svg = charts.causes(rows, units, data["currency"], "expansion and contraction by cause")
    cells = [cell(r.label) + cell(signed(r.expansion), "num gain", r.expansion_figure)
             + cell(signed(-r.contraction), "num loss", r.contraction_figure) for r in rows]
    totals = [cell("Total") + cell(signed(w["bridge"]["expansion"]), "num") + cell(signed(-Decimal(w["bridge"]["contraction"])), "num")]
    content = chart("What changed: expansion and contraction by cause", svg) + table(
        [("cause", ""), ("expansion", "num"), ("contraction", "num")], cells, totals)
    return section("causes", "Expansion and contraction by cause",
                   f"Over {rng}, each cause in one fixed order; a cause with nothing shows 0.00.", content)


def segment_section(data: dict[str, Any], units: Units) -> str:
    by, grouped, whole = data.get("by"), data.get("grouped"), data.get("grouped_whole")
    if not by:
        return ""
    if not grouped or not grouped.get("periods"):
        return section("groups", f"By {by}", "", unavailable("No group has revenue in this range."))
    periods = [p for p in data["metrics"]["periods"]]
    labels = [period_label(p["start"], p["end"]) for p in periods]
    groups = sorted({p["group"] for p in grouped["periods"]}, key=lambda g: (g is None, g or ""))
    at = {(p["start"], p["group"]): p for p in grouped["periods"]}
    series = []
    for i, g in enumerate(groups):
        name = "(none)" if g is None else str(g)
        entries = [at.get((p["start"], g)) for p in periods]
        series.append(Series(name, SERIES_PALETTE[i % len(SERIES_PALETTE)],
                             [Decimal(x["closing_mrr"]) if x else ZERO for x in entries],
                             [figure("closing_mrr", x["start"], x["end"], x["closing_mrr"], lab, group=g) if x else None
                              for x, lab in zip(entries, labels)]))
    svg = charts.stacked(labels, series, units, data["currency"], f"closing MRR by {by}")
    content = chart(f"Closing MRR by {by}", svg) + _segment_table(data, whole)
    return section("groups", f"By {by}", f"Each customer counts in its {by} as of the period's last day, so each group's "
                   "bridge reconciles on its own.", content)


def _segment_table(data: dict[str, Any], whole: dict[str, Any] | None) -> str:
    s, e = data["start"], data["end"]
    rows = []
    for p in (whole or {}).get("periods", []):
        g = p["group"]
        name = "(none)" if g is None else str(g)

        def fig(metric: str, value: Any) -> dict[str, Any]:
            return figure(metric, s, e, value, f"{s} – {e}", group=g)

        rows.append(cell(name) + cell(money(p["opening_mrr"]), "num", fig("opening_mrr", p["opening_mrr"]))
                    + "".join(cell(signed(p["bridge"][k]) if k in ("new", "expansion", "reactivation") else signed(-Decimal(p["bridge"][k])),
                                   "num", fig(f"bridge.{k}", p["bridge"][k])) for k in STEPS)
                    + cell(money(p["closing_mrr"]), "num", fig("closing_mrr", p["closing_mrr"]))
                    + cell(ratio(p["retention"]["nrr"]), "num") + cell(ratio(p["retention"]["grr"]), "num"))
    return table([(data["by"], ""), ("opening MRR", "num"), *[(CATEGORY_WORDS[k].lower(), "num") for k in STEPS],
                  ("closing MRR", "num"), ("NRR", "num"), ("GRR", "num")], rows)


def cohort_section(data: dict[str, Any]) -> str:
    cohorts = data.get("cohorts")
    if cohorts is None or not cohorts.get("cohorts"):
        content = unavailable("No customer had its first revenue in this range.")
    else:
        def fig(cohort: dict[str, Any], offset: dict[str, Any]) -> dict[str, Any]:
            return figure("cohort.mrr", f"{cohort['cohort']}-01", offset["as_of"], offset["mrr"],
                          f"cohort {cohort['cohort']}, month {offset['k']}", cohort=cohort["cohort"])

        content = chart("Cohort net revenue retention by month since first revenue",
                        charts.heatmap(cohorts["cohorts"], fig, "cohort net revenue retention"))
    return section("cohorts", "Cohorts", "Customers grouped by the month of their first revenue (how many in brackets); each "
                   "cell is the cohort's MRR at the end of month k as a share of its MRR at the end of its first month.", content)


DURABILITY_HEADINGS = [("period", ""), ("expanded", "num"), ("lost within", "num"), ("rate", "num"), ("expansion", "num"),
                       ("lost", "num"), ("contracted", "num"), ("churned within", "num"), ("churn rate", "num"),
                       ("contracted again", "num"), ("new customers", "num"), ("expanded since", "num"),
                       ("within 90 days", "num"), ("median days", "num")]


def durability_section(data: dict[str, Any]) -> str:
    report = data.get("durability")
    if report is None:
        return section("durability", "Durability of expansion", "",
                       unavailable("Durability signals (SPEC §15, `revledger durability`) are not in this build yet."))
    rows = []
    for p in report.get("periods", []):
        x, c, f = p["expansion"], p["contraction"], p["first_expansion"]
        label = period_label(p["start"], p["end"]) + ("" if p.get("group") is None else f" · {p['group']}")
        rows.append(cell(label) + cell(f"{x['customers']:,}", "num") + cell(f"{x['followed']:,}", "num") + cell(ratio(x["rate"]), "num")
                    + cell(money(x["expansion_amount"]), "num") + cell(money(x["lost_amount"]), "num")
                    + cell(f"{c['customers']:,}", "num") + cell(f"{c['churned']:,}", "num") + cell(ratio(c["churn_rate"]), "num")
                    + cell(f"{c['repeated']:,}", "num") + cell(f"{f['customers']:,}", "num") + cell(f"{f['expanded']:,}", "num")
                    + cell(f"{f['within_90']:,}", "num") + cell("n/a" if f["median_days"] is None else f"{f['median_days']:,}", "num"))
    within = report.get("within", 90)
    return section("durability", "Durability of expansion",
                   f"Per quarter: customers who expanded and then contracted or churned within {within} days; customers who "
                   "contracted and then churned or contracted again; how soon new customers first expanded.",
                   table(DURABILITY_HEADINGS, rows) if rows else unavailable("No period in this range."))


def figures_section(data: dict[str, Any], periods: list[dict[str, Any]]) -> str:
    """Every period's figures, each money figure opening its drill-down, the whole range below."""
    rows = [_figure_row(p, period_label(p["start"], p["end"])) for p in periods]
    totals = [_figure_row(data["whole"], "Whole range")]
    headings = [("period", ""), ("opening MRR", "num"), *[(CATEGORY_WORDS[k].lower(), "num") for k in STEPS],
                ("net new", "num"), ("closing MRR", "num"), ("ARR", "num"), ("NRR", "num"), ("GRR", "num"),
                ("customers", "num"), ("quick ratio", "num")]
    return section("figures", f"Figures by {data['period']}",
                   f"As `revledger metrics` prints them, in {esc(data['currency'])}; losses shown with a minus sign.",
                   table(headings, rows, totals))


def _figure_row(p: dict[str, Any], label: str) -> str:
    s, e = p["start"], p["end"]

    def fig(metric: str, value: Any) -> dict[str, Any]:
        return figure(metric, s, e, value, label if label != "Whole range" else f"{s} – {e}")

    gains = ("new", "expansion", "reactivation")
    qr = p["quick_ratio"]
    return (cell(label) + cell(money(p["opening_mrr"]), "num", fig("opening_mrr", p["opening_mrr"]))
            + "".join(cell(signed(p["bridge"][k]) if k in gains else signed(-Decimal(p["bridge"][k])),
                           "num" + ("" if k in gains or not Decimal(p["bridge"][k]) else " loss"), fig(f"bridge.{k}", p["bridge"][k]))
                      for k in STEPS)
            + cell(signed(p["bridge"]["net_new"]), "num", fig("bridge.net_new", p["bridge"]["net_new"]))
            + cell(money(p["closing_mrr"]), "num", fig("closing_mrr", p["closing_mrr"]))
            + cell(money(p["arr"]), "num", fig("arr", p["arr"]))
            + cell(ratio(p["retention"]["nrr"]), "num") + cell(ratio(p["retention"]["grr"]), "num")
            + cell(f"{p['customers']['closing']:,}", "num", fig("customers.closing", p["customers"]["closing"]))
            + cell("n/a" if qr is None else f"{Decimal(qr):,.2f}x", "num"))


def movers_section(data: dict[str, Any]) -> str:
    movers = data.get("movers") or {"gainers": [], "losers": []}
    s, e = data["start"], data["end"]
    parts = []
    for key, title in (("gainers", "Largest increases"), ("losers", "Largest decreases")):
        rows = [cell(customer_name(data, m["customer_id"])) + cell(money(m["opening_mrr"]), "num") + cell(money(m["closing_mrr"]), "num")
                + cell(signed(m["change"]), "num " + ("gain" if Decimal(m["change"]) > 0 else "loss"),
                       figure("customer", s, e, m["change"], f"{s} – {e}", customer=m["customer_id"]))
                + cell(", ".join(CATEGORY_WORDS.get(c.strip(), c.strip()) for c in m["categories"].split(",") if c.strip()))
                for m in movers[key]]
        body = table([("customer", ""), ("opening MRR", "num"), ("closing MRR", "num"), ("change", "num"), ("movements", "")],
                     rows) if rows else unavailable("None.")
        parts.append(f"<div><h3>{esc(title)}</h3>{body}</div>")
    return section("movers", "Top movers", f"Customers whose MRR changed most between the opening ({esc(s)}) and the closing "
                   f"({esc(e)}), in {esc(data['currency'])}.", '<div class="pair">' + "".join(parts) + "</div>")


def restatement_section(data: dict[str, Any]) -> str:
    found = data.get("restatements")
    if found is None:
        content = unavailable("Closing periods is not available in this version of the ledger.")
    elif not found:
        content = unavailable("No closed period has been restated: every closed period's figures are as they were at its "
                              "close (or no period has been closed yet).")
    else:
        rows = []
        for r in found:
            ids = " ".join(ev.get("event_id", "") for ev in r.get("events") or [])
            closed = f"{r['period']} (closed {r.get('recorded_at', '')}{', locked' if r.get('locked') else ''})"
            for i, f in enumerate(r.get("figures", [])):
                name = WORDS.get(f["metric"], f["metric"])
                rows.append(cell(closed if i == 0 else "") + cell(name) + cell(_value(f["metric"], f["closed"]), "num")
                            + cell(_value(f["metric"], f["now"]), "num") + cell(_value(f["metric"], f["difference"], True), "num")
                            + cell(ids if i == 0 else ""))
        content = table([("closed period", ""), ("figure", ""), ("at close", "num"), ("now", "num"), ("difference", "num"),
                         ("events recorded after the close", "")], rows)
    return section("restatements", "Restatements of closed periods",
                   "Figures of closed periods that differ now from what was recorded at the close, and the late events "
                   "that changed them.", content)


def _value(metric: str, value: Any, change: bool = False) -> str:
    from cli.render import figure_kind

    if value is None:
        return "n/a"
    kind = figure_kind(metric)
    if kind == "count" or isinstance(value, int):
        return (f"{int(value):+,}" if change else f"{int(value):,}").replace("-", "−")
    if kind == "ratio":
        return ("+" if change and Decimal(value) > 0 else "") + ratio(value)
    if kind == "multiple":
        return f"{Decimal(value):,.2f}x"
    return signed(value) if change else money(value)


def notes_section(data: dict[str, Any]) -> str:
    drill = data["drill"]
    lines = [
        f"<p><b>Source.</b> Ledger {esc(data.get('ledger') or '')}, as known at {esc(data.get('known_at') or 'empty ledger')}, "
        f"under the policy {esc(', '.join(f'{k}={v}' for k, v in data['policy'].items()))}"
        f"{' (a preview: nothing recorded uses it)' if data.get('preview') else ''}. "
        f"The same figures: <code>revledger metrics --from {esc(data['start'])} --to {esc(data['end'])} --period {esc(data['period'])}"
        f"{' --known-at ' + esc(data['known_at']) if data.get('known_at') else ''}</code>.</p>",
        "<p><b>Signs.</b> Movements are shown by size with their direction in words and colour; changes carry + or −. "
        "Contraction and churn lower MRR.</p>",
        f'<p id="coverage"><b>Drill-down.</b> {esc(coverage(drill))}</p>',
    ]
    return section("notes", "Notes", "", "".join(lines))


def coverage(drill: dict[str, Any]) -> str:
    """What the drill-down embedded says about itself, in the report: never a silent truncation."""
    total, limit = drill["range_movements"], drill["limit"]
    if drill["from"] == drill["start"]:
        return (f"Every figure of {drill['start']} – {drill['end']} opens its customers, movements and events from this file "
                f"({drill['embedded_movements']:,} movements embedded).")
    if drill["from"] is None:
        return (f"Not embedded: the range has {total:,} movements, more than the {limit:,} one file carries; each figure's "
                "panel gives the `revledger explain` command that lists its customers, movements and events.")
    return (f"The range has {total:,} movements, more than the {limit:,} one file carries: figures of periods from "
            f"{drill['from']} on open from this file ({drill['embedded_movements']:,} movements embedded); for earlier periods and "
            "for the whole range, each figure's panel gives the `revledger explain` command that lists them.")


def embedded(data: dict[str, Any]) -> str:
    """JSON to sit inside a ``<script type="application/json">``: no ``<`` at all, so nothing can close the tag."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


# -- the document ----------------------------------------------------------------------------------


def document(data: dict[str, Any]) -> str:
    """The whole report as one HTML string, from the documents gathered by ``cli.report.gather``."""
    periods = [p for p in data["metrics"]["periods"]]
    largest = max([Decimal(p["closing_mrr"]) for p in periods] + [Decimal(p["opening_mrr"]) for p in periods] + [ZERO])
    units = Units.for_largest(largest)
    first = section("overview", "The range at a glance",
                    '<span class="screen-only">Click any figure or bar for the customers, movements and events behind it.</span>'
                    '<span class="print-only">Every figure can be traced to its customers and events: open the HTML file and '
                    "click it, or run the <code>revledger explain</code> command in the notes.</span>",
                    f'<div class="pair">{range_bridge(data, units)}{monthly_movements(data, periods, units)}</div>')
    body = [headline(data), first, trends(data, periods, units), cause_section(data, units),
            segment_section(data, units), cohort_section(data), durability_section(data), figures_section(data, periods),
            movers_section(data), restatement_section(data), notes_section(data)]
    known = data.get("known_at") or "empty ledger"
    nav = "".join(f'<a href="#{a}">{t}</a>' for a, t in (
        ("overview", "Bridge"), ("trends", "Trends"), ("causes", "Causes"), ("groups", "Segments"),
        ("cohorts", "Cohorts"), ("durability", "Durability"), ("figures", "Figures"), ("movers", "Top movers"),
        ("restatements", "Restatements"), ("notes", "Notes")) if a != "groups" or data.get("by"))
    subtitle = (f"{esc(data['start'])} to {esc(data['end'])}, by {esc(data['period'])} · currency {esc(data['currency'])} · "
                f"as known at {esc(known)}" + (f" · by {esc(data['by'])}" if data.get("by") else "")
                + (" · PREVIEW under a policy not in force" if data.get("preview") else ""))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(data['title'])} {esc(data['start'])} – {esc(data['end'])}</title><style>{CSS}</style></head><body>"
        f'<header class="top"><h1>{esc(data["title"])}</h1><p>{subtitle}</p><nav>{nav}</nav></header>'
        f"<main>{''.join(body)}</main>"
        '<aside id="drill" hidden aria-live="polite"></aside>'
        f'<script type="application/json" id="drill-data">{embedded(data["drill"])}</script>'
        f'<script type="application/json" id="drill-words">{embedded(WORDS)}</script>'
        f"<script>{SCRIPT}</script></body></html>\n"
    )
