"""Previews (SPEC §13): any read under another recognition policy, as known at any time, with nothing recorded.

A preview is a read model of its own, in a temporary file: the events as
known at T copied from the real read models, and every customer's rows
derived again under the previewed policy (``projections.derive``, the same
function every read model is written with). The reads then run on it
unchanged; their JSON says ``"preview": true``. Nothing goes into the log,
and the file is gone when the command ends.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from dataclasses import replace

from ledger.customer import fold
from ledger.events import event_from_record
from ledger.integrity import GENESIS
from ledger.policy import Policy
from ledger.sqlite import read_only_uri
from ledger.store import Head
from projections import summaries
from projections.derive import derive
from projections.queries import Knowledge
from projections.readmodel import ReadModel, _create_indexes, _drop_indexes
from projections.versioning import Writer


class _Known:
    """The log as the preview knows it: up to one sequence, nothing more to catch up."""

    def __init__(self, sequence: int, recorded_at: str | None, location: str):
        self._head = Head(sequence, GENESIS, recorded_at or "")
        self.location = location

    def head(self) -> Head:
        return self._head

    def notifications(self, after: int = 0, limit: int = 0) -> list:
        return []


def preview(rm: ReadModel, known: Knowledge, policy: Policy) -> tuple[ReadModel, Knowledge]:
    """The read models and knowledge that answer as if ``policy`` were in force at ``known``."""
    previewed = replace(known, policy=policy, preview=True)
    if policy == known.policy:
        return rm, previewed
    folder = tempfile.mkdtemp(prefix="revledger-preview-")
    atexit.register(shutil.rmtree, folder, True)
    model = ReadModel(os.path.join(folder, "preview.db"), _Known(known.sequence, known.recorded_at, rm.path), rm.settings)
    _fill(model, rm, known.sequence, policy)
    return model, previewed


def _fill(model: ReadModel, source: ReadModel, upto: int, policy: Policy) -> None:
    """Copy the events known at ``upto`` and derive every customer's rows under ``policy``."""
    db = model.db
    db.execute("BEGIN IMMEDIATE")
    _drop_indexes(db)
    db.execute("ATTACH DATABASE ? AS source", (read_only_uri(source.path),))
    db.execute(
        "INSERT INTO main.events SELECT * FROM source.events WHERE sequence <= ? ORDER BY sequence", (upto,)
    )
    db.execute("COMMIT")
    db.execute("DETACH DATABASE source")
    db.execute("BEGIN IMMEDIATE")
    _create_indexes(db, ("events",))
    writer = Writer(db)
    rows = db.execute(
        "SELECT customer_id, record FROM events WHERE customer_id != '' ORDER BY customer_id, sequence"
    )
    customer, events = None, []
    for customer_id, record in rows:
        if customer_id != customer and events:
            writer.replace(customer, None, None, derive(fold(customer, events, model.settings), policy), 0)
            events = []
        customer = customer_id
        events.append(event_from_record(json.loads(record)))
    if events:
        writer.replace(customer, None, None, derive(fold(customer, events, model.settings), policy), 0)  # type: ignore[arg-type]
    writer.flush()
    _create_indexes(db)
    summaries.update(db, 0, [])
    db.execute("UPDATE tracking SET sequence = ? WHERE id = 1", (upto,))
    db.execute("COMMIT")
