"""The docs work as written: every ```console example runs, the CLI reference is current, completion works.

A ```console block is a shell session: lines starting ``$ revledger`` are run
(in a fresh folder holding a copy of ``fixtures/``, one folder per document,
blocks in order, so a tutorial can build on its earlier steps), and the lines
after each command, up to the next ``$``, are its expected output. ``...`` in
the expected output matches anything (a timestamp, the rest of a long table),
as in doctest. Other ``$`` lines (pip, make, a browser) are shown, not run.
Blocks fenced as ```text, ```bash or ```shell are not run.
"""

from __future__ import annotations

import doctest
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, run_installed
from typer.testing import CliRunner

from cli.app import app
from cli.docgen import reference

DOCS = ROOT / "docs"
FENCE = re.compile(r"^```console[^\n]*\n(.*?)^```", re.S | re.M)
CHECKER = doctest.OutputChecker()
OPTIONS = doctest.ELLIPSIS


@dataclass
class Step:
    doc: str
    line: int
    command: str
    expected: str


def steps(path: Path) -> list[Step]:
    text = path.read_text(encoding="utf-8")
    found = []
    for block in FENCE.finditer(text):
        first_line = text.count("\n", 0, block.start(1)) + 1
        current: Step | None = None
        for offset, line in enumerate(block.group(1).splitlines()):
            if line.startswith("$ "):
                current = Step(path.name, first_line + offset, line[2:].strip(), "")
                found.append(current)
            elif current is not None:
                current.expected += line + "\n"
    return found


def documents() -> list[Path]:
    return sorted(p for p in DOCS.glob("*.md") if p.name != "cli.md")


def test_there_are_docs_with_examples():
    names = {p.name for p in documents()}
    assert {"index.md", "concepts.md", "tutorial.md"} <= names
    assert len(steps(DOCS / "tutorial.md")) >= 10


@pytest.mark.parametrize("doc", documents(), ids=lambda p: p.name)
def test_every_console_example_works_as_written(doc: Path, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REVLEDGER_DB", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    runner = CliRunner()
    for step in steps(doc):
        args = shlex.split(step.command)
        if args[0] != "revledger":
            continue
        result = runner.invoke(app, args[1:], catch_exceptions=False, prog_name="revledger")
        got = result.stdout + result.stderr
        where = f"{step.doc}:{step.line}: $ {step.command}"
        expects_failure = any(line.startswith("revledger: ") for line in step.expected.splitlines())
        if expects_failure:  # the docs show a refusal: it must be one, not a success that prints the same words
            assert result.exit_code != 0, f"{where}\nexit 0\n{got}"
        else:
            assert result.exit_code == 0, f"{where}\nexit {result.exit_code}\n{got}"
        want = step.expected.rstrip("\n") + "\n" if step.expected.strip() else ""
        if want and not CHECKER.check_output(want, got.rstrip("\n") + "\n", OPTIONS):
            pytest.fail(f"{where}\n--- the docs say:\n{want}--- it printed:\n{got}")


def test_the_cli_reference_is_current():
    current = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert reference() == current, "docs/cli.md is out of date: run `python -m cli.docgen > docs/cli.md`"


def test_every_command_is_in_the_reference():
    import typer

    group = typer.main.get_command(app)
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for name, command in group.commands.items():
        assert f"## {name}\n" in text
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--"):
                    assert f"`{opt}`" in text


def test_index_links_every_document():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for name in ("concepts.md", "tutorial.md", "cli.md", "metrics.md", "audit.md", "postgres.md",
                 "performance.md", "reliability.md"):
        assert f"]({name})" in index, name


def test_shell_completion_script(tmp_path):
    # Name the shell rather than have it guessed from the process tree, which depends on what launched the tests.
    env = {"SHELL": "/bin/bash", "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    result = run_installed("--show-completion", "bash", cwd=tmp_path, env=env)
    assert result.exit_code == 0, result.stderr
    assert "complete" in result.stdout and "_REVLEDGER_COMPLETE" in result.stdout


def test_shell_completion_completes_commands(tmp_path):
    result = run_installed(
        cwd=tmp_path,
        env={"_REVLEDGER_COMPLETE": "complete_bash", "COMP_WORDS": "revledger met", "COMP_CWORD": "1"},
    )
    assert result.exit_code == 0, result.stderr
    assert "metrics" in result.stdout.split()


def test_every_command_summary_is_the_first_line_of_its_docstring():
    """`revledger --help` lists the registry's summaries without importing the commands: they must not drift."""
    import inspect

    from cli.app import COMMANDS, command_function

    import typer

    for name, entry in COMMANDS.items():
        function = command_function(name)
        doc = function.info.help if isinstance(function, typer.Typer) else inspect.getdoc(function) or ""
        assert doc.splitlines()[0] == entry.summary, name


def test_top_level_help_imports_no_command_module():
    """The registry builds a command only when it runs: --help loads none of their modules (nor the layers below)."""
    import subprocess
    import sys

    code = (
        "import sys; sys.argv = ['revledger', '--help']\n"
        "from cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('ledger', 'projections', 'eventsourcing', "
        "'pydantic', 'sqlite_utils', 'rich', 'openpyxl') or m in ('cli.writes', 'cli.reads', 'cli.metrics'))\n"
        "print('LOADED', loaded, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "Commands:" in result.stdout
    assert "LOADED []" in result.stderr, result.stderr
