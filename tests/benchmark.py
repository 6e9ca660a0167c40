"""`make bench`: revledger against the physical limit of its stack and an analyst's DuckDB peer (issue 11).

Not a test (pytest does not collect it): for each size it generates a synthetic
file (``revledger generate``), drives the installed ``revledger`` command on it
as a user would, and measures in the same run what each figure is compared
with: a raw ``sqlite3`` insert of the same rows, a raw read of the stored
events, the month-level bridge written in DuckDB SQL, a raw ``psycopg`` insert.
It writes the figures, the targets of issue 11 and whether each is met to the
generated part of ``docs/performance.md`` (everything after the KEPT marker is
written by hand and kept). Where a target is missed it profiles the command
(pyinstrument) and lists the hotspots.

Sizes (one section of the report each, run one after the other):
  BENCH_SIZES    comma list of presets or CUSTOMERSxMONTHS (default ``180k,1m``):
                   180k  = revledger generate --customers 25000 --months 24 --seed 2024
                   1m    = revledger generate --customers 110000 --months 36 --seed 2024
                   2500x24 = 2,500 customers over 24 months (any numbers)
  BENCH_EVENTS   comma list of approximate event counts (``20000`` or ``20k,100k``), each over
                 BENCH_MONTHS months (default 24), the customers scaled by a pilot; when set it
                 replaces BENCH_SIZES. For a quick run: ``BENCH_EVENTS=20000 make bench``.
  BENCH_SEED     the generator's seed (default 2024)
  Targets the issue sets "at 1M" (absolute wall times, peak RSS) are judged on sizes of at least
  900,000 events; the DuckDB target ("on the 180k file") on smaller ones; ratios on every size.

Environment:
  BENCH_DIR      working folder (default out/bench); each size works in BENCH_DIR/<size>/
                 (events.csv, ledger.db, ...)
  BENCH_REPORT   where to write the report (default docs/performance.md)
  BENCH_PROFILE  0 to skip profiling; PROFILE_EVENTS caps the profiled import, rebuild and
                 verify (default 100,000 events; 0 skips them)
  BENCH_STEPS    which steps to run (default all: generate,import,metrics,mrr,help,peer,append,
                 rebuild,verify,postgres); leaving out generate or import reuses the file or
                 ledger an earlier run left in BENCH_DIR/<size>/
  REVLEDGER_TEST_POSTGRES_URL  a PostgreSQL server for the postgres step (``source /tmp/pg.env``);
                 without it that row says "not run: no server". The step creates and drops its
                 own schemas (bench_*).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import platform
import random
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REVLEDGER = str(BIN / "revledger")
START = dt.date(2024, 1, 1)  # revledger generate's default first day
MiB = 1024 * 1024
MB = 1000 * 1000
AT_1M = 900_000  # a size this large is judged by the "at 1M" targets
PAGE = 5_000  # events per page in the raw reads (as the store's own pages)
APPENDED = 1_000  # events in the append file
CURRENT = 2**63 - 1  # known_to of a read-model row still in force (projections.versioning)
STEPS = ("generate", "import", "metrics", "mrr", "help", "peer", "append", "rebuild", "verify", "postgres")
PRESETS = {"180k": (25_000, 24), "1m": (110_000, 36)}
# Text after this line in the report is written by hand (what the figures mean) and kept by re-runs.
KEPT = "<!-- Below: written by hand, kept by make bench. -->"


# -- sizes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Size:
    """One benchmark size: ``customers`` over ``months`` (or about ``approx`` events, customers from a pilot)."""

    label: str
    customers: int | None
    months: int
    approx: int | None = None

    @property
    def end(self) -> dt.date:
        return month_end(START, self.months - 1)


def month_end(first: dt.date, months_after: int) -> dt.date:
    """The last day of the month ``months_after`` months after ``first``'s."""
    index = first.year * 12 + first.month - 1 + months_after + 1
    return dt.date(index // 12, index % 12 + 1, 1) - dt.timedelta(days=1)


def _count(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([km]?)", text.strip().lower().replace(",", "").replace("_", ""))
    if not match:
        raise SystemExit(f"benchmark: BENCH_EVENTS {text!r}: write counts like 20000, 20k or 1m")
    return int(Decimal(match[1]) * {"": 1, "k": 1000, "m": 1_000_000}[match[2]])


def _short(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else (f"{n // 1000}k" if n % 1000 == 0 else str(n))


def sizes_from(env: dict[str, str]) -> list[Size]:
    """The sizes BENCH_EVENTS or BENCH_SIZES ask for (see the module docstring)."""
    if env.get("BENCH_EVENTS", "").strip():
        months = int(env.get("BENCH_MONTHS", "24"))
        return [Size(_short(n) + "-events", None, months, n) for n in map(_count, env["BENCH_EVENTS"].split(",")) if n]
    sizes = []
    for name in env.get("BENCH_SIZES", "180k,1m").split(","):
        key = name.strip().lower()
        if not key:
            continue
        if key in PRESETS:
            sizes.append(Size(key, *PRESETS[key]))
        elif match := re.fullmatch(r"(\d+)x(\d+)", key):
            sizes.append(Size(key, int(match[1]), int(match[2])))
        else:
            raise SystemExit(f"benchmark: BENCH_SIZES {name!r}: one of {', '.join(PRESETS)} or CUSTOMERSxMONTHS (2500x24)")
    return sizes


# -- running commands -------------------------------------------------------------------------


@dataclass
class Run:
    """One command: its wall time, peak resident memory and output."""

    argv: list[str]
    seconds: float
    max_rss: int  # bytes
    cpu: float  # user + system seconds
    code: int
    stdout: str
    stderr: str


# Linux counts a child's peak RSS from the parent's size at fork (exec keeps the old mm's high-water
# mark), so a command started by this process, once it holds the DuckDB peer's data, would report this
# process's memory as its own. A small launcher, a new interpreter, forks the command and reports its
# wall time and rusage: the figures are the command's alone.
LAUNCHER = r"""
import json, os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
with open(sys.argv[1], "w") as handle:
    json.dump({"seconds": seconds, "max_rss": usage.ru_maxrss * 1024, "cpu": usage.ru_utime + usage.ru_stime,
               "code": os.waitstatus_to_exitcode(status)}, handle)
"""


def run(argv: list[str], *, check: bool = True) -> Run:
    """Run a command as a user would, timing it and reading its own peak RSS (through ``LAUNCHER``)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.NamedTemporaryFile("r", suffix=".json") as usage_file:
        launched = subprocess.run([sys.executable, "-c", LAUNCHER, usage_file.name, *argv], stdout=out, stderr=err, cwd=ROOT)
        if launched.returncode != 0:
            raise SystemExit(f"benchmark: the launcher failed ({launched.returncode}) for {shlex.join(argv)}")
        usage = json.load(open(usage_file.name))
        out.seek(0)
        err.seek(0)
        result = Run(argv, usage["seconds"], usage["max_rss"], usage["cpu"], usage["code"], out.read(), err.read())
    if check and result.code != 0:
        raise SystemExit(f"benchmark: {shlex.join(argv)} failed ({result.code}):\n{result.stderr}")
    return result


def best_of(argv: list[str], times: int = 3) -> Run:
    """The fastest of ``times`` runs after one that warms the file cache (just that one when it takes over 10 s)."""
    first = run(argv)
    if first.seconds > 10:
        return first
    return min((run(argv) for _ in range(times)), key=lambda r: r.seconds)


def best_in_process(call: Callable[[], object], times: int = 3) -> tuple[float, object]:
    """The fastest of ``times`` calls after a warm-up, and the last call's result."""
    result = call()
    seconds = []
    for _ in range(times):
        start = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - start)
    return min(seconds), result


def count_rows(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle) - 1


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def copy_db(source: Path, target: Path) -> None:
    """Copy a SQLite file no process has open, with its write-ahead log."""
    remove_db(target)
    for suffix in ("", "-wal"):
        if Path(str(source) + suffix).exists():
            shutil.copyfile(str(source) + suffix, str(target) + suffix)


# -- the raw limits ---------------------------------------------------------------------------


def json_rows(path: Path) -> Iterator[tuple[int, str, str]]:
    """The file's rows as the raw inserts write them: sequence, event_id, the row as compact JSON."""
    with open(path, newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=1):
            yield number, row["event_id"], json.dumps({k: v for k, v in row.items() if v}, sort_keys=True, separators=(",", ":"))


def raw_insert(path: Path, db: Path) -> tuple[float, float]:
    """The import's limit: read the CSV, JSON-encode each row, one executemany in one transaction."""
    remove_db(db)
    start, cpu = time.perf_counter(), time.process_time()
    connection = sqlite3.connect(db)
    connection.execute("CREATE TABLE events (sequence INTEGER PRIMARY KEY, event_id TEXT, record TEXT)")
    with connection:
        connection.executemany("INSERT INTO events VALUES (?, ?, ?)", json_rows(path))
    connection.close()
    return time.perf_counter() - start, time.process_time() - cpu


def stored_pages(ledger: Path) -> Iterator[list[tuple[int, bytes]]]:
    """Every stored event of a SQLite ledger, in pages of PAGE by sequence: (sequence, stored bytes)."""
    connection = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    try:
        after = 0
        while True:
            page = connection.execute(
                "SELECT originator_version, state FROM stored_events WHERE originator_version > ? "
                "ORDER BY originator_version LIMIT ?",
                (after, PAGE),
            ).fetchall()
            if not page:
                return
            yield page
            after = page[-1][0]
    finally:
        connection.close()


def raw_verify(ledger: Path) -> tuple[float, float, int]:
    """verify's limit: read every stored event in pages and SHA-256 its stored bytes."""
    start, cpu = time.perf_counter(), time.process_time()
    count = 0
    for page in stored_pages(ledger):
        for _, state in page:
            hashlib.sha256(state).digest()
            count += 1
    return time.perf_counter() - start, time.process_time() - cpu, count


def read_model_rows(projections: Path) -> dict[str, int]:
    """How many rows each table of the read models holds (every version counted)."""
    with sqlite3.connect(f"file:{projections}?mode=ro", uri=True) as connection:
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'tracking'")]
        return {t: connection.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def raw_rebuild(ledger: Path, rows: int, db: Path) -> tuple[float, float]:
    """rebuild's limit: read every stored event in pages, and one executemany of as many rows as the read models hold.

    Each row is (id, an event's stored bytes as text), the events taken in turn, so the rows written are
    about as wide as the read models' (their largest table keeps every event's record).
    """
    remove_db(db)
    start, cpu = time.perf_counter(), time.process_time()
    connection = sqlite3.connect(db)
    connection.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, record TEXT)")
    events = sum(1 for _ in stored_sequences(ledger))

    def generated() -> Iterator[tuple[int, str]]:
        written = 0
        for page in stored_pages(ledger):
            for sequence, state in page:
                text = state.decode()
                target = rows * sequence // events  # spread the rows evenly over the events
                while written < target:
                    written += 1
                    yield written, text

    with connection:
        connection.executemany("INSERT INTO rows VALUES (?, ?)", generated())
    connection.close()
    return time.perf_counter() - start, time.process_time() - cpu


def stored_sequences(ledger: Path) -> Iterator[int]:
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as connection:
        yield from (r[0] for r in connection.execute("SELECT originator_version FROM stored_events"))


# -- the append file --------------------------------------------------------------------------


def write_append_file(path: Path, size: Size, seed: int) -> int:
    """APPENDED valid events for new customers, in the generated file's columns: arrivals and upsells inside the history.

    Each of 400 new customers arrives (customer_updated + subscription_started on a seat plan) on a day of
    the history; 200 of them later buy more seats (an upsell, still inside the history).
    """
    from cli.synthetic import COLUMNS

    rng = random.Random(seed)
    first, last = START.toordinal(), size.end.toordinal()
    rows: list[dict[str, str]] = []
    arrivals, upsells = 400, APPENDED - 2 * 400
    for n in range(1, arrivals + 1):
        cid = f"N{n:06d}"
        day = rng.randint(first, last - 60)
        quantity = rng.randint(2, 40)
        rows.append({"event_id": f"{cid}-001", "type": "customer_updated", "customer_id": cid,
                     "effective_date": dt.date.fromordinal(day).isoformat(), "customer_name": f"Newco {n}",
                     "segment": rng.choice(("SMB", "Mid-Market")), "channel": "sales", "region": rng.choice(("NA", "EMEA")),
                     "attr.industry": "software"})
        rows.append({"event_id": f"{cid}-002", "type": "subscription_started", "customer_id": cid,
                     "effective_date": dt.date.fromordinal(day).isoformat(), "subscription_id": "main", "plan": "growth",
                     "quantity": str(quantity), "unit_price": "40.00"})
        if n <= upsells:
            later = rng.randint(day + 1, min(last, day + 365))
            rows.append({"event_id": f"{cid}-003", "type": "upsell", "customer_id": cid,
                         "effective_date": dt.date.fromordinal(later).isoformat(), "subscription_id": "main",
                         "quantity": str(quantity + rng.randint(1, 10)), "reason": "expansion"})
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


# -- the analyst's DuckDB peer ----------------------------------------------------------------

# The month-level bridge an analyst writes over customer MRR intervals: each customer's MRR at
# each month end, compared with the month end before; reactivation when the customer had MRR at
# an earlier month end. {first} and {stop} are the range's first day and the day after it.
PEER_SQL = """
WITH months AS (
  SELECT m::DATE AS month_start, (m + INTERVAL 1 MONTH - INTERVAL 1 DAY)::DATE AS month_end
  FROM range(DATE '{first}' - INTERVAL 1 MONTH, DATE '{stop}', INTERVAL 1 MONTH) AS t(m)
),
snapshots AS (
  SELECT i.customer_id, mo.month_start, i.mrr_cents
  FROM intervals i JOIN months mo
    ON i.valid_from <= mo.month_end AND (i.valid_to IS NULL OR i.valid_to > mo.month_end)
),
firsts AS (SELECT customer_id, min(month_start) AS first_month FROM snapshots GROUP BY customer_id),
pairs AS (
  SELECT coalesce(c.customer_id, p.customer_id) AS customer_id,
         coalesce(c.month_start, p.next_month) AS month_start,
         coalesce(p.mrr_cents, 0) AS opening, coalesce(c.mrr_cents, 0) AS closing
  FROM snapshots c FULL OUTER JOIN
       (SELECT customer_id, (month_start + INTERVAL 1 MONTH)::DATE AS next_month, mrr_cents FROM snapshots) p
    ON c.customer_id = p.customer_id AND c.month_start = p.next_month
)
SELECT mo.month_start,
  coalesce(sum(opening), 0) AS opening,
  coalesce(sum(CASE WHEN opening = 0 AND closing > 0 AND pairs.month_start = first_month THEN closing END), 0) AS new,
  coalesce(sum(CASE WHEN opening > 0 AND closing > opening THEN closing - opening END), 0) AS expansion,
  coalesce(sum(CASE WHEN opening > 0 AND closing > 0 AND closing < opening THEN opening - closing END), 0) AS contraction,
  coalesce(sum(CASE WHEN opening > 0 AND closing = 0 THEN opening END), 0) AS churn,
  coalesce(sum(CASE WHEN opening = 0 AND closing > 0 AND pairs.month_start > first_month THEN closing END), 0) AS reactivation,
  coalesce(sum(closing), 0) AS closing
FROM months mo
LEFT JOIN pairs ON pairs.month_start = mo.month_start
LEFT JOIN firsts USING (customer_id)
WHERE mo.month_start >= DATE '{first}'
GROUP BY mo.month_start
ORDER BY mo.month_start
"""
BRIDGE = ("opening", "new", "expansion", "contraction", "churn", "reactivation", "closing")


def export_intervals(projections: Path, target: Path) -> int:
    """Customer MRR intervals (customer_id, valid_from, valid_to, mrr_cents) from the read model's current day movements.

    A day movement's to_cents is the customer's MRR from its date until the next movement's (exclusive);
    intervals of zero MRR are left out.
    """
    with sqlite3.connect(f"file:{projections}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            f"SELECT customer_id, date, to_cents FROM movements WHERE grain = 0 AND known_to = {CURRENT} ORDER BY customer_id, date"
        ).fetchall()
    count = 0
    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("customer_id", "valid_from", "valid_to", "mrr_cents"))
        for i, (customer, day, cents) in enumerate(rows):
            following = rows[i + 1][1] if i + 1 < len(rows) and rows[i + 1][0] == customer else ""
            if cents:
                writer.writerow((customer, day, following, cents))
                count += 1
    return count


def load_peer(intervals_csv: Path, database: Path) -> None:
    import duckdb

    database.unlink(missing_ok=True)
    con = duckdb.connect(str(database))
    con.execute(
        "CREATE TABLE intervals AS SELECT * FROM read_csv(?, header = true, nullstr = '', columns = "
        "{'customer_id': 'VARCHAR', 'valid_from': 'DATE', 'valid_to': 'DATE', 'mrr_cents': 'BIGINT'})",
        [str(intervals_csv)],
    )
    con.close()


def peer_sql(size: Size) -> str:
    return PEER_SQL.format(first=START.isoformat(), stop=(size.end + dt.timedelta(days=1)).isoformat())


def cents(text: str) -> int:
    return int(Decimal(text) * 100)


def revledger_bridge(metrics_json: str) -> list[tuple]:
    """(month, opening, new, expansion, contraction, churn, reactivation, closing) in cents from `metrics --format json`."""
    rows = []
    for p in json.loads(metrics_json)["periods"]:
        b = p["bridge"]
        rows.append((p["start"], cents(p["opening_mrr"]), *(cents(b[k]) for k in BRIDGE[1:-1]), cents(p["closing_mrr"])))
    return rows


# -- machine ----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True).stdout
    versions = []
    for name in ("duckdb", "psycopg", "pyinstrument"):
        try:
            versions.append(f"{name} {__import__(name).__version__}")
        except ImportError:
            versions.append(f"{name} not installed")
    return {
        "cpus": str(os.cpu_count()),
        "model": model,
        "memory": memory,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "libraries": ", ".join(versions),
        "system": f"{platform.system()} {platform.release()}",
        "commit": (commit or "unknown") + (" (with uncommitted changes)" if dirty.strip() else ""),
    }


# -- profiling --------------------------------------------------------------------------------


def profile_child(report: str, argv: list[str]) -> None:
    """In a child process: run revledger in-process under pyinstrument and write its hotspots as JSON."""
    from pyinstrument import Profiler

    from cli.app import app

    profiler = Profiler(interval=0.001)
    profiler.start()
    try:
        app(argv, prog_name="revledger", standalone_mode=False)
    finally:
        profiler.stop()
    session = profiler.last_session
    root = session.root_frame()
    total = root.time if root is not None else 0.0
    own: dict[str, float] = {}
    inclusive: dict[str, float] = {}

    def walk(frame, stack: frozenset[str]) -> None:
        where = frame.file_path or ""
        name = f"{frame.function} ({frame.file_path_short}:{frame.line_no})" if where else frame.function
        real = [child for child in frame.children if not child.is_synthetic]
        own[name] = own.get(name, 0.0) + frame.time - sum(child.time for child in real)
        if name not in stack and where.startswith(str(ROOT)) and "/.venv/" not in where and not where.endswith("benchmark.py"):
            inclusive[name] = inclusive.get(name, 0.0) + frame.time  # revledger's own functions, a recursion once
        for child in real:
            walk(child, stack | {name})

    if root is not None:
        walk(root, frozenset())
    top = lambda d: sorted(((v / total if total else 0.0, k) for k, v in d.items()), reverse=True)[:40]  # noqa: E731
    Path(report).write_text(json.dumps({"seconds": total, "self": top(own), "inclusive": top(inclusive)}))


def profile(argv: list[str]) -> dict | None:
    """Hotspots of one revledger command, or None when pyinstrument is not installed."""
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        return None
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        report = handle.name
    try:
        run([sys.executable, __file__, "--profile-child", report, "--", *argv])
        return json.loads(Path(report).read_text())
    finally:
        Path(report).unlink(missing_ok=True)


def import_times(argv_tail: list[str]) -> list[tuple[float, str]]:
    """Where interpreter start goes (python -X importtime): own import time summed per top-level package."""
    code = f"import sys; sys.argv = ['revledger', *{argv_tail!r}]; from cli.app import main; main()"
    result = run([sys.executable, "-X", "importtime", "-c", code], check=False)
    per_package: dict[str, float] = {}
    for line in result.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        package = parts[2].strip().split(".")[0]
        per_package[package] = per_package.get(package, 0.0) + int(parts[0]) / 1e6
    total = sum(per_package.values())
    return [(total, "all imports")] + sorted(((v, k) for k, v in per_package.items()), reverse=True)[:12]


# -- the benchmark ----------------------------------------------------------------------------

# How to profile a figure that missed: a title and a function that prepares what it needs and returns
# revledger's argv (without the program), or None when it cannot be profiled.
Profiled = tuple[str, Callable[[], "list[str] | None"]]


@dataclass
class Figure:
    name: str
    target: str
    measured: str
    met: bool | None  # None: not judged here (see ``why``)
    why: str = ""  # why not judged: not run, or the target is for another size
    profile: Profiled | None = None


@dataclass
class SizeResults:
    size: Size
    events: int = 0
    customers: int = 0
    commands: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    profiles: list[tuple[str, dict]] = field(default_factory=list)
    startup: list[tuple[float, str]] = field(default_factory=list)

    def judged(self, at_1m: bool, ok: bool) -> tuple[bool | None, str]:
        """A target the issue sets at 1M: judged only on a size that large."""
        return (ok, "") if self.events >= AT_1M or not at_1m else (None, "target at 1M")


def cmd(*args: str) -> list[str]:
    return [REVLEDGER, *args]


def shown(argv: list[str]) -> str:
    text = shlex.join(argv)
    return text.replace(str(ROOT) + "/", "").replace(REVLEDGER, "revledger").replace(sys.executable, "python")


def wall(r: Run) -> str:
    return f"{r.seconds:.2f} s (CPU {r.cpu:.2f} s)"


def benchmark_size(size: Size, work: Path, steps: list[str], profiling: bool, seed: int, res: SizeResults, save) -> None:
    """Every figure of one size, in the order that reuses what each step leaves (see the module docstring)."""
    from cli.synthetic import generate

    work.mkdir(parents=True, exist_ok=True)
    log = res.commands.append
    figure = res.figures.append
    events_file, db = work / "events.csv", work / "ledger.db"
    projections = work / "ledger.projections.db"
    first, last = START.isoformat(), size.end.isoformat()
    month = month_end(START, max(0, size.months - 7))  # the explained month: half a year before the end
    month_first = month.replace(day=1).isoformat()
    (work / "profile-events.csv").unlink(missing_ok=True)  # profiles start from this run's file
    remove_db(work / "profile.db")
    remove_db(work / "profile.projections.db")

    # -- generate
    if "generate" in steps:
        customers = size.customers
        if customers is None:
            pilot = sum(1 for _ in generate(2000, size.months, seed))
            customers = max(1, round(size.approx * 2000 / pilot))
        argv = cmd("generate", "--customers", str(customers), "--months", str(size.months), "--seed", str(seed), "--out", str(events_file))
        generated = run(argv)
        log(shown(argv))
        events = count_rows(events_file)
        res.details.append(
            f"`generate` wrote {events:,} events for {customers:,} customers over {size.months} months "
            f"({events_file.stat().st_size / MiB:,.0f} MiB) in {generated.seconds:.1f} s, peak RSS {generated.max_rss / MiB:,.0f} MiB."
        )
    else:
        if not events_file.exists():
            raise SystemExit(f"benchmark: BENCH_STEPS leaves out generate, but there is no {events_file}")
        with open(events_file, newline="", encoding="utf-8") as handle:
            customers = len({row["customer_id"] for row in csv.DictReader(handle)})
        events = count_rows(events_file)
        res.details.append(f"Reused {events_file} from an earlier run (BENCH_STEPS={','.join(steps)}).")
    res.events, res.customers = events, customers
    save()

    # -- import, against the raw insert measured just before it
    def prefix_file() -> Path:
        """The first PROFILE_EVENTS events (a prefix of a file in recording order is valid on its own)."""
        return write_prefix(events_file, work / "profile-events.csv")

    def profile_db() -> list[str]:
        """A ledger of the prefix, for profiling rebuild and verify."""
        target = work / "profile.db"
        if not target.exists():
            remove_db(work / "profile.projections.db")
            run(cmd("--db", str(target), "init", "--currency", "USD"))
            run(cmd("--db", str(target), "import", str(prefix_file())))
        return ["--db", str(target)]

    def profile_import() -> list[str] | None:
        if profile_cap() <= 0:
            return None
        target = work / "profile-import.db"
        for path in (target, work / "profile-import.projections.db"):
            remove_db(path)
        run(cmd("--db", str(target), "init", "--currency", "USD"))
        return ["--db", str(target), "import", str(prefix_file())]

    prefix_title = f"the first {min(events, profile_cap()):,} events"
    if "import" in steps:
        raw_seconds, raw_cpu = raw_insert(events_file, work / "raw.db")  # just before the import, on the same file cache
        raw_rate = events / raw_seconds
        log(f"# python: the raw insert: json.dumps of each of the {events:,} rows, one sqlite3 executemany in one transaction "
            "(tests/benchmark.py raw_insert)")
        for path in (db, projections):
            remove_db(path)
        argv = cmd("--db", str(db), "init", "--currency", "USD")
        run(argv)
        log(shown(argv))
        argv = cmd("--db", str(db), "import", str(events_file))
        imported = run(argv)
        log(shown(argv))
        ratio = raw_seconds / imported.seconds
        figure(Figure(
            "`import` end to end vs raw sqlite3 insert", "≥ 0.30 of raw (aim 0.35)",
            f"**{ratio:.2f}** of raw: {events / imported.seconds:,.0f} events/s, {wall(imported)}; raw {raw_rate:,.0f} events/s "
            f"({raw_seconds:.2f} s, CPU {raw_cpu:.2f} s)",
            ratio >= 0.30, profile=(f"`import` of {prefix_title}", profile_import),
        ))
        met, why = res.judged(True, imported.max_rss <= 500 * MB)
        figure(Figure("peak RSS of `import`", "≤ 500 MB at 1M", f"{imported.max_rss / MB:,.0f} MB", met, why,
                      profile=(f"`import` of {prefix_title}", profile_import)))
        save()
    elif not db.exists():
        raise SystemExit(f"benchmark: BENCH_STEPS leaves out import, but there is no ledger at {db}")
    else:
        res.details.append(f"Reused the ledger {db}, imported by an earlier run.")
    with sqlite3.connect(f"file:{projections}?mode=ro", uri=True) as connection:
        import_end = connection.execute(
            "SELECT recorded_at FROM events WHERE append_last = sequence ORDER BY sequence DESC LIMIT 1"
        ).fetchone()[0]

    # -- queries on the imported ledger
    metrics_argv = cmd("--db", str(db), "metrics", "--from", first, "--to", last, "--format", "json")
    metrics_run: Run | None = None

    def query(name: str, target: str, argv: list[str], limit: float, at_1m: bool, title: str | None = None) -> Run:
        r = best_of(argv)
        log(shown(argv))
        met, why = res.judged(at_1m, r.seconds <= limit)
        figure(Figure(name, target, wall(r), met, why, profile=(title or name, lambda: argv[1:])))
        save()
        return r

    if "metrics" in steps:
        metrics_run = query(f"`metrics` {size.months} months (wall, incl. process start)", "≤ 1 s at 1M", metrics_argv, 1.0, True,
                            title=f"`metrics` {size.months} months")
        query("`metrics --by segment`", "≤ 1.5 s at 1M", [*metrics_argv, "--by", "segment"], 1.5, True)
        query("`cohorts`", "≤ 1 s at 1M", cmd("--db", str(db), "cohorts", "--from", first, "--to", last, "--format", "json"), 1.0, True)
        query(f"`explain bridge.expansion`, one month ({month:%Y-%m})", "≤ 0.5 s at 1M",
              cmd("--db", str(db), "explain", "bridge.expansion", "--from", month_first, "--to", month.isoformat(), "--format", "json"),
              0.5, True)
    if "mrr" in steps:
        query("`mrr --as-of`", "≤ 0.3 s", cmd("--db", str(db), "mrr", "--as-of", last), 0.3, False)
    if "help" in steps:
        query("`revledger --help`", "≤ 0.25 s", cmd("--help"), 0.25, False)
        bare = best_of([sys.executable, "-c", "pass"])
        res.details.append(f"A bare `python -c pass` takes {wall(bare)} on this machine: the floor of any command.")

    # -- the analyst's DuckDB peer
    if "peer" in steps:
        peer(size, work, projections, metrics_argv, metrics_run, res, save)

    # -- append 1,000 events to a copy of the ledger; --known-at on it, as known before the append
    if "append" in steps:
        append_file = work / "append.csv"
        written = write_append_file(append_file, size, seed)
        log(f"# python: {written:,} events for 400 new customers (arrivals and upsells inside the history) written to "
            f"{shown([str(append_file)])} (tests/benchmark.py write_append_file); the ledger copied to append.db")
        copy_db(db, work / "append.db")
        copy_db(projections, work / "append.projections.db")

        def profile_append() -> list[str]:
            copy_db(db, work / "append-profile.db")
            copy_db(projections, work / "append-profile.projections.db")
            return ["--db", str(work / "append-profile.db"), "import", str(append_file)]

        argv = cmd("--db", str(work / "append.db"), "import", str(append_file))
        appended = run(argv)
        log(shown(argv))
        ok = f"appended {written} events" in appended.stdout
        met, why = res.judged(True, appended.seconds <= 2.0)
        figure(Figure(
            f"append {written:,} events (new customers) to the {events:,}-event ledger", "≤ 2 s wall at 1M",
            wall(appended) + ("" if ok else f"; **did not append {written} events**: {appended.stdout.strip()}"),
            (met and ok) if met is not None else None, why, profile=("append of 1,000 events", profile_append),
        ))
        save()
        if "metrics" in steps and metrics_run is not None:
            plain_argv = cmd("--db", str(work / "append.db"), "metrics", "--from", first, "--to", last, "--format", "json")
            known_argv = [*plain_argv, "--known-at", import_end]
            plain = best_of(plain_argv)
            log(shown(plain_argv))
            known = best_of(known_argv)
            log(shown(known_argv))
            ratio = known.seconds / plain.seconds
            same = known.stdout == metrics_run.stdout
            figure(Figure(
                "`metrics --known-at` the import's end, on the ledger after the append", "≤ 1.5× `metrics` on it",
                f"**{ratio:.2f}×**: {wall(known)}; plain `metrics` {wall(plain)}; answer "
                + ("identical to `metrics` before the append" if same else "**differs from `metrics` before the append**"),
                ratio <= 1.5 and same, profile=("`metrics --known-at` (as known before the append)", lambda: known_argv[1:]),
            ))
            save()
    elif "metrics" in steps:
        figure(Figure("`metrics --known-at`", "≤ 1.5× `metrics`", "not run: needs the append step", None, "not run"))

    # -- rebuild and verify, against raw reads of the stored events
    def profile_prefix(command: str) -> Callable[[], list[str] | None]:
        return lambda: [*profile_db(), command] if profile_cap() > 0 else None

    if "rebuild" in steps:
        argv = cmd("--db", str(db), "rebuild")
        rebuilt = run(argv)
        log(shown(argv))
        tables = read_model_rows(projections)
        rows = sum(tables.values())
        raw_seconds, raw_cpu = raw_rebuild(db, rows, work / "raw-rebuild.db")
        log(f"# python: the raw rebuild: read the {events:,} stored events in pages of {PAGE:,}, one sqlite3 executemany of "
            f"{rows:,} rows (tests/benchmark.py raw_rebuild)")
        ratio = raw_seconds / rebuilt.seconds
        figure(Figure(
            "`rebuild` vs raw (read the log in pages + write as many rows)", "≥ 0.5 of raw",
            f"**{ratio:.2f}** of raw: {events / rebuilt.seconds:,.0f} events/s, {wall(rebuilt)}, peak RSS {rebuilt.max_rss / MB:,.0f} MB; "
            f"raw {raw_seconds:.2f} s (CPU {raw_cpu:.2f} s)",
            ratio >= 0.5, profile=(f"`rebuild` of {prefix_title}", profile_prefix("rebuild")),
        ))
        res.details.append(
            f"After `rebuild` the read models hold {rows:,} rows ({', '.join(f'{t} {n:,}' for t, n in sorted(tables.items()))}): "
            "the raw rebuild writes that many rows."
        )
        save()
    if "verify" in steps:
        argv = cmd("--db", str(db), "verify")
        verified = run(argv, check=False)
        log(shown(argv))
        raw_seconds, raw_cpu, count = raw_verify(db)
        log(f"# python: the raw verify: read the {count:,} stored events in pages of {PAGE:,} and SHA-256 each one's stored bytes "
            "(tests/benchmark.py raw_verify)")
        ratio = raw_seconds / verified.seconds
        passed = verified.code == 0
        outcome = "" if passed else f"; **verify failed ({verified.code})**: {(verified.stdout + verified.stderr).strip()[-300:]}"
        figure(Figure(
            "`verify` vs raw (read the log in pages + SHA-256)", "≥ 0.5 of raw",
            f"**{ratio:.2f}** of raw: {wall(verified)}; raw {raw_seconds:.2f} s (CPU {raw_cpu:.2f} s){outcome}",
            ratio >= 0.5 and passed, profile=(f"`verify` of {prefix_title}", profile_prefix("verify")),
        ))
        met, why = res.judged(True, verified.max_rss <= 300 * MB)
        figure(Figure("peak RSS of `verify`", "≤ 300 MB at 1M", f"{verified.max_rss / MB:,.0f} MB", met, why,
                      profile=(f"`verify` of {prefix_title}", profile_prefix("verify"))))
        save()

    if "postgres" in steps:
        postgres(events_file, events, work, res, save)

    if profiling:
        profile_missed(res, save)


def peer(size: Size, work: Path, projections: Path, metrics_argv: list[str], metrics_run: Run | None, res: SizeResults, save) -> None:
    """The month-level bridge in DuckDB SQL over customer MRR intervals, timed beside `metrics` and checked against it."""
    figure = res.figures.append
    try:
        import duckdb
    except ImportError:
        figure(Figure(f"`metrics` {size.months} months vs the DuckDB peer", "≤ the peer's query time",
                      "not run: duckdb is not installed (pip install -e '.[bench]')", None, "not run"))
        return
    intervals_csv, database = work / "intervals.csv", work / "peer.duckdb"
    count = export_intervals(projections, intervals_csv)
    load_peer(intervals_csv, database)
    res.commands.append(
        f"# python: {count:,} customer MRR intervals exported from the read model's current day movements to "
        f"{shown([str(intervals_csv)])} and loaded into {shown([str(database)])} (not timed; tests/benchmark.py export_intervals)"
    )
    sql = peer_sql(size)
    con = duckdb.connect(str(database), read_only=True)
    seconds, bridge = best_in_process(lambda: con.execute(sql).fetchall())
    con.close()
    res.commands.append("# python: duckdb, best of 3 after a warm-up, the query PEER_SQL in tests/benchmark.py, in-process")
    code = f"import duckdb; duckdb.connect({str(database)!r}, read_only=True).execute({sql!r}).fetchall()"
    cold = best_of([sys.executable, "-c", code])
    res.details.append(
        f"The DuckDB peer (duckdb {duckdb.__version__}) answers the {size.months}-month bridge over {count:,} intervals in "
        f"{seconds * 1000:.0f} ms in-process (the time the target compares with), {wall(cold)} as a new `python -c` process "
        "that imports duckdb and opens the file."
    )
    if metrics_run is None:
        metrics_run = run(metrics_argv)
    theirs = revledger_bridge(metrics_run.stdout)
    peer_rows = [(r[0].isoformat(), *r[1:]) for r in bridge]
    closing_diff = [(a[0], a[-1], b[-1]) for a, b in zip(peer_rows, theirs) if a[0] != b[0] or a[-1] != b[-1]]
    if len(peer_rows) != len(theirs):
        closing_diff.append(("months", len(peer_rows), len(theirs)))
    figure(Figure(
        "the DuckDB peer's closing MRR = revledger `metrics`'", "equal in every month",
        "equal in all {} months".format(len(theirs)) if not closing_diff else
        "**differs**: " + "; ".join(f"{m}: peer {p}, revledger {r} (cents)" for m, p, r in closing_diff[:6]),
        not closing_diff,
    ))
    inside = metrics_in_process(metrics_argv)
    res.commands.append("# python: projections.metrics.metrics_report on the same ledger and range, best of 3 after a "
                        "warm-up, in-process (tests/benchmark.py metrics_in_process)")
    met, why = (inside <= seconds, "") if res.events < AT_1M else (None, "target on the 180k file")
    if closing_diff:
        met, why = None, "not judged: the peer's answer differs"
    figure(Figure(
        f"`metrics` {size.months} months vs the DuckDB peer's query, both in-process", "≤ the peer's query time (on the 180k file)",
        f"**{inside / seconds:.2f}×** the peer: revledger {inside * 1000:.0f} ms, peer {seconds * 1000:.0f} ms",
        met, why, profile=(f"`metrics` {size.months} months", lambda: metrics_argv[1:]),
    ))
    figure(Figure(
        f"`metrics` {size.months} months as a command vs the DuckDB peer's query", "(for reading: includes process start)",
        f"{metrics_run.seconds / seconds:.1f}× the peer: `metrics` {wall(metrics_run)}; peer {seconds * 1000:.0f} ms",
        None, "not a target: the peer's time has no process start",
    ))
    # The peer nets each month (month-end against month-end); revledger's default classifies day movements,
    # so only the closing must agree. Under movement_grain=month every figure must.
    month_argv = [*metrics_argv, "--policy", "movement_grain=month"]
    monthly = revledger_bridge(run(month_argv).stdout)
    res.commands.append(shown(month_argv) + "   # not timed: the peer's check, figure by figure")
    wrong = [(a, b) for a, b in zip(peer_rows, monthly) if a != b] + ([("months", "")] if len(monthly) != len(peer_rows) else [])
    day_diff = sum(1 for a, b in zip(peer_rows, theirs) if a[1:-1] != b[1:-1])
    res.details.append(
        "The peer nets each customer's month (month-end MRR against the month end before), which is revledger's "
        "`movement_grain=month`: " + (
            f"every figure of all {len(monthly)} months ({', '.join(BRIDGE)}) equals `metrics --policy movement_grain=month`."
            if not wrong else f"**{len(wrong)} months differ from `metrics --policy movement_grain=month`**, e.g. peer {wrong[0][0]}, "
            f"revledger {wrong[0][1]}."
        ) + f" Against the default day grain (what `metrics` timed above computes) the closing agrees and the components differ in "
        f"{day_diff} of {len(theirs)} months, as they should: within a month a day-grain bridge counts each movement."
    )
    save()


def metrics_in_process(argv: list[str]) -> float:
    """``metrics_report`` for the command line's ledger and range, timed as the peer is: in-process, best of 3."""
    from ledger.location import open_store
    from projections.metrics import metrics_report
    from projections.periods import parse_range
    from projections.queries import knowledge
    from projections.readmodel import ReadModel, default_path

    db = argv[argv.index("--db") + 1]
    start, end = parse_range(argv[argv.index("--from") + 1], argv[argv.index("--to") + 1])
    store = open_store(db)
    rm = ReadModel(default_path(db), store)
    try:
        known = knowledge(rm, None)
        seconds, _ = best_in_process(lambda: metrics_report(rm, start, end, known))
    finally:
        rm.close()
        store.close()
    return seconds


def postgres(events_file: Path, events: int, work: Path, res: SizeResults, save) -> None:
    """revledger's import into PostgreSQL beside one psycopg executemany of the same rows, only with a server."""
    name, target = "PostgreSQL `import` vs raw psycopg executemany", "≥ 0.25 of raw"
    url = os.environ.get("REVLEDGER_TEST_POSTGRES_URL", "").strip()
    if not url:
        res.figures.append(Figure(name, target, "not run: no server (REVLEDGER_TEST_POSTGRES_URL is not set)", None, "not run"))
        save()
        return
    import psycopg
    from psycopg import sql as pgsql

    tag = f"bench_{os.getpid()}_{res.size.label.replace('-', '_')}"
    schemas = (tag, tag + "_raw", tag + "_profile")
    joined = "&" if "?" in url else "?"
    ledger_url = f"{url}{joined}schema={tag}"
    cache = work / "pg.projections.db"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(pgsql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(pgsql.Identifier(schema)))
            conn.execute(pgsql.SQL("CREATE SCHEMA {}").format(pgsql.Identifier(tag + "_raw")))
            table = pgsql.Identifier(tag + "_raw", "events")
            conn.execute(pgsql.SQL("CREATE TABLE {} (sequence BIGINT PRIMARY KEY, event_id TEXT, record TEXT)").format(table))
        start, cpu = time.perf_counter(), time.process_time()
        with psycopg.connect(url) as conn:  # one transaction, committed on leaving
            with conn.cursor() as cur:
                cur.executemany(pgsql.SQL("INSERT INTO {} VALUES (%s, %s, %s)").format(table), json_rows(events_file))
        raw_seconds, raw_cpu = time.perf_counter() - start, time.process_time() - cpu
        res.commands.append(f"# python: the raw PostgreSQL insert: json.dumps of each of the {events:,} rows, one psycopg executemany "
                            f"in one transaction into {tag}_raw.events (tests/benchmark.py postgres)")
        remove_db(cache)
        base = ["--db", ledger_url, "--cache", str(cache)]
        run(cmd(*base, "init", "--currency", "USD"))
        res.commands.append(shown(cmd(*base, "init", "--currency", "USD")))
        argv = cmd(*base, "import", str(events_file))
        imported = run(argv)
        res.commands.append(shown(argv))
        ratio = raw_seconds / imported.seconds

        def profile_pg() -> list[str] | None:
            if profile_cap() <= 0:
                return None
            prefix = write_prefix(events_file, work / "profile-events.csv")
            profile_cache = work / "pg-profile.projections.db"
            remove_db(profile_cache)
            other = ["--db", f"{url}{joined}schema={tag}_profile", "--cache", str(profile_cache)]
            run(cmd(*other, "init", "--currency", "USD"))
            return [*other, "import", str(prefix)]

        res.figures.append(Figure(
            name, target,
            f"**{ratio:.2f}** of raw: {events / imported.seconds:,.0f} events/s, {wall(imported)}; raw {events / raw_seconds:,.0f} "
            f"events/s ({raw_seconds:.2f} s, CPU {raw_cpu:.2f} s)",
            ratio >= 0.25, profile=(f"PostgreSQL `import` of the first {min(events, profile_cap()):,} events", profile_pg),
        ))
        res.details.append("PostgreSQL: the server of REVLEDGER_TEST_POSTGRES_URL on this machine; the raw insert and the import "
                           "each write into a schema of their own, dropped after the run.")
        save()
        if os.environ.get("BENCH_PROFILE", "1") != "0":
            profile_missed(res, save, only=name)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(pgsql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(pgsql.Identifier(schema)))


def profile_cap() -> int:
    return int(os.environ.get("PROFILE_EVENTS", "100000"))


def write_prefix(events_file: Path, prefix: Path) -> Path:
    """The first profile_cap() events of the file (once), for the profiles of the slow commands."""
    if not prefix.exists():
        with open(events_file, encoding="utf-8") as source, open(prefix, "w", encoding="utf-8") as out:
            for number, line in enumerate(source):
                if number > profile_cap():
                    break
                out.write(line)
    return prefix


def profile_missed(res: SizeResults, save, only: str | None = None) -> None:
    """Profile each command whose figure missed its target (once per command), quick ones first."""
    done = {title for title, _ in res.profiles}
    if res.startup:
        done.add("startup")
    missed = [f for f in res.figures if f.met is False and f.profile and (only is None or f.name == only)]
    if only is None:
        missed = [f for f in missed if not f.name.startswith("PostgreSQL")]  # profiled while its schemas exist
    slow = ("`import`", "`rebuild`", "`verify`", "PostgreSQL", "append")
    missed.sort(key=lambda f: any(word in f.profile[0] for word in slow))
    for f in missed:
        title, prepare = f.profile
        if title in done:
            continue
        done.add(title)
        argv = prepare()
        if argv is None:
            continue
        found = profile(argv)
        if found:
            res.profiles.append((title, found))
            save()
    if only is None and "startup" not in done and any(f.met is False and f.name.startswith(("`mrr", "`revledger")) for f in res.figures):
        res.startup = import_times(["--help"])
        save()


# -- the report -------------------------------------------------------------------------------


def met_text(f: Figure) -> str:
    if f.met is None:
        return f"— ({f.why})" if f.why else "—"
    return "yes" if f.met else "**no**"


def report(all_results: list[SizeResults], info: dict[str, str], started: dt.datetime, elapsed: float, invocation: str) -> str:
    lines = [
        "# Performance",
        "",
        "Written by `make bench` (`tests/benchmark.py`); re-run it to refresh every figure here.",
        "Targets are those of issue 11, for a 2-core machine like CI's. Every ratio compares two things measured",
        "in the same run, one after the other.",
        "",
        "## Machine",
        "",
        f"- {info['cpus']} CPUs: {info['model']}",
        f"- RAM: {info['memory']}",
        f"- {info['system']}; Python {info['python']}; SQLite {info['sqlite']}; {info['libraries']}",
        f"- revledger commit {info['commit']}",
        f"- run {started:%Y-%m-%d %H:%M} UTC, {elapsed / 60:.1f} minutes in all, as `{invocation}`",
        f"- load average (1 min) {info['load_before']} at the start, {info['load_after']} at the end: "
        "a load above the CPU count means other work shared the machine and wall times are inflated "
        "(the CPU times are not)",
        "",
        "## How each figure is measured",
        "",
        "- Wall times include interpreter start. Queries: the fastest of 3 runs after one warm-up. `import`, the append,",
        "  `rebuild` and `verify`: one run each. Peak RSS is the command's own `ru_maxrss`, read by a small launcher that",
        "  forks it (a command forked by the benchmark itself would inherit the benchmark's size in its peak).",
        "- A ratio *of raw* is the raw time divided by revledger's, so 1.00 would be as fast as the raw step:",
        "  - `import`: **raw** = read the same CSV, `json.dumps` each row and insert them into a `(sequence, event_id, record)`",
        "    table with one `sqlite3` `executemany` in one transaction, in-process: no validation, hash chain or projections.",
        "  - `rebuild`: **raw** = read every stored event of the ledger in pages of 5,000, and insert as many rows as the",
        "    rebuilt read models hold (every table, every version; each row an event's stored bytes) with one `executemany`.",
        "  - `verify`: **raw** = read every stored event in pages of 5,000 and SHA-256 its stored bytes.",
        "  - PostgreSQL `import`: **raw** = the import's raw rows, one `psycopg` `executemany` in one transaction on the same server.",
        "- The append: 1,000 events for 400 new customers (arrivals on a seat plan, 200 upsells), dated inside the",
        "  history, imported into a copy of the ledger. `--known-at` is then asked on that copy for the instant the",
        "  first import ended, a real knowledge point with all its data (the middle of one import is not one: an",
        "  append is known whole or not at all), and compared with plain `metrics` on the same copy.",
        "- The DuckDB peer: customer MRR intervals `(customer_id, valid_from, valid_to, mrr_cents)` exported once (not",
        "  timed) from the read model's current day movements, and the month-level bridge (opening, new, expansion,",
        "  contraction, churn, reactivation, closing per month) written in DuckDB SQL over them (`PEER_SQL` in",
        "  `tests/benchmark.py`), timed in-process on the DuckDB file. Its closing MRR must equal revledger's each month.",
        "",
    ]
    lines += ["## Summary", "", "| size | events | met | missed | not run | not judged here |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for res in all_results:
        met = sum(1 for f in res.figures if f.met)
        missed = sum(1 for f in res.figures if f.met is False)
        not_run = sum(1 for f in res.figures if f.met is None and f.why.startswith("not run"))
        lines.append(f"| {res.size.label} | {res.events:,} | {met} | {missed} | {not_run} | {len(res.figures) - met - missed - not_run} |")
    lines.append("")
    for res in all_results:
        size = res.size
        lines += [
            f"## {size.label}: {res.events:,} events, {res.customers:,} customers, {size.months} months",
            "",
            "| measure | target | measured | met? |",
            "| --- | --- | --- | --- |",
        ]
        lines += [f"| {f.name} | {f.target} | {f.measured} | {met_text(f)} |" for f in res.figures]
        groups = (("Met", [f for f in res.figures if f.met]), ("Missed", [f for f in res.figures if f.met is False]),
                  ("Not run", [f for f in res.figures if f.met is None and f.why.startswith("not run")]),
                  ("Not judged here", [f for f in res.figures if f.met is None and not f.why.startswith("not run")]))
        for title, fs in groups:
            lines += ["", f"{title}: {', '.join(f.name for f in fs) or 'none'}."]
        lines.append("")
        lines += [f"- {d}" for d in res.details]
        lines += ["", f"### Commands ({size.label})", "", "```sh", *res.commands, "```"]
        if res.profiles:
            lines += ["", f"### Where the time goes ({size.label}, pyinstrument)", ""]
            lines.append("Each missed target's command, profiled in-process. Share of the profiled wall time: *own* is time in the "
                         "function's own code (any library); *inclusive* counts its callees too (revledger's functions only).")
            for title, found in res.profiles:
                lines += ["", f"#### {title} ({found['seconds']:.1f} s profiled)", "", "| own | function |", "| ---: | --- |"]
                lines += [f"| {share:.1%} | `{name}` |" for share, name in found["self"][:10]]
                lines += ["", "| inclusive | function |", "| ---: | --- |"]
                lines += [f"| {share:.1%} | `{name}` |" for share, name in found["inclusive"][:12]]
        if res.startup:
            lines += [
                "",
                f"### Interpreter start ({size.label}; `python -X importtime`, `revledger --help`)",
                "",
                "Import time summed per top-level package (importtime itself adds overhead; compare the shares).",
                "",
                "| import time | package |",
                "| ---: | --- |",
            ]
            lines += [f"| {seconds * 1000:.0f} ms | `{name}` |" for seconds, name in res.startup]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 3 and sys.argv[1] == "--profile-child":
        profile_child(sys.argv[2], sys.argv[4:])
        return
    sizes = sizes_from(dict(os.environ))
    if not sizes:
        raise SystemExit("benchmark: no size to run (BENCH_SIZES or BENCH_EVENTS)")
    work = Path(os.environ.get("BENCH_DIR", ROOT / "out" / "bench"))
    destination = Path(os.environ.get("BENCH_REPORT", ROOT / "docs" / "performance.md"))
    profiling = os.environ.get("BENCH_PROFILE", "1") != "0"
    seed = int(os.environ.get("BENCH_SEED", "2024"))
    steps = [s.strip() for s in os.environ.get("BENCH_STEPS", ",".join(STEPS)).split(",") if s.strip()]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        raise SystemExit(f"benchmark: unknown BENCH_STEPS {', '.join(unknown)} (from {', '.join(STEPS)})")
    settings = [f"{k}={os.environ[k]}" for k in ("BENCH_SIZES", "BENCH_EVENTS", "BENCH_MONTHS", "BENCH_SEED", "BENCH_STEPS",
                                                 "BENCH_PROFILE", "PROFILE_EVENTS") if os.environ.get(k)]
    invocation = " ".join([*settings, "make bench"])
    started = dt.datetime.now(dt.UTC)
    clock = time.perf_counter()
    load_before = f"{os.getloadavg()[0]:.1f}"
    base = machine()
    all_results: list[SizeResults] = []

    def save() -> str:
        """Write the report as it stands, so an interrupted run still leaves what it measured."""
        info = {**base, "load_before": load_before, "load_after": f"{os.getloadavg()[0]:.1f}"}
        text = report(all_results, info, started, time.perf_counter() - clock, invocation)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.exists():
            previous = destination.read_text(encoding="utf-8")
            if KEPT in previous:
                text += "\n" + previous[previous.index(KEPT) :]
        destination.write_text(text, encoding="utf-8")
        return text

    for size in sizes:
        results = SizeResults(size)
        all_results.append(results)
        benchmark_size(size, work / size.label, steps, profiling, seed, results, save)
    print(save())
    print(f"benchmark: wrote {destination}")


if __name__ == "__main__":
    main()
