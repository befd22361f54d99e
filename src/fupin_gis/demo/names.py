"""Place names and statistical codes for the demo: real ones for 通江县, synthetic beyond them."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np

_CHARS = (
    "青石桥河坝岭沟湾坪山溪塘坎垭梁庙寺龙凤马牛羊松柏竹桃李花金银铁铜安平兴隆永和新胜利红光团结双福寿明月白云高观长岩"
)


def _divisions() -> dict[str, str]:
    text = resources.files("fupin_gis.demo").joinpath("data/divisions.csv").read_text("utf-8")
    return {row["code"]: row["name"] for row in csv.DictReader(text.splitlines())}


def short_village_name(name: str) -> str:
    """'龙王村村民委员会' → '龙王村'; '大兴村民委员会' → '大兴村'; '壁州社区居民委员会' → '壁州社区'."""
    if name.endswith("村民委员会"):
        stem = name[: -len("村民委员会")]
        return stem if stem.endswith("村") else stem + "村"
    for suffix in ("社区居民委员会", "社区居委会", "居民委员会"):
        if name.endswith(suffix):
            return name[: -len(suffix)] + "社区"
    return name


def synthetic_name(rng: np.random.Generator, suffix: str) -> str:
    """Two characters from a pool of common place-name characters, plus ``suffix``."""
    a, b = rng.choice(len(_CHARS), 2, replace=False)
    return _CHARS[a] + _CHARS[b] + suffix


def real_units(county_code: str) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
    """Real rural townships of a county (no 街道) and their villages (code, short name)."""
    divisions = _divisions()
    townships = [
        (code, name)
        for code, name in sorted(divisions.items())
        if len(code) == 9 and code.startswith(county_code) and code[6] in "12"
    ]
    villages: dict[str, list[tuple[str, str]]] = {}
    for code, name in sorted(divisions.items()):
        if len(code) == 12 and code[:9] in dict(townships):
            villages.setdefault(code[:9], []).append((code, short_village_name(name)))
    return townships, villages
