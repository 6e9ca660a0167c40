"""A ledger's settings: its currency and the fixed rates of other currencies into it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from ledger.currencies import CurrencyError, currency_code
from ledger.errors import UsageError


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

    @classmethod
    def new(cls, currency: str, rates: Iterable[tuple[str, Decimal]] = ()) -> LedgerSettings:
        """The settings of a new ledger: ISO 4217 codes, upper-cased (``usd`` is USD); each rate positive, once."""
        try:
            code = currency_code(currency)
        except CurrencyError as e:
            raise UsageError(f"--currency: {e}") from None
        checked: dict[str, Decimal] = {}
        for given, value in rates:
            try:
                other = currency_code(given)
            except CurrencyError as e:
                raise UsageError(f"--rate {given}={value}: {e}") from None
            if other == code:
                raise UsageError(f"--rate {given}={value}: {other} is the ledger currency")
            if other in checked:
                raise UsageError(f"--rate {given}={value}: {other} is given twice")
            if not value > 0:
                raise UsageError(f"--rate {given}={value}: a rate must be positive")
            checked[other] = value
        return cls(currency=code, rates=tuple(sorted(checked.items())))

    def rate(self, currency: str) -> Decimal | None:
        if currency == self.currency:
            return Decimal(1)
        for code, value in self.rates:
            if code == currency:
                return value
        return None
