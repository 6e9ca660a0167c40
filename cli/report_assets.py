"""The HTML report's stylesheet (screen and print) and its drill-down script, kept apart from the document's structure.

The script reads the drill-down data embedded in the page (``#drill-data``) and
lists, for the figure clicked, the customers that make it up, their movements
and the events behind each, by the rules of `explain` (SPEC §8): amounts in
integer cents, so the items add up to the figure exactly, as they do there.
"""

CSS = """
:root { --ink: #1b1f24; --muted: #57606a; --line: #dde1e6; --navy: #1f4e79; --loss: #b71c1c; --gain: #1b5e20; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; margin: 0; color: var(--ink);
       background: #f6f7f9; font-size: 14px; }
header.top { background: var(--navy); color: #fff; padding: 14px 28px 12px; }
header.top h1 { margin: 0 0 2px; font-size: 21px; }
header.top p { margin: 2px 0; font-size: 13px; opacity: .92; }
header.top nav a { color: #fff; margin-right: 12px; font-size: 13px; }
main { padding: 6px 28px 28px; max-width: 1360px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 14px 0; padding: 12px 18px; }
section h2 { font-size: 17px; margin: 2px 0 4px; }
h3 { font-size: 14px; margin: 10px 0 4px; }
p.note { color: var(--muted); font-size: 12.5px; margin: 2px 0 8px; }
.tiles { display: grid; grid-template-columns: repeat(7, minmax(120px, 1fr)); gap: 10px; margin: 14px 0 0; }
.tile { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.tile .name { font-size: 12px; color: var(--muted); }
.tile .value { font-size: 21px; font-weight: 650; font-variant-numeric: tabular-nums; margin: 2px 0; white-space: nowrap; }
.tile .sub { font-size: 11.5px; color: var(--muted); }
.pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 14px; }
figure { margin: 0; }
figcaption { font-size: 13.5px; font-weight: 650; margin: 4px 0 2px; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font-size: 11px; fill: var(--ink); }
svg text.value { font-weight: 600; }
svg text.note, svg text.band-label { fill: var(--muted); font-size: 10px; }
svg text.cell { font-size: 10px; }
svg .gridline { stroke: #e6e9ed; stroke-width: 1; }
svg .zero { stroke: #59636e; stroke-width: 1.2; }
svg .connector { stroke: #9aa4ae; stroke-dasharray: 3 2; }
table { border-collapse: collapse; font-size: 12.5px; margin: 6px 0; }
th, td { padding: 3px 9px; border-bottom: 1px solid #eceff2; text-align: left; vertical-align: top; }
th { font-weight: 600; background: #fafbfc; }
td:first-child { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.loss, span.loss { color: var(--loss); }
td.gain, span.gain { color: var(--gain); }
tr.total td { font-weight: 650; border-top: 1.5px solid #9aa4ae; }
.wide { overflow-x: auto; }
.empty { color: var(--muted); font-style: italic; }
.drill { cursor: pointer; }
td.drill:hover, .tile.drill:hover, a.drill:hover { background: #eef4fb; }
rect.drill:hover, circle.drill:hover { opacity: .8; }
.drill:focus { outline: 2px solid #1565c0; outline-offset: 1px; }
.coverage { border-left: 4px solid #f57c00; padding: 6px 10px; background: #fff8ee; }
.print-only { display: none; }
#drill { position: fixed; top: 0; right: 0; width: min(760px, 100%); height: 100%; background: #fff; z-index: 10;
         border-left: 1px solid var(--line); box-shadow: -6px 0 18px rgba(0,0,0,.12); overflow-y: auto; padding: 14px 18px; }
#drill[hidden] { display: none; }
#drill header { display: flex; justify-content: space-between; align-items: start; gap: 10px; }
#drill h2 { font-size: 16px; margin: 0; }
#drill button { font: inherit; padding: 3px 10px; cursor: pointer; }
#drill table { width: 100%; }
#drill tr.item td { border-top: 1.5px solid #c9d1d9; font-weight: 600; }
#drill tr.move td { color: #333; }
#drill tr.event td { color: var(--muted); font-size: 11.5px; }
#drill .formula { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; }
@page { margin: 12mm; }
@media print {
  body { background: #fff; font-size: 10pt; }
  header.top { background: none; color: var(--ink); padding: 0 0 3mm; border-bottom: 2px solid var(--navy); }
  header.top nav, #drill, .screen-only { display: none !important; }
  .print-only { display: block; }
  main { padding: 0; max-width: none; }
  .tiles { grid-template-columns: repeat(4, 1fr); gap: 2mm; margin-top: 3mm; break-inside: avoid; }
  .tile { padding: 1.5mm 2.5mm; }
  .tile .value { font-size: 14pt; }
  section { border: none; padding: 0; margin: 0 0 5mm; border-radius: 0; }
  .pair { display: block; }
  figure { break-inside: avoid; page-break-inside: avoid; margin: 0 0 3mm; }
  figcaption, h2, h3 { break-after: avoid; page-break-after: avoid; }
  section > h2 + p.note { break-after: avoid; page-break-after: avoid; }
  svg { width: 100% !important; max-height: 92mm; }
  table { font-size: 8.5pt; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  .wide { overflow: visible; }
  a { color: inherit; text-decoration: none; }
}
"""

