"""Currency codes (ISO 4217): the ledger's currency, its rates and every event's ``currency`` are one of these.

A code is upper-cased on entry (``usd`` is USD), so one currency is never two.
The list is ISO 4217's current codes (List One, 2025), less XTS (reserved for
tests) and XXX (no currency), and the codes withdrawn since 2010, which
migrated history may still carry.
"""

from __future__ import annotations

import re

CURRENT = frozenset(
    """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
    CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW
    KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN
    NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
    SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW
    UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW
    ZWG
    """.split()
)
WITHDRAWN = frozenset("ANG BYR CUC EEK HRK LTL LVL MRO SLL STD VEF ZMK ZWL".split())
CODES = CURRENT | WITHDRAWN

_LETTERS = re.compile(r"[A-Za-z]{3}")


class CurrencyError(ValueError):
    """Not a currency code."""


def currency_code(value: object) -> str:
    """``value`` as an ISO 4217 code, upper-cased; refused (CurrencyError) when it is not one."""
    if not isinstance(value, str) or not _LETTERS.fullmatch(value):
        raise CurrencyError(f"{value!r} is not a currency code (three letters, ISO 4217, e.g. USD)")
    code = value.upper()
    if code not in CODES:
        raise CurrencyError(f"{value!r} is not an ISO 4217 currency code (e.g. USD, EUR, GBP)")
    return code
