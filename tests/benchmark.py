"""`make bench`: how fast revledger is on a million events, against the physical limit of its stack.

Not a test (pytest does not collect it): it generates a synthetic file
(``revledger generate``), drives the installed ``revledger`` command on it as
a user would, times a raw ``sqlite3`` insert of the same rows as the limit,
and writes the figures, the targets of issue 6 and whether each is met to
``docs/performance.md``. Where a target is missed it profiles the command
(pyinstrument, if installed in the virtualenv) and lists the hotspots.

Environment:
  BENCH_EVENTS   about how many events (default 1,000,000)
  BENCH_DIR      working folder (default out/bench)
  BENCH_REPORT   where to write the report (default docs/performance.md)
  BENCH_PROFILE  0 to skip profiling; PROFILE_EVENTS caps the profiled import and
                 rebuild (default 100,000; 0 skips them)
  BENCH_STEPS    which steps to run (default all: generate,import,metrics,mrr,help,rebuild); leaving out
                 generate or import reuses the file or ledger an earlier run left in BENCH_DIR
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import platform
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REVLEDGER = str(BIN / "revledger")
MONTHS = 36
START = "2024-01-01"
END = "2026-12-31"
SEED = 2024
MiB = 1024 * 1024
STEPS = ("generate", "import", "metrics", "mrr", "help", "rebuild")
# Text after this line in the report is written by hand (what the figures mean) and kept by re-runs.
KEPT = "<!-- Below: written by hand, kept by make bench. -->"


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


def run(argv: list[str], *, check: bool = True) -> Run:
    """Run a command as a user would, timing it and reading its own peak RSS from wait4."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        result = Run(argv, seconds, usage.ru_maxrss * 1024, cpu, proc.returncode, out.read(), err.read())
    if check and result.code != 0:
        raise SystemExit(f"benchmark: {shlex.join(argv)} failed ({result.code}):\n{result.stderr}")
    return result