SCRIPT = r"""
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("drill-data").textContent);
  const words = JSON.parse(document.getElementById("drill-words").textContent);
  const panel = document.getElementById("drill");
  const CATEGORIES = data.categories;
  const perCustomer = data.customers.map(() => []);
  data.movements.forEach((m, i) => perCustomer[m[0]].push(i));
  const RATIOS = {
    "retention.nrr": ["opening_mrr", "retention.expansion", "retention.contraction", "retention.churn"],
    "retention.grr": ["opening_mrr", "retention.contraction", "retention.churn"],
    "growth": ["opening_mrr", "closing_mrr"]
  };
  const COUNTED = {"customers.new": "new", "customers.reactivated": "reactivation", "customers.churned": "churn"};

  function money(cents) {
    const negative = cents < 0;
    const whole = Math.floor(Math.abs(cents) / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    const text = whole + "." + String(Math.abs(cents) % 100).padStart(2, "0");
    return negative ? "\u2212" + text : text;
  }
  function signed(cents) { return cents > 0 ? "+" + money(cents) : money(cents); }
  function cents(text) {
    const negative = text.startsWith("-");
    const [whole, frac = ""] = text.replace("-", "").split(".");
    const value = parseInt(whole, 10) * 100 + parseInt((frac + "00").slice(0, 2), 10);
    return negative ? -value : value;
  }
  function counting(metric) { return metric.startsWith("customers."); }
  function amountText(metric, amount) { return counting(metric) ? String(amount) : money(amount); }
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const child of [].concat(children || [])) node.append(child);
    return node;
  }
  function groupOf(customer, day) {
    let value = null;
    for (const [effective, v] of data.customers[customer][2]) { if (effective <= day) value = v; }
    return value;
  }
  function covered(f) { return data.from !== null && f.start >= data.from && f.end <= data.end; }

  // The customers, amounts and movements that make up a figure: the rules of projections.explain._items.
  function items(f) {
    const out = [];
    const grouped = Object.prototype.hasOwnProperty.call(f, "group");
    data.customers.forEach((customer, c) => {
      if (grouped && groupOf(c, f.end) !== f.group) return;
      if (f.metric === "customer" && customer[0] !== f.customer) return;
      let before = null;
      const inside = [];
      for (const i of perCustomer[c]) {
        const m = data.movements[i];
        if (m[1] > f.end) break;
        if (m[1] < f.start) before = i; else inside.push(i);
      }
      const o = before === null ? 0 : data.movements[before][5];
      const lastIndex = inside.length ? inside[inside.length - 1] : before;
      const k = lastIndex === null ? 0 : data.movements[lastIndex][5];
      const signedSum = (list) => list.reduce((s, i) => s + data.movements[i][5] - data.movements[i][4], 0);
      const sizeSum = (list) => list.reduce((s, i) => s + Math.abs(data.movements[i][5] - data.movements[i][4]), 0);
      const ofCategory = (name) => inside.filter((i) => CATEGORIES[data.movements[i][2]] === name);
      let item = null;
      const metric = f.metric;
      if (metric === "opening_mrr" || metric === "customers.opening") {
        if (o > 0) item = [metric === "opening_mrr" ? o : 1, [before]];
      } else if (metric === "closing_mrr" || metric === "arr" || metric === "customers.closing") {
        if (k > 0) item = [metric === "closing_mrr" ? k : metric === "arr" ? 12 * k : 1, [lastIndex]];
      } else if (metric === "bridge.net_new" || metric === "customer") {
        if (inside.length) item = [signedSum(inside), inside];
      } else if (metric.startsWith("bridge.")) {
        const theirs = ofCategory(metric.slice(7));
        if (theirs.length) item = [sizeSum(theirs), theirs];
      } else if (COUNTED[metric]) {
        const theirs = ofCategory(COUNTED[metric]);
        if (theirs.length) item = [1, theirs];
      } else if (metric.startsWith("causes.")) {
        const [, kind, cause] = metric.split(".");
        const theirs = ofCategory(kind).filter((i) => data.movements[i][3] === cause);
        if (theirs.length) item = [sizeSum(theirs), theirs];
      } else if (metric === "cohort.mrr") {
        const first = perCustomer[c].map((i) => data.movements[i]).find((m) => CATEGORIES[m[2]] === "new");
        if (first && first[1].slice(0, 7) === f.cohort && k > 0) item = [k, [lastIndex]];
      } else if (o > 0) {
        if (metric === "retention.churn" && k === 0) item = [o, inside];
        else if (metric === "retention.expansion" && o < k) item = [k - o, inside];
        else if (metric === "retention.contraction" && 0 < k && k < o) item = [o - k, inside];
      }
      if (item !== null) out.push({customer: c, amount: item[0], movements: item[1].filter((i) => i !== null)});
    });
    return out;
  }

  function explainCommand(f) {
    const metric = f.metric === "cohort.mrr" ? "closing_mrr" : f.metric === "customer" ? "bridge.net_new" : f.metric;
    let command = "revledger explain " + metric + " --from " + f.start + " --to " + f.end;
    if (Object.prototype.hasOwnProperty.call(f, "group")) command += " --by " + data.by + " --group " + JSON.stringify(f.group === null ? "" : f.group);
    if (data.known_at) command += " --known-at " + data.known_at;
    return command;
  }
  function title(f) {
    const name = words[f.metric] || f.metric;
    let text = name + ", " + f.label;
    if (Object.prototype.hasOwnProperty.call(f, "group")) text += ", " + data.by + " " + (f.group === null ? "(none)" : f.group);
    if (f.metric === "customer") text = "Customer " + f.customer + ", " + f.label;
    if (f.metric === "cohort.mrr") text = "Cohort " + f.cohort + ": MRR at the end of " + f.end.slice(0, 7);
    return text;
  }
  function eventRows(m) {
    return m[6].map((e) => {
      const ev = data.events[e];
      return el("tr", {class: "event"}, [el("td", {}, ""), el("td", {colspan: 5},
        "event " + ev[0] + " \u00b7 #" + ev[1] + " \u00b7 " + (words[ev[6]] || ev[6]) + " \u00b7 effective " + ev[2] +
        " \u00b7 recorded " + ev[3] + " \u00b7 by " + ev[4] + " \u00b7 source " + ev[5])]);
    });
  }
  function itemRows(f, item, body) {
    const customer = data.customers[item.customer];
    const who = customer[0] + (customer[1] ? " \u2014 " + customer[1] : "");
    body.append(el("tr", {class: "item", "data-cents": String(item.amount), "data-customer": customer[0]},
      [el("td", {colspan: 4}, who), el("td", {class: "num"}, ""), el("td", {class: "num amount"}, amountText(f.metric, item.amount))]));
    for (const i of item.movements) {
      const m = data.movements[i];
      const change = m[5] - m[4];
      body.append(el("tr", {class: "move"}, [el("td", {}, m[1]), el("td", {}, words[CATEGORIES[m[2]]] || CATEGORIES[m[2]]),
        el("td", {}, m[3] ? (words[m[3]] || m[3]) : ""), el("td", {class: "num"}, money(Math.abs(change))),
        el("td", {class: "num " + (change < 0 ? "loss" : "gain")}, signed(change)), el("td", {}, "")]));
      eventRows(m).forEach((row) => body.append(row));
    }
  }

  const SHOWN = 400;
  function openFigure(f) {
    panel.replaceChildren();
    panel.append(el("header", {}, [el("h2", {id: "drill-title"}, title(f)), closeButton()]));
    if (!covered(f)) {
      panel.append(el("p", {class: "coverage"}, "This figure's customers are not embedded in this file (see \u201cDrill-down\u201d in the notes). " +
        "The ledger lists them, with their movements and events:"), el("p", {class: "formula"}, explainCommand(f)));
      return show();
    }
    const found = items(f);
    const total = found.reduce((s, it) => s + it.amount, 0);
    const value = f.value === null || f.value === undefined ? null : (counting(f.metric) ? parseInt(f.value, 10) : cents(f.value));
    const summary = "Figure " + (value === null ? "\u2014" : amountText(f.metric, value)) + (counting(f.metric) ? "" : " " + data.currency) +
      " \u00b7 " + found.length + " customer" + (found.length === 1 ? "" : "s") + ", whose amounts add up to " + amountText(f.metric, total) +
      (value !== null && value !== total ? " \u2014 DOES NOT MATCH THE FIGURE" : "");
    panel.append(el("p", {id: "drill-summary", "data-value": value === null ? "" : String(value), "data-total": String(total)}, summary));
    const head = el("thead", {}, el("tr", {}, ["date", "movement", "cause", "amount", "net change", "customer amount"].map(
      (h, i) => el("th", {class: i >= 3 ? "num" : ""}, h))));
    const body = el("tbody");
    found.slice(0, SHOWN).forEach((item) => itemRows(f, item, body));
    if (found.length > SHOWN) {
      const rest = found.slice(SHOWN).reduce((s, it) => s + it.amount, 0);
      body.append(el("tr", {class: "more", "data-cents": String(rest)}, [el("td", {colspan: 5}, "\u2026 and " + (found.length - SHOWN) +
        " more customers (" + explainCommand(f) + " lists every one)"), el("td", {class: "num"}, amountText(f.metric, rest))]));
    }
    const foot = el("tfoot", {}, el("tr", {class: "total"}, [el("td", {colspan: 5}, "Total"),
      el("td", {class: "num", id: "drill-total"}, amountText(f.metric, total))]));
    panel.append(el("table", {id: "drill-items"}, [head, body, foot]));
    panel.append(el("p", {class: "note"}, "Amounts are in " + data.currency + "; a movement's amount is its size, its net change is signed. " +
      "The same list, from the ledger: "), el("p", {class: "formula"}, explainCommand(f)));
    return show();
  }
  function openRatio(f) {
    panel.replaceChildren();
    panel.append(el("header", {}, [el("h2", {id: "drill-title"}, title(f)), closeButton()]));
    panel.append(el("p", {class: "formula"}, words["formula." + f.metric] || ""));
    const list = el("ul");
    for (const part of RATIOS[f.metric]) {
      const sub = Object.assign({}, f, {metric: part, value: f.parts ? f.parts[part] : null});
      const link = el("a", {href: "#", class: "drill part", "data-figure": JSON.stringify(sub)}, words[part] || part);
      const shown = sub.value ? " " + money(cents(sub.value)) + " " + data.currency : "";
      list.append(el("li", {}, [link, shown]));
    }
    panel.append(el("p", {}, "Figure: " + (f.shown || "")), list);
    return show();
  }
  function closeButton() {
    const b = el("button", {type: "button", id: "drill-close"}, "Close");
    b.addEventListener("click", hide);
    return b;
  }
  function show() { panel.hidden = false; panel.scrollTop = 0; panel.querySelector("button").focus(); }
  function hide() { panel.hidden = true; }
  function open(node) {
    const f = JSON.parse(node.getAttribute("data-figure"));
    if (RATIOS[f.metric]) openRatio(f); else openFigure(f);
  }
  document.addEventListener("click", (event) => {
    const node = event.target.closest("[data-figure]");
    if (!node) return;
    event.preventDefault();
    open(node);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") hide();
    if ((event.key === "Enter" || event.key === " ") && event.target.matches && event.target.matches("[data-figure]")) {
      event.preventDefault();
      open(event.target);
    }
  });
  window.revledgerDrill = {items: items, open: open, data: data};
})();
"""
