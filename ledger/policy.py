"""The recognition policy (SPEC §13): when churn counts, how long a lapse may last, how movements are netted.

A policy is a lens over the whole history, not a change effective on a date:
it is versioned on the log axis by ``policy_changed`` events, so every answer
as known at T uses the policy in force at T.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from ledger.errors import UsageError

CANCEL_DATE = "cancel_date"
TERM_END = "term_end"
DAY = "day"
MONTH = "month"
CHURN_RECOGNITION = (CANCEL_DATE, TERM_END)
GRAINS = (DAY, MONTH)
MAX_GRACE_DAYS = 366
SETTINGS = ("churn_recognition", "reactivation_grace_days", "movement_grain")


@dataclass(frozen=True, slots=True)
class Policy:
    """The three settings of SPEC §13; the defaults are the rules of §3–§6 as written.

    Attributes:
      churn_recognition: ``cancel_date`` (a cancel takes effect on its date) or
        ``term_end`` (at the end of the line's billing term in progress).
      reactivation_grace_days: a lapse of at most this many days is not churn (0–366).
      movement_grain: ``day`` (one movement per customer and day) or ``month``
        (netted per calendar month, dated its last day).
    """

    churn_recognition: str = CANCEL_DATE
    reactivation_grace_days: int = 0
    movement_grain: str = DAY

    @property
    def is_default(self) -> bool:
        return self == DEFAULT

    @property
    def monthly(self) -> bool:
        return self.movement_grain == MONTH

    def as_json(self) -> dict[str, Any]:
        """As every JSON report carries it: the grace an integer, the others strings."""
        return {
            "churn_recognition": self.churn_recognition,
            "reactivation_grace_days": self.reactivation_grace_days,
            "movement_grain": self.movement_grain,
        }

    def text(self) -> str:
        """The canonical JSON a ``policy_changed`` event carries."""
        return json.dumps(self.as_json(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str) -> Policy:
        data = json.loads(text)
        return cls(str(data["churn_recognition"]), int(data["reactivation_grace_days"]), str(data["movement_grain"]))

    def with_settings(self, pairs: list[str], option: str = "--policy") -> Policy:
        """This policy with ``KEY=VALUE`` settings applied (settings not given keep their value)."""
        policy = self
        seen: set[str] = set()
        for pair in pairs:
            key, sep, value = pair.partition("=")
            key, value = key.strip(), value.strip()
            if not sep:
                raise UsageError(f"{option} {pair!r}: write it as KEY=VALUE, e.g. churn_recognition=term_end")
            if key not in SETTINGS:
                raise UsageError(f"{option} {pair!r}: no setting {key!r} (the settings are {', '.join(SETTINGS)})")
            if key in seen:
                raise UsageError(f"{option}: {key} is given twice")
            seen.add(key)
            policy = replace(policy, **{key: _value(key, value, option)})
        return policy


def _value(key: str, value: str, option: str) -> Any:
    if key == "churn_recognition":
        if value not in CHURN_RECOGNITION:
            raise UsageError(f"{option} {key}={value}: one of {', '.join(CHURN_RECOGNITION)}")
        return value
    if key == "movement_grain":
        if value not in GRAINS:
            raise UsageError(f"{option} {key}={value}: one of {', '.join(GRAINS)}")
        return value
    # ASCII digits only: str.isdigit also takes '²' (which int() refuses) and other scripts' digits
    if not (value.isascii() and value.isdigit()) or not 0 <= int(value) <= MAX_GRACE_DAYS:
        raise UsageError(f"{option} {key}={value}: a whole number of days from 0 to {MAX_GRACE_DAYS}")
    return int(value)


DEFAULT = Policy()
