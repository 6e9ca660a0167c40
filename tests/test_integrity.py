"""Integrity (SPEC §9): `verify` re-reads the stored log, re-chains it and re-derives the projections.

Each tampering below is done with sqlite3 directly on the eventsourcing table
(`stored_events`), the way someone with the file and no revledger would, and
each must be found, naming the first sequence that no longer holds.
"""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from ledger.clock import ONE_MICROSECOND, instant_text, parse_instant
from ledger.events import canonical, event_from_record
from ledger.integrity import GENESIS, event_hash

EVENTS = """
    event_id,type,customer_id,effective_date,subscription_id,plan,quantity,unit_price,amount
    a1,subscription_started,acme,2026-01-01,s1,pro,10,100.00,
    b1,subscription_started,beta,2026-01-15,s1,basic,,,500.00
    a2,seat_change,acme,2026-02-10,s1,,12,,
    c1,subscription_started,core,2026-02-20,s1,basic,,,300.00
    b2,cancel,beta,2026-03-05,,,,,
    a3,seat_change,acme,2026-03-10,s1,,8,,
    """


@pytest.fixture
def ledger(rl):
    rl("import", rl.write("events.csv", EVENTS))
    return rl


def verify(rl, *args: str):
    result = rl("verify", "--format", "json", *args, ok=False)
    return result.exit_code, result.json(), result.stderr


def stored(rl) -> list[tuple[int, bytes]]:
    with sqlite3.connect(rl.db) as conn:
        return conn.execute("SELECT originator_version, state FROM stored_events ORDER BY originator_version").fetchall()


def tamper(rl, sql: str, *params) -> None:
    with sqlite3.connect(rl.db) as conn:
        conn.execute(sql, params)


def set_state(rl, version: int, state: bytes) -> None:
    tamper(rl, "UPDATE stored_events SET state = ? WHERE originator_version = ?", state, version)


def test_an_untouched_ledger_verifies(ledger):
    ledger("close", "2026-02", "--lock")
    ledger("record", "seat_change", "--customer", "acme", "--date", "2026-02-15", "--subscription", "s1",
           "--quantity", "11", "--restate", "late")
    code, report, _ = verify(ledger)
    assert code == 0 and report["ok"] and report["findings"] == [] and report["first_bad_sequence"] is None
    assert report["events"] == 8 and report["head"] == ledger("checkpoint").stdout.strip()
    out = ledger("verify").stdout
    assert "checked: hash chain and recorded times over 8 of 8 stored events" in out
    assert "checked: 1 period closes" in out and out.rstrip().endswith(f"ok: 8 events, head {report['head']}")


def test_checkpoint_prints_the_head_and_a_log_that_grew_still_extends_it(ledger):
    head = ledger.events()[-1]
    kept = ledger("checkpoint").stdout.strip()
    assert kept == f"6:{head['hash']}"
    ledger("record", "seat_change", "--customer", "acme", "--date", "2026-04-01", "--subscription", "s1", "--quantity", "9")
    code, report, _ = verify(ledger, "--checkpoint", kept)
    assert code == 0 and report["checked"][1] == f"checkpoint {kept}"


def test_an_empty_ledger_verifies_and_its_checkpoint_is_the_genesis(rl):
    assert rl("checkpoint").stdout.strip() == f"0:{GENESIS}"
    assert verify(rl, "--checkpoint", f"0:{GENESIS}")[0] == 0


@pytest.mark.parametrize("text", ["6", "x:" + "0" * 64, "6:abc", "6:" + "G" * 64])
def test_a_malformed_checkpoint_is_a_usage_error(ledger, text):
    result = ledger("verify", "--checkpoint", text, ok=False)
    assert result.exit_code == 1 and result.stderr.startswith("revledger: --checkpoint: ") and "SEQUENCE:HASH" in result.stderr


# -- tampering with the stored log ------------------------------------------------------------------


