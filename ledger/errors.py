"""revledger's own small exception hierarchy, and input problems as values.

Library and driver errors are wrapped in these; the command line turns each
into one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason an input row is refused.

    Attributes:
      file: the input's name (``cli`` for a command-line event).
      line: its 1-based line number in that file (0 when not line-bound).
      field: the field at fault (``-`` when the row as a whole is at fault).
      message: the reason, in plain words.
    """

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message}


class RevledgerError(Exception):
    """Base of every error revledger reports to its user."""


class LedgerNotFoundError(RevledgerError):
    """No ledger at that location (run `revledger init`)."""


class LedgerExistsError(RevledgerError):
    """A ledger already exists at that location."""


class StorageError(RevledgerError):
    """The event store or a read model could not be read or written."""


class ConflictError(RevledgerError):
    """Another writer appended first and retrying did not resolve it."""


class UsageError(RevledgerError):
    """A command was given options that cannot work together."""


class RejectedError(RevledgerError):
    """Input refused: every problem found, collected in one pass."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(f"{len(self.problems)} {noun}; nothing was written")
