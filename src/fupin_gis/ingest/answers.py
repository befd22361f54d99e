"""The engineer's answers as typed on the command line or a form: ``--map SRC=DST``,
``--set FIELD=VALUE`` and ``--values FIELD:SRC=DST``, one parser for the CLI and the API."""

from __future__ import annotations

from fupin_gis.errors import InvalidInput


def pairs(items: list[str], option: str) -> dict[str, str]:
    """``SRC=DST`` items as a dict, or InvalidInput naming the option and the item."""
    out = {}
    for item in items:
        if "=" not in item:
            raise InvalidInput(
                f"{option} 需要 源=目标 形式：“{item}”",
                f"{option} needs SRC=DST, got '{item}'",
                field=option,
                value=item,
            )
        src, dst = item.split("=", 1)
        out[src.strip()] = dst.strip()
    return out


def value_maps(items: list[str]) -> dict[str, dict[str, str]]:
    """``FIELD:SRC=DST`` items (``DST`` of ``-``: empty) as field → source word → value."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        field, sep, rest = item.partition(":")
        if not sep or "=" not in rest or not field.strip():
            raise InvalidInput(
                f"--values 需要 字段:源值=取值 形式：“{item}”",
                f"--values needs FIELD:SRC=DST, got '{item}'",
                field="values",
                value=item,
            )
        src, dst = rest.split("=", 1)
        out.setdefault(field.strip(), {})[src.strip()] = dst.strip()
    return out