def test_flipping_one_byte_of_an_amount_is_found_at_that_event(ledger):
    version, state = stored(ledger)[1]  # b1: amount 500.00
    assert b'"amount":"500.00"' in state
    set_state(ledger, version, state.replace(b'"amount":"500.00"', b'"amount":"900.00"'))
    code, report, stderr = verify(ledger)
    assert code == 1 and report["first_bad_sequence"] == 2
    assert report["findings"][0] == {"sequence": 2, "check": "hash chain",
                                     "message": "hash does not match the event's content and the previous hash"}
    assert stderr.startswith("revledger: the ledger fails verification; the first difference is at sequence 2: hash chain:")


def test_flipping_one_byte_into_garbage_is_found_at_that_event(ledger):
    version, state = stored(ledger)[3]
    damaged = bytearray(state)
    damaged[10] ^= 0xFF
    set_state(ledger, version, bytes(damaged))
    code, report, _ = verify(ledger)
    assert code == 1 and report["first_bad_sequence"] == 4
    assert report["findings"][0]["check"] == "stored event"
    assert "stored position 4 cannot be read as an event" in report["findings"][0]["message"]


def test_a_stored_event_rewritten_in_another_form_is_found(ledger):
    version, state = stored(ledger)[2]
    set_state(ledger, version, json.dumps(json.loads(state), indent=1).encode())  # same content, other bytes
    code, report, _ = verify(ledger)
    assert code == 1 and report["first_bad_sequence"] == 3
    assert report["findings"][0]["message"] == "stored position 3 is not the canonical form of its event"


def test_deleting_an_event_is_found_at_the_gap(ledger):
    tamper(ledger, "DELETE FROM stored_events WHERE originator_version = 3")
    code, report, _ = verify(ledger)
    assert code == 1 and report["first_bad_sequence"] == 3
    assert report["findings"][0]["message"] == "expected event 3, found stored position 4 holding sequence 4"


def test_deleting_the_last_event_is_found_by_the_read_models_or_a_checkpoint(ledger):
    kept = ledger("checkpoint").stdout.strip()
    tamper(ledger, "DELETE FROM stored_events WHERE originator_version = 6")
    code, report, _ = verify(ledger)  # the chain 1..5 is whole; the read models remember 6
    assert code == 1 and report["first_bad_sequence"] == 6
    assert report["findings"][0]["check"] == "read models"
    os.remove(ledger.db.replace(".db", ".projections.db"))
    code, report, _ = verify(ledger)  # the log itself remembers it: its last append was to end at 6 (SPEC §2) …
    assert code == 1 and report["findings"] == [
        {"sequence": 6, "check": "append", "message": "the log ends inside an append that should end at sequence 6"}
    ]
    code, report, _ = verify(ledger, "--checkpoint", kept)  # … and so does the checkpoint
    assert code == 1 and report["first_bad_sequence"] == 6
    assert report["findings"][0]["message"] == "the log must reach sequence 6, but event 6 is missing"


def test_swapping_two_events_is_found_at_the_first(ledger):
    rows = dict(stored(ledger))
    set_state(ledger, 3, rows[4])
    set_state(ledger, 4, rows[3])
    code, report, _ = verify(ledger)
    assert code == 1 and report["first_bad_sequence"] == 3
    assert report["findings"][0]["message"] == "expected event 3, found stored position 3 holding sequence 4"


def test_inserting_an_event_in_the_middle_is_found_where_it_went_in(ledger):
    ledger("record", "seat_change", "--customer", "acme", "--date", "2026-04-01", "--subscription", "s1", "--quantity", "9")
    rows = stored(ledger)
    sixth, seventh = (json.loads(rows[k][1]) for k in (5, 6))
    # a careful forgery: chained onto event 6, recorded between 6 and 7, event 7 moved up one
    between = instant_text(parse_instant(sixth["recorded_at"]) + ONE_MICROSECOND)
    forged = event_from_record(sixth).with_record(event_id="forged", sequence=7, recorded_at=between)
    assert sixth["recorded_at"] < forged.recorded_at < seventh["recorded_at"]
    forged = forged.with_record(hash=event_hash(sixth["hash"], forged))
    tamper(ledger, "UPDATE stored_events SET originator_version = 8 WHERE originator_version = 7")
    tamper(ledger, "INSERT INTO stored_events VALUES (?, 7, ?, ?)", _originator(ledger), "revledger:event",
           canonical(forged.record()).encode())
    code, report, _ = verify(ledger)
    findings = {(f["sequence"], f["check"]) for f in report["findings"]}
    # the forged event chains, so the chain breaks only after it; the read models knew another event 7
    assert (8, "hash chain") in findings and (7, "read models") in findings
    assert code == 1 and report["first_bad_sequence"] == 7