def best_of(argv: list[str], times: int) -> tuple[float, Run]:
    """The median wall time of ``times`` runs after one that warms the file cache (one run if it is slow)."""
    first = run(argv)
    if first.seconds > 5:
        return first.seconds, first
    runs = [run(argv) for _ in range(times)]
    return statistics.median(r.seconds for r in runs), runs[len(runs) // 2]


def count_rows(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle) - 1


def raw_insert(path: Path, db: Path) -> tuple[float, float]:
    """The stack's physical limit: read the CSV, JSON-encode each row, executemany in one transaction."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    start, cpu = time.perf_counter(), time.process_time()
    connection = sqlite3.connect(db)
    connection.execute("CREATE TABLE events (sequence INTEGER PRIMARY KEY, event_id TEXT, record TEXT)")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = (
            (number, row["event_id"], json.dumps({k: v for k, v in row.items() if v}, sort_keys=True, separators=(",", ":")))
            for number, row in enumerate(csv.DictReader(handle), start=1)
        )
        with connection:
            connection.executemany("INSERT INTO events VALUES (?, ?, ?)", rows)
    connection.close()
    return time.perf_counter() - start, time.process_time() - cpu


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
    return {
        "cpus": str(os.cpu_count()),
        "model": model,
        "memory": memory,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "system": f"{platform.system()} {platform.release()}",
        "commit": (commit or "unknown") + (" (with uncommitted changes)" if dirty.strip() else ""),
    }


# -- profiling ----------------------------------------------------------------------------


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


# -- the benchmark --------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    value: str
    target: str
    met: bool | None  # None: not measured
    cpu: str = ""  # the command's own CPU time (user + system): what it costs without other load


@dataclass
class Results:
    events: int = 0
    customers: int = 0
    commands: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    profiles: list[tuple[str, dict]] = field(default_factory=list)
    startup: list[tuple[float, str]] = field(default_factory=list)


def cmd(*args: str) -> list[str]:
    return [REVLEDGER, *args]


def shown(argv: list[str]) -> str:
    text = shlex.join(argv)
    return text.replace(str(ROOT) + "/", "").replace(REVLEDGER, "revledger")


def benchmark(target_events: int, work: Path, profiling: bool, steps: list[str], save) -> Results:
    from cli.synthetic import generate

    work.mkdir(parents=True, exist_ok=True)
    results = Results()
    log = results.commands.append

    events_file = work / "events.csv"
    db = work / "ledger.db"
    if "generate" in steps:
        # About 10 events a customer over 36 months; measure the seed's own rate so the file is near the target.
        pilot = sum(1 for _ in generate(2000, MONTHS, SEED))
        customers = max(1, round(target_events * 2000 / pilot))
        argv = cmd("generate", "--customers", str(customers), "--months", str(MONTHS), "--seed", str(SEED), "--out", str(events_file))
        generated = run(argv)
        log(shown(argv))
        events = count_rows(events_file)
        results.details.append(
            f"`generate` wrote {events:,} events for {customers:,} customers over {MONTHS} months "
            f"({events_file.stat().st_size / MiB:,.0f} MiB) in {generated.seconds:.1f} s ({events / generated.seconds:,.0f} events/s), "
            f"peak RSS {generated.max_rss / MiB:,.0f} MiB."
        )
    else:
        if not events_file.exists():
            raise SystemExit(f"benchmark: BENCH_STEPS leaves out generate, but there is no {events_file}")
        with open(events_file, newline="", encoding="utf-8") as handle:
            customers = len({row["customer_id"] for row in csv.DictReader(handle)})
        events = count_rows(events_file)
        results.details.append(f"Reused {events_file} from an earlier run (BENCH_STEPS={','.join(steps)}).")
    results.events, results.customers = events, customers
    save(results)

    # The physical limit, measured first on a cold-ish file cache like the import after it.
    raw_seconds, raw_cpu = raw_insert(events_file, work / "raw.db")
    raw_rate = events / raw_seconds
    log(f"python: sqlite3 executemany of the {events:,} rows, JSON-encoded, one transaction (tests/benchmark.py raw_insert)")
    results.figures.append(Figure("raw sqlite3 executemany (the limit)", f"{raw_rate:,.0f} events/s ({raw_seconds:.1f} s)", "—", None, f"{raw_cpu:.1f} s"))
    save(results)

    if "import" in steps:
        for path in work.glob("ledger*.db*"):
            path.unlink()
        for path in work.glob("ledger.projections*"):
            path.unlink()
        argv = cmd("--db", str(db), "init", "--currency", "USD")
        run(argv)
        log(shown(argv))
        argv = cmd("--db", str(db), "import", str(events_file))
        imported = run(argv)
        log(shown(argv))
        import_rate = events / imported.seconds
        results.figures.append(
            Figure(
                "`import` end to end (validate, append, catch up)",
                f"{import_rate:,.0f} events/s ({imported.seconds:.1f} s); {import_rate / raw_rate:.2f} of raw",
                "≥ 40,000 events/s and ≥ 0.35 of raw",
                import_rate >= 40_000 and import_rate / raw_rate >= 0.35,
                f"{imported.cpu:.1f} s ({events / imported.cpu:,.0f} events per CPU-second)",
            )
        )
        results.figures.append(
            Figure("peak RSS of the import", f"{imported.max_rss / MiB:,.0f} MiB", "≤ 500 MB", imported.max_rss <= 500 * 1000 * 1000)
        )
        save(results)
    elif not db.exists():
        raise SystemExit(f"benchmark: BENCH_STEPS leaves out import, but there is no ledger at {db}")
    else:
        results.details.append(f"Reused the ledger {db}, imported by an earlier run.")

    # --known-at: the middle of the log, as recorded (the import stamps consecutive microseconds).
    from projections.readmodel import default_path

    with sqlite3.connect(default_path(str(db))) as connection:
        middle = connection.execute("SELECT recorded_at FROM events WHERE sequence = ?", (max(1, events // 2),)).fetchone()[0]

    has_metrics = "metrics" in steps and run(cmd("metrics", "--help"), check=False).code == 0
    metrics_seconds = None
    metrics_argv = cmd("--db", str(db), "metrics", "--from", START, "--to", END, "--format", "json")
    known_argv = [*metrics_argv, "--known-at", middle]
    if has_metrics:
        metrics_seconds, metrics_run = best_of(metrics_argv, 3)
        log(shown(metrics_argv))
        periods = len(json.loads(metrics_run.stdout)["periods"])
        results.figures.append(
            Figure(
                f"`metrics` over {periods} monthly periods (wall, incl. process start)",
                f"{metrics_seconds:.2f} s",
                "≤ 1 s",
                metrics_seconds <= 1.0,
                f"{metrics_run.cpu:.2f} s",
            )
        )
        known_seconds, known_run = best_of(known_argv, 3)
        log(shown(known_argv))
        results.figures.append(
            Figure(
                "`metrics --known-at` (the middle of the log)",
                f"{known_seconds:.2f} s ({known_seconds / metrics_seconds:.2f}× without)",
                "≤ 1.5× `metrics`",
                known_seconds <= 1.5 * metrics_seconds,
                f"{known_run.cpu:.2f} s",
            )
        )
        save(results)
    elif "metrics" in steps:
        results.figures.append(Figure("`metrics` over 36 monthly periods", "not implemented yet", "≤ 1 s", None))
        results.figures.append(Figure("`metrics --known-at`", "not implemented yet", "≤ 1.5× `metrics`", None))

    if "mrr" in steps:
        argv = cmd("--db", str(db), "mrr", "--as-of", END)
        mrr_seconds, mrr_run = best_of(argv, 5)
        log(shown(argv))
        results.figures.append(
            Figure("`mrr --as-of` (wall, incl. interpreter start)", f"{mrr_seconds:.2f} s", "≤ 0.3 s", mrr_seconds <= 0.3, f"{mrr_run.cpu:.2f} s")
        )
    if "help" in steps:
        argv = cmd("--help")
        help_seconds, help_run = best_of(argv, 5)
        log(shown(argv))
        results.figures.append(
            Figure("`revledger --help`", f"{help_seconds:.2f} s", "≤ 0.25 s", help_seconds <= 0.25, f"{help_run.cpu:.2f} s")
        )
        bare_seconds, bare_run = best_of([sys.executable, "-c", "pass"], 5)
        results.details.append(
            f"A bare `python -c pass` takes {bare_seconds:.3f} s wall ({bare_run.cpu:.3f} s CPU) on this machine: the floor of any command."
        )
    save(results)

    if "rebuild" in steps:
        argv = cmd("--db", str(db), "rebuild")
        rebuilt = run(argv)
        log(shown(argv))
        rebuild_rate = events / rebuilt.seconds
        results.figures.append(
            Figure(
                "`rebuild` (replay every projection)",
                f"{rebuild_rate:,.0f} events/s ({rebuilt.seconds:.1f} s); {rebuild_rate / raw_rate:.2f} of raw; "
                f"peak RSS {rebuilt.max_rss / MiB:,.0f} MiB",
                "≥ 100,000 events/s",
                rebuild_rate >= 100_000,
                f"{rebuilt.cpu:.1f} s ({events / rebuilt.cpu:,.0f} events per CPU-second)",
            )
        )
        save(results)

    if profiling:
        profile_missed(results, work, events_file, db, middle, has_metrics, save)
    return results


def profile_missed(results: Results, work: Path, events_file: Path, db: Path, middle: str, has_metrics: bool, save) -> None:
    """Profile each command that missed its target, quick ones first; an import on a prefix of the file."""
    missed = {f.name.split(" ")[0] for f in results.figures if f.met is False}
    events = results.events
    if has_metrics and any(name.startswith("`metrics") for name in missed):
        for title, extra in ((f"`metrics` over {MONTHS} months of {events:,} events", []), ("`metrics --known-at` (middle of the log)", ["--known-at", middle])):
            found = profile(["--db", str(db), "metrics", "--from", START, "--to", END, "--format", "json", *extra])
            if found:
                results.profiles.append((title, found))
    if "`mrr" in missed:
        found = profile(["--db", str(db), "mrr", "--as-of", END])
        if found:
            results.profiles.append(("`mrr --as-of` (in-process, after imports)", found))
    if "`mrr" in missed or "`revledger" in missed:
        results.startup = import_times(["--help"])
    save(results)
    cap = int(os.environ.get("PROFILE_EVENTS", "100000"))
    if cap <= 0 or not ({"`import`", "peak", "`rebuild`"} & missed):
        return
    profile_file = events_file
    if events > cap:
        profile_file = work / "profile-events.csv"
        with open(events_file, encoding="utf-8") as source, open(profile_file, "w", encoding="utf-8") as target:
            for number, line in enumerate(source):
                if number > cap:
                    break
                target.write(line)  # a prefix of a file in recording order is valid on its own
    profile_db = work / "profile.db"
    for path in work.glob("profile.*db*"):
        path.unlink()
    run(cmd("--db", str(profile_db), "init", "--currency", "USD"))
    argv = ["--db", str(profile_db), "import", str(profile_file)]
    if {"`import`", "peak"} & missed:
        found = profile(argv)
        if found:
            results.profiles.append((f"`import` of {min(events, cap):,} events", found))
            save(results)
    else:
        run(cmd(*argv))
    if "`rebuild`" in missed:
        found = profile(["--db", str(profile_db), "rebuild"])
        if found:
            results.profiles.append((f"`rebuild` of {min(events, cap):,} events", found))
            save(results)


def report(results: Results, info: dict[str, str], started: dt.datetime, elapsed: float) -> str:
    lines = [
        "# Performance",
        "",
        "Written by `make bench` (`tests/benchmark.py`); re-run it to refresh every figure here.",
        "Targets are those of issue 6, for a 2-core machine like CI's.",
        "",
        "## Machine",
        "",
        f"- {info['cpus']} CPUs: {info['model']}",
        f"- RAM: {info['memory']}",
        f"- {info['system']}; Python {info['python']}; SQLite {info['sqlite']}",
        f"- revledger commit {info['commit']}",
        f"- run {started:%Y-%m-%d %H:%M} UTC, {elapsed / 60:.1f} minutes in all",
        f"- load average (1 min) {info['load_before']} at the start, {info['load_after']} at the end: "
        "a load above the CPU count means other work shared the machine and wall times are inflated "
        "(the CPU-time column is not)",
        "",
        f"## Results: {results.events:,} events, {results.customers:,} customers, {MONTHS} months",
        "",
        "| measure | result (wall clock) | CPU time | target | met |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f in results.figures:
        met = "—" if f.met is None else ("yes" if f.met else "**no**")
        lines.append(f"| {f.name} | {f.value} | {f.cpu or '—'} | {f.target} | {met} |")
    met = [f.name for f in results.figures if f.met]
    missed = [f.name for f in results.figures if f.met is False]
    lines += ["", f"Met: {', '.join(met) or 'none'}.", "", f"Missed: {', '.join(missed) or 'none'}.", ""]
    lines += [f"- {d}" for d in results.details]
    lines += [
        "- Wall times include interpreter start and are medians of several runs after one warm-up, except "
        "`import` and `rebuild` (one run each). Peak RSS is the command's own `ru_maxrss` (from `wait4`).",
        "- The raw limit reads the same CSV, JSON-encodes each row and inserts them with one `executemany` in one "
        "transaction, in-process: no validation, no hash chain, no projections.",
        "",
        "## Commands",
        "",
        "```sh",
        *results.commands,
        "```",
    ]
    if results.profiles:
        lines += ["", "## Where the time goes (pyinstrument)", ""]
        lines.append("Share of the profiled command's wall time. *Own* is time in the function's own code (any library); *inclusive* counts its callees too (revledger's functions only).")
        for title, found in results.profiles:
            lines += ["", f"### {title} ({found['seconds']:.1f} s profiled)", "", "| own | function |", "| ---: | --- |"]
            lines += [f"| {share:.1%} | `{name}` |" for share, name in found["self"][:10]]
            lines += ["", "| inclusive | function |", "| ---: | --- |"]
            lines += [f"| {share:.1%} | `{name}` |" for share, name in found["inclusive"][:12]]
    if results.startup:
        lines += [
            "",
            "## Interpreter start (`python -X importtime`, `revledger --help`)",
            "",
            "Import time summed per top-level package (importtime itself adds overhead; compare the shares).",
            "",
            "| import time | package |",
            "| ---: | --- |",
        ]
        lines += [f"| {seconds * 1000:.0f} ms | `{name}` |" for seconds, name in results.startup]
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 3 and sys.argv[1] == "--profile-child":
        profile_child(sys.argv[2], sys.argv[4:])
        return
    target = int(os.environ.get("BENCH_EVENTS", "1000000"))
    work = Path(os.environ.get("BENCH_DIR", ROOT / "out" / "bench"))
    destination = Path(os.environ.get("BENCH_REPORT", ROOT / "docs" / "performance.md"))
    profiling = os.environ.get("BENCH_PROFILE", "1") != "0"
    started = dt.datetime.now(dt.UTC)
    clock = time.perf_counter()
    steps = [s.strip() for s in os.environ.get("BENCH_STEPS", ",".join(STEPS)).split(",") if s.strip()]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        raise SystemExit(f"benchmark: unknown BENCH_STEPS {', '.join(unknown)} (from {', '.join(STEPS)})")
    load_before = f"{os.getloadavg()[0]:.1f}"
    base = machine()

    def save(results: Results) -> str:
        """Write the report as it stands, so an interrupted run still leaves what it measured."""
        info = {**base, "load_before": load_before, "load_after": f"{os.getloadavg()[0]:.1f}"}
        text = report(results, info, started, time.perf_counter() - clock)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.exists():
            previous = destination.read_text(encoding="utf-8")
            if KEPT in previous:
                text += "\n" + previous[previous.index(KEPT) :]
        destination.write_text(text, encoding="utf-8")
        return text

    results = benchmark(target, work, profiling, steps, save)
    print(save(results))
    print(f"benchmark: wrote {destination}")


if __name__ == "__main__":
    main()
