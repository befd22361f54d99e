"""Problems found while validating an import, in Chinese and English."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_LISTED = 10_000


@dataclass
class Problem:
    """One problem: which file, feature (0-based index in the file) and field, and what is wrong."""

    code: str
    message: str
    message_en: str
    severity: str = "error"  # error: blocks the import; warning: reported, imported
    file: str | None = None
    feature: int | None = None
    field: str | None = None
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


@dataclass
class Problems:
    """Every problem of an import; lists the first ``MAX_LISTED`` and counts them all."""

    items: list[Problem] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    errors: int = 0

    def add(self, problem: Problem) -> None:
        """Record a problem."""
        self.counts[(problem.severity, problem.code)] += 1
        if problem.severity == "error":
            self.errors += 1
        if len(self.items) < MAX_LISTED:
            self.items.append(problem)

    def summary(self) -> list[dict[str, Any]]:
        """Counts per severity and code."""
        return [{"severity": s, "code": c, "count": n} for (s, c), n in sorted(self.counts.items())]
