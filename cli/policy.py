"""`policy` and `policy set`: the recognition policy in force, and a recorded change of it (SPEC §13)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.context import state
from cli.errors import fail, handled
from cli.options import Actor, Format, FormatOption, KnownAt, Opt, PolicyOption
from cli.output import deliver
from cli.render import Column, known_suffix, table
from ledger.errors import UsageError
from ledger.policy import SETTINGS

app = typer.Typer(
    name="policy",
    help="The recognition policy in force (churn recognition, reactivation grace, movement grain), and its changes.",
    invoke_without_command=True,
    no_args_is_help=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

CHANGE_COLUMNS = [
    Column("sequence", "seq", "count"),
    Column("recorded_at", "recorded_at"),
    Column("actor", "actor"),
    Column("churn_recognition", "churn recognition"),
    Column("reactivation_grace_days", "grace days", "count"),
    Column("movement_grain", "grain"),
    Column("reason", "reason"),
    Column("restatement", "restatement"),
]


@app.callback()
@handled
def show(
    ctx: typer.Context,
    known_at: KnownAt = None,
    policy: PolicyOption = None,
    format: FormatOption = Format.table,
) -> None:
    """The recognition policy in force (churn recognition, reactivation grace, movement grain), and its changes."""
    if ctx.invoked_subcommand is not None:
        return
    from projections.policy import policy_report

    rm, k = state(ctx).reading(known_at, policy)
    report = policy_report(rm, k)
    rows = [{**c, **c["policy"]} for c in report["changes"]]

    def text() -> str:
        p = report["policy"]
        lines = [f"Recognition policy{known_suffix(k)}"]
        lines += [f"  {name} = {p[name]}" for name in SETTINGS]
        changed = report["changed"]
        lines.append(
            f"  in force since sequence {changed['sequence']}, recorded {changed['recorded_at']} by {changed['actor']}: "
            f"{changed['reason']}" if changed else "  the defaults (no change recorded)"
        )
        return "\n".join(lines) + ("\n\n" + table(rows, CHANGE_COLUMNS, "Changes") if rows else "")

    keys = ["sequence", "recorded_at", "actor", *SETTINGS, "reason", "restatement"]
    deliver(format.value, json=lambda: report, csv=lambda: (rows, keys), table=text)


@app.command("set")
@handled
def set_(
    ctx: typer.Context,
    settings: Annotated[list[str], typer.Argument(help="KEY=VALUE: churn_recognition, reactivation_grace_days, movement_grain.")],
    reason: Annotated[str, Opt("--reason", help="Why the policy changes (recorded with it).")],
    restate: Annotated[
        str | None, Opt("--restate", help="Let the change restate locked periods, recording this reason.")
    ] = None,
    recorded_at: Annotated[
        str | None, Opt("--recorded-at", help="Record the change at this past instant (migrating history).")
    ] = None,
    actor: Actor = None,
) -> None:
    """Change the recognition policy: a policy_changed event, from its recorded time on (earlier answers stay)."""
    from projections.policy import locked_changes
    from projections.queries import knowledge

    if not reason.strip():  # a change nobody can explain later is what SPEC §13 exists to prevent
        raise UsageError('--reason: say why the policy changes (it is recorded with the change): --reason "…"')
    if restate is not None and not restate.strip():
        raise UsageError('--restate: say why the locked periods are restated: --restate "reason"')
    st = state(ctx)
    rm = st.read_model
    known = knowledge(rm, None)
    new = known.policy.with_settings(settings, option="policy set")
    if new == known.policy:
        typer.echo(f"nothing to change: the policy in force is already {_text(new.as_json())}")
        return
    moved = locked_changes(rm, known, new)
    if moved and not restate:
        periods = ", ".join(m["period"] for m in moved)
        raise UsageError(
            f"policy set would change the figures of locked period{'s' if len(moved) > 1 else ''} {periods}; "
            'to record it as a restatement, give --restate "reason"'
        )
    event = st.ledger(actor).change_policy(new, reason=reason, restatement=restate if moved else None,
                                           recorded_at=recorded_at)
    try:
        rm.catch_up()
    except Exception as e:  # noqa: BLE001 - the log has the change; the read models follow on their next use
        raise fail(f"recorded the change as sequence {event.sequence}, but the read models could not follow: {e}") from None
    typer.echo(f"policy changed as sequence {event.sequence} at {event.recorded_at}: {_text(new.as_json())}")
    if moved:
        typer.echo(f"restated locked periods: {', '.join(m['period'] for m in moved)} (see `revledger restatements`)")
    typer.echo(f"earlier answers: --known-at a time before {event.recorded_at} gives them as they were")


def _text(policy: dict[str, Any]) -> str:
    return ", ".join(f"{name}={policy[name]}" for name in SETTINGS)
