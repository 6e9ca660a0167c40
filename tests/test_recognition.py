"""Recognition (SPEC §13): the fold seen through a policy gives the movements the independent oracle gives.

The oracle (tests/oracle.py) reads SPEC §13 on its own, the slow way; here the
real fold (ledger.customer) and recognition (projections.recognition) must
agree with it, movement for movement, under random histories and policies.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

import oracle
from conftest import IN_CI
from ledger.customer import fold
from ledger.inputs import parse_row, to_event
from ledger.money import to_cents
from ledger.policy import Policy
from ledger.settings import LedgerSettings
from projections.recognition import day_movements, month_movements
from strategies import event_histories, policies

SETTINGS = LedgerSettings("USD")


def timelines(history):
    by_customer: dict[str, list] = {}
    for raw in history:
        row, problems = parse_row({k: v for k, v in raw.items() if k != "sequence"})
        assert row is not None, problems
        event = to_event(row)._replace(sequence=raw["sequence"])
        by_customer.setdefault(event.customer_id, []).append(event)
    return {c: fold(c, events, SETTINGS) for c, events in by_customer.items()}


def ours(history, policy: dict):
    chosen = Policy(**policy)
    found = []
    for customer, timeline in timelines(history).items():
        moves = month_movements(timeline, chosen) if chosen.monthly else day_movements(timeline, chosen)
        found += [(m.date, customer, m.category, m.cause, m.from_cents, m.to_cents, list(m.event_ids))
                  for m in moves]
    return sorted(found, key=lambda m: (m[0], m[1]))


def theirs(history, policy: dict):
    return [(m["date"], m["customer_id"], m["category"], m["cause"], to_cents(m["from_mrr"]), to_cents(m["to_mrr"]),
             m["event_ids"]) for m in oracle.movements(history, policy=policy)]


@settings(max_examples=400 if IN_CI else 120, deadline=None, suppress_health_check=list(HealthCheck))
@given(event_histories(max_events=40), policies())
def test_movements_under_any_policy_are_the_oracles(history, policy):
    assert ours(history, policy) == theirs(history, policy)
