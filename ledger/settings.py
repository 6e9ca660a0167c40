"""A ledger's settings: its currency and the fixed rates of other currencies into it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class LedgerSettings:
    """Attributes:
      currency: the ledger currency (ISO 4217 code) every figure is reported in.
      rates: fixed conversion rates, (currency, units of ledger currency per unit), set at init.
        Rates never change afterwards, so converting never restates history.
      ledger_id: a random id given at init, so a read model can tell whose log it was built from.
    """

    currency: str = "USD"
    rates: tuple[tuple[str, Decimal], ...] = ()
    ledger_id: str = ""

    def rate(self, currency: str) -> Decimal | None:
        if currency == self.currency:
            return Decimal(1)
        for code, value in self.rates:
            if code == currency:
                return value
        return None