def test_appending_a_forged_event_is_found(ledger):
    last = json.loads(stored(ledger)[-1][1])
    forged = event_from_record(last).with_record(event_id="forged", sequence=7, hash="f" * 64)
    tamper(ledger, "INSERT INTO stored_events VALUES (?, 7, ?, ?)", _originator(ledger), "revledger:event",
           canonical(forged.record()).encode())
    code, report, _ = verify(ledger)
    assert code == 1 and report["first_bad_sequence"] == 7


def _originator(rl) -> str:
    with sqlite3.connect(rl.db) as conn:
        return conn.execute("SELECT originator_id FROM stored_events LIMIT 1").fetchone()[0]


def rewrite_chain(rl, change) -> None:
    """Rewrite every stored event through ``change`` and re-chain them all consistently, as a forger would."""
    previous = GENESIS
    for version, state in stored(rl):
        event = change(event_from_record(json.loads(state)))
        event = event.with_record(hash=event_hash(previous, event))
        previous = event.hash
        set_state(rl, version, canonical(event.record()).encode())


def cheaper_beta(event):
    return event.with_record(amount=type(event.amount)("400.00")) if event.event_id == "b1" else event


def test_a_log_rewritten_and_rechained_from_scratch_fails_its_checkpoint(ledger):
    kept = ledger("checkpoint").stdout.strip()
    rewrite_chain(ledger, cheaper_beta)
    os.remove(ledger.db.replace(".db", ".projections.db"))  # and the read models thrown away
    code, report, _ = verify(ledger)
    assert code == 0  # self-consistent: only something kept elsewhere can tell
    code, report, _ = verify(ledger, "--checkpoint", kept)
    assert code == 1 and report["first_bad_sequence"] == 6
    assert report["findings"][0]["check"] == "checkpoint 6"
    assert "the log up to sequence 6 is not the one it was taken from" in report["findings"][0]["message"]


def test_a_rechained_log_fails_the_head_its_period_close_recorded(ledger):
    ledger("close", "2026-01")  # sequence 7, head 6
    rewrite_chain(ledger, cheaper_beta)
    os.remove(ledger.db.replace(".db", ".projections.db"))
    code, report, _ = verify(ledger)
    assert code == 1 and report["first_bad_sequence"] == 6
    assert report["findings"][0]["check"] == "close of 2026-01 (sequence 7)"


def test_a_rechained_log_whose_close_head_is_forged_too_fails_the_closed_figures(ledger):
    ledger("close", "2026-01")

    def forge(event):
        event = cheaper_beta(event)
        if event.type == "period_closed":  # the forger even rewrites the head the close recorded …
            details = json.loads(event.details)
            details["head"]["hash"] = forged_heads[details["head"]["sequence"]]
            event = event.with_record(details=canonical(details))
        return event

    forged_heads: dict[int, str] = {}
    previous = GENESIS
    for _, state in stored(ledger)[:6]:
        event = cheaper_beta(event_from_record(json.loads(state)))
        previous = event_hash(previous, event)
        forged_heads[event.sequence] = previous
    rewrite_chain(ledger, forge)
    os.remove(ledger.db.replace(".db", ".projections.db"))
    code, report, _ = verify(ledger)  # … but not the January figures it recorded: beta's 500.00 is in them
    assert code == 1 and report["first_bad_sequence"] == 6
    assert report["findings"][0]["message"] == "the figures it recorded no longer come out of the log up to its head"


