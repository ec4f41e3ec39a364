"""The project's exception tree. Callers catch the specific class they can handle.

SupportBotError
├── ConfigurationError      settings missing or unsafe (placeholder secret in production)
├── IdentityError           a customer token is missing, malformed, expired or forged
├── NotFoundError           the customer, order or subscription does not exist
├── InvalidRequestError     a request that cannot be carried out as asked
│                           (renew a cancelled plan, unknown time zone, ...)
└── ImportValidationError   an import file has problems; carries every problem found
"""

from __future__ import annotations

from dataclasses import dataclass


class SupportBotError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigurationError(SupportBotError):
    pass


class IdentityError(SupportBotError):
    pass


class NotFoundError(SupportBotError):
    pass


class InvalidRequestError(SupportBotError):
    pass


@dataclass(frozen=True)
class ImportProblem:
    """One problem in an import file: where (1-based row, field) and what."""

    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.message}"


class ImportValidationError(SupportBotError):
    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"import rejected, nothing was imported; {len(problems)} problem(s):\n{lines}")
