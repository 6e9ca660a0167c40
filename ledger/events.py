"""Contract events (SPEC §3): immutable values, their canonical text and their identity."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

SUBSCRIPTION_STARTED = "subscription_started"
SUBSCRIPTION_CHANGED = "subscription_changed"
UPSELL = "upsell"
DOWNGRADE = "downgrade"
SEAT_CHANGE = "seat_change"
PRICE_CHANGE = "price_change"
USAGE_CHANGE = "usage_change"
CANCEL = "cancel"
CUSTOMER_UPDATED = "customer_updated"
VOID = "void"
PERIOD_CLOSED = "period_closed"
POLICY_CHANGED = "policy_changed"
# Ledger events: appended by the ledger itself (a close, a policy change), about no customer.
LEDGER_TYPES = (PERIOD_CLOSED, POLICY_CHANGED)

EVENT_TYPES = (
    SUBSCRIPTION_STARTED,
    SUBSCRIPTION_CHANGED,
    UPSELL,
    DOWNGRADE,
    SEAT_CHANGE,
    PRICE_CHANGE,
    USAGE_CHANGE,
    CANCEL,
    CUSTOMER_UPDATED,
    VOID,
)
# Events that change a subscription line's terms.
CHANGE_TYPES = (SUBSCRIPTION_CHANGED, UPSELL, DOWNGRADE, SEAT_CHANGE, PRICE_CHANGE, USAGE_CHANGE)

TERM_FIELDS = ("plan", "quantity", "unit_price", "amount", "billing_months", "discount_pct", "currency")
MONEY_FIELDS = ("unit_price", "amount", "discount_pct")
NAMED_ATTRIBUTES = ("customer_name", "segment", "channel", "region")
ATTR_PREFIX = "attr."

# Fields given by the user, in the order files list them.
CONTENT_FIELDS = (
    "event_id",
    "type",
    "customer_id",
    "effective_date",
    "subscription_id",
    *TERM_FIELDS,
    "cause",
    "reason",
    "note",
    "target_event_id",
    "restatement",
)
# Fields the ledger assigns at append.
RECORD_FIELDS = ("sequence", "append_last", "recorded_at", "actor", "source", "hash")
# The cause a source system may state on a change event (SPEC §3), used instead of the derived one.
STATED_CAUSES = ("plan", "seats", "price", "usage")


class Event(NamedTuple):
    """One entry of the log: an immutable tuple (cheap to make, as a log of millions needs).

    Attributes:
      event_id: the user's id, or one derived from the content (re-importing is a no-op).
      type: one of EVENT_TYPES (or ``period_closed``, a ledger event).
      customer_id: whose contract changed.
      effective_date: the day the change takes effect (the effective clock).
      subscription_id .. currency: the line and the terms given; None = not given.
      cause: the cause the source system states for a change (plan, seats, price, usage).
      reason, note: free text; ``reason`` is required on a void.
      target_event_id: the event a void removes.
      attributes: customer attributes a ``customer_updated`` sets, sorted by name.
      restatement: why an event effective in a locked period was let in.
      details: ledger-event payload (a period close's figures, a policy), canonical JSON text.
      sequence, recorded_at, actor, source, hash: assigned by the ledger at append
        (the recorded clock and the hash chain of SPEC §9).
      append_last: the sequence of the last event of the append this one came in
        (SPEC §2: an append is known whole); 0 in logs written before it was kept.
    """

    event_id: str
    type: str
    customer_id: str
    effective_date: date
    subscription_id: str | None = None
    plan: str | None = None
    quantity: int | None = None
    unit_price: Decimal | None = None
    amount: Decimal | None = None
    billing_months: int | None = None
    discount_pct: Decimal | None = None
    currency: str | None = None
    cause: str | None = None
    reason: str | None = None
    note: str | None = None
    target_event_id: str | None = None
    restatement: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    details: str | None = None
    sequence: int = 0
    append_last: int = 0
    recorded_at: str = ""
    actor: str = ""
    source: str = ""
    hash: str = ""

    def terms(self) -> dict[str, Any]:
        """The term fields this event gives (SPEC §3: fields not given keep their value)."""
        return {name: getattr(self, name) for name in TERM_FIELDS if getattr(self, name) is not None}

    def content(self) -> dict[str, Any]:
        """What the user said: the fields that decide identity (not who, when or from where)."""
        data: dict[str, Any] = {}
        for name, index in _CONTENT_POSITIONS:
            value = self[index]
            if value is not None:
                kind = type(value)
                data[name] = value if kind is str or kind is int else _plain(value)
        for key, value in self.attributes:
            data[key] = value
        if self.details is not None:
            data["details"] = self.details
        return data

    def record(self) -> dict[str, Any]:
        """Every field as plain JSON values (the stored form and `log --format json`)."""
        data = {"event_id": self.event_id, **self.content()}
        data["sequence"] = self.sequence
        if self.append_last:
            data["append_last"] = self.append_last
        data["recorded_at"] = self.recorded_at
        data["actor"] = self.actor
        data["source"] = self.source
        if self.hash:
            data["hash"] = self.hash
        return data

    def with_record(self, **values: Any) -> Event:
        return self._replace(**values)

    def attribute(self, name: str) -> str | None:
        for key, value in self.attributes:
            if key == name:
                return value
        return None


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def canonical(data: dict[str, Any]) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 text. The form that is hashed."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def derive_event_id(event: Event) -> str:
    """A deterministic id from the content alone, so re-importing the same row is a no-op."""
    digest = hashlib.sha256(canonical(event.content()).encode()).hexdigest()
    return f"ev-{digest[:24]}"


_CONTENT_POSITIONS = tuple((name, Event._fields.index(name)) for name in CONTENT_FIELDS if name != "event_id")
_READERS: dict[str, Any] = {name: None for name in Event._fields}
_READERS.update(
    {"effective_date": date.fromisoformat, "quantity": int, "billing_months": int, "sequence": int, "append_last": int}
)
_READERS.update({name: Decimal for name in MONEY_FIELDS})
del _READERS["attributes"]


def event_from_record(data: dict[str, Any]) -> Event:
    """Rebuild an Event from its stored form (the inverse of :meth:`Event.record`)."""
    values: dict[str, Any] = {}
    attributes: list[tuple[str, str]] = []
    readers = _READERS
    for key, value in data.items():
        if key in readers:
            read = readers[key]
            values[key] = value if read is None else read(value)
        elif key in NAMED_ATTRIBUTES or key.startswith(ATTR_PREFIX):
            attributes.append((key, value))
        else:
            raise ValueError(f"unknown field {key!r} in a stored event")
    if attributes:
        values["attributes"] = tuple(sorted(attributes))
    return Event(**values)


# -- the canonical record, encoded once ------------------------------------------------------------
#
# The stored bytes of an event are canonical(event.record()): sorted keys, no spaces. The
# fields the user gave are encoded once, before the ledger knows the event's place in the log;
# the fields the ledger assigns at sealing (sequence, append_last, recorded_at, actor, source
# and the hash) are spliced in between them, in their sorted places. The text hashed is the
# record without its hash; the text stored is the same text with the hash in its place.

_LEDGER_KEYS = ("actor", "append_last", "hash", "recorded_at", "sequence", "source")
_SEPARATOR = "\0"  # never in JSON text: json escapes control characters
_encode_text = json.encoder.encode_basestring  # type: ignore[attr-defined]


def _fragment_plan() -> tuple[tuple[int, str, int, str], ...]:
    """(field index or -1, attribute name, slot, JSON key prefix) of every member an event can give, in key order.

    The named attributes are members of their own; ``attr.NAME`` members all sort
    between ``append_last`` and ``billing_months``, so they open slot 2.
    """
    names = [(name, index, "") for name, index in
             [("event_id", Event._fields.index("event_id")), *_CONTENT_POSITIONS, ("details", Event._fields.index("details"))]]
    names += [(name, -1, name) for name in NAMED_ATTRIBUTES]
    plan = []
    for name, index, attribute in sorted(names):
        slot = sum(1 for key in _LEDGER_KEYS if key < name)
        plan.append((index, attribute, slot, f"{_encode_text(name)}:"))
    return tuple(plan)


def record_fragments(event: Event) -> str:
    """The event's own fields (event_id and content) as canonical JSON members, split where the ledger's fields go."""
    segments: list[list[str]] = [[], [], [], [], [], [], []]
    named: dict[str, str] = {}
    if event.attributes:
        for key, value in event.attributes:  # sorted by name
            if key.startswith(ATTR_PREFIX):
                segments[2].append(f"{_encode_text(key)}:{_encode_text(value)}")
            else:
                named[key] = value
    for index, attribute, slot, prefix in _PLAN:
        value = event[index] if index >= 0 else named.get(attribute)
        if value is not None:
            kind = type(value)
            if kind is str:
                segments[slot].append(prefix + _encode_text(value))
            elif kind is int:
                segments[slot].append(prefix + str(value))
            elif kind is date:
                segments[slot].append(f'{prefix}"{value.isoformat()}"')
            else:
                segments[slot].append(prefix + _encode_text(str(value)))
    return _SEPARATOR.join([",".join(part) for part in segments])


_PLAN = _fragment_plan()


def sealed_parts(fragments: str, *, sequence: int, append_last: int, recorded_at: str, actor: str, source: str
                 ) -> tuple[str, str]:
    """The canonical record's members before and after where its hash goes (comma-joined, without braces)."""
    parts = fragments.split(_SEPARATOR)
    head = [parts[0], f'"actor":{_encode_text(actor)}', parts[1]]
    if append_last:
        head.append(f'"append_last":{append_last}')
    head.append(parts[2])
    tail = (parts[3], f'"recorded_at":"{recorded_at}"', parts[4], f'"sequence":{sequence}', parts[5],
            f'"source":{_encode_text(source)}', parts[6])
    return ",".join(p for p in head if p), ",".join(p for p in tail if p)


def sealed_text(fragments: str, *, sequence: int, append_last: int, recorded_at: str, actor: str, source: str,
                hash: str | None = None) -> str:
    """The canonical record text from an event's fragments and the fields the ledger assigns (with ``hash``: as stored)."""
    head, tail = sealed_parts(fragments, sequence=sequence, append_last=append_last, recorded_at=recorded_at,
                              actor=actor, source=source)
    return "{" + ",".join(p for p in (head, f'"hash":"{hash}"' if hash else "", tail) if p) + "}"


def same_content(a: Event, b: Event) -> bool:
    return canonical(a.content()) == canonical(b.content())