def test_a_rechained_log_with_its_recorded_times_out_of_order_is_found(ledger):
    times = {e["sequence"]: e["recorded_at"] for e in ledger.events()}
    rewrite_chain(ledger, lambda e: e.with_record(recorded_at=times[2]) if e.sequence == 3 else e)
    code, report, _ = verify(ledger)
    assert code == 1 and report["first_bad_sequence"] == 3
    assert report["findings"][0]["message"].startswith("recorded_at ") and "is not later than" in report["findings"][0]["message"]


# -- tampering with the read models -------------------------------------------------------------------


def test_a_read_model_edited_behind_the_log_is_found(ledger):
    path = ledger.db.replace(".db", ".projections.db")
    with sqlite3.connect(path) as conn:
        known_from = conn.execute(
            "SELECT known_from FROM movements WHERE customer_id = 'beta' AND category = 'new'"
        ).fetchone()[0]
        conn.execute("UPDATE movements SET amount_cents = 40000, to_cents = 40000 WHERE customer_id = 'beta' AND category = 'new'")
    code, report, _ = verify(ledger)
    # rows are versioned per append (SPEC §2: an append is known whole): the import of 6 events ends at 6
    assert code == 1 and report["first_bad_sequence"] == known_from == 6
    assert report["findings"][0] == {
        "sequence": 6, "check": "read models",
        "message": "table movements: 1 stored rows are not derived from the log, 1 derived rows are not stored",
    }
    assert ledger("rebuild").exit_code == 0 and verify(ledger)[0] == 0


def test_unreadable_read_models_are_reported_and_another_ledgers_are_not_compared(ledger):
    path = ledger.db.replace(".db", ".projections.db")
    with sqlite3.connect(path) as conn:  # as if left beside a ledger re-created at the same path
        conn.execute("UPDATE tracking SET ledger_id = 'another ledger'")
        conn.execute("DELETE FROM movements")
    code, report, _ = verify(ledger)
    assert code == 0 and "the stored read models are of another ledger or schema: not compared" in report["checked"]
    for suffix in ("-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    with open(path, "wb") as handle:
        handle.write(b"not a database" * 100)
    code, report, _ = verify(ledger)
    assert code == 1 and report["findings"][0]["check"] == "read models"
    assert report["findings"][0]["message"].startswith(f"cannot read {path}: ")


def test_a_forged_period_close_is_found(ledger):
    last = json.loads(stored(ledger)[-1][1])
    forged = event_from_record(last).with_record(
        event_id="forged-close", type="period_closed", customer_id="", sequence=7, details="{}",
        recorded_at=instant_text(parse_instant(last["recorded_at"]) + ONE_MICROSECOND),
    )
    forged = forged.with_record(hash=event_hash(last["hash"], forged))
    tamper(ledger, "INSERT INTO stored_events VALUES (?, 7, ?, ?)", _originator(ledger), "revledger:event",
           canonical(forged.record()).encode())
    code, report, _ = verify(ledger)
    assert code == 1 and report["first_bad_sequence"] == 7
    assert report["findings"][0]["check"] == "period close"


def test_a_rechained_event_that_does_not_fold_is_named(ledger):
    rewrite_chain(ledger, lambda e: e.with_record(subscription_id="nope") if e.event_id == "a2" else e)
    code, report, _ = verify(ledger)
    assert code == 1 and report["first_bad_sequence"] == 3
    assert report["findings"][0]["check"] == "projections"
    assert report["findings"][0]["message"].startswith("event 3 (a2) does not fold into its customer's timeline: line nope")


def test_verify_of_a_ledger_whose_name_has_a_hash_sign_creates_no_stray_file(tmp_path, monkeypatch):
    """A '#' in a path is part of the file name, not a URI fragment: verify opens the read models read-only."""
    monkeypatch.chdir(tmp_path)
    from conftest import Revledger

    ledger = Revledger(tmp_path)
    ledger.db = "a#b.db"
    ledger("init", "--currency", "USD")
    ledger("import", ledger.write("e.csv", EVENTS))
    ledger("mrr", "--as-of", "2026-03-31")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert ledger("verify").stdout.splitlines()[-1].startswith("ok: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not (tmp_path / "a").exists()
