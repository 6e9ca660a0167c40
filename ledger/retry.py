"""One retry loop for appends that may lose a race to another writer.

The log is one sequence, so of two writers appending sequence N+1 one wins
(SPEC §9's chain stays linear) and the other gets a ConflictError: it then
re-validates against what is there now and tries again, after a random,
growing wait so that racing writers spread out instead of colliding again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from ledger.errors import ConflictError

APPEND_ATTEMPTS = 8
BACKOFF_SECONDS = 0.01

T = TypeVar("T")


class Retry(Exception):
    """Raised by an attempt that found the log moved on before it appended (it will be tried again)."""


def with_retries(attempt: Callable[[], T]) -> T:
    """Run ``attempt`` until it neither loses a race (ConflictError) nor asks to retry; give up after APPEND_ATTEMPTS."""
    for number in range(APPEND_ATTEMPTS):
        if number:
            time.sleep(random.uniform(0, BACKOFF_SECONDS * 2**number))
        try:
            return attempt()
        except ConflictError:
            if number == APPEND_ATTEMPTS - 1:
                raise
        except Retry:
            continue
    raise ConflictError(f"other writers kept appending; gave up after {APPEND_ATTEMPTS} attempts")
