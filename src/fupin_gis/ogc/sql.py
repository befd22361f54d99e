"""SQL text for the OGC core: one quoting helper for identifiers, values always bound.

Identifiers come from the catalog (validated names) and are still quoted through :func:`ident`
(:mod:`fupin_gis.db.sql`, the project's one helper), so no name ever reaches SQL unquoted; values are bind parameters,
named by a :class:`Params` collector so fragments built apart never collide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fupin_gis.db.sql import column, ident

__all__ = ["Params", "column", "ident"]


@dataclass
class Params:
    """Bind parameters of one statement: :meth:`bind` returns the placeholder of a new value."""

    values: dict[str, Any] = field(default_factory=dict)
    prefix: str = "p"

    def bind(self, value: Any) -> str:
        """A new parameter holding ``value``; its placeholder (``:p3``)."""
        name = f"{self.prefix}{len(self.values)}"
        self.values[name] = value
        return f":{name}"
