"""Previews (SPEC §13): any read under another recognition policy, as known at any time, with nothing recorded."""

from __future__ import annotations

from dataclasses import replace

from ledger.errors import UsageError
from ledger.policy import Policy
from projections.queries import Knowledge
from projections.readmodel import ReadModel


def preview(rm: ReadModel, known: Knowledge, policy: Policy):
    """The read models and knowledge that answer as if ``policy`` were in force at ``known``."""
    if policy == known.policy:
        return rm, replace(known, preview=True)
    raise UsageError("--policy: previews under another policy are not built yet")
