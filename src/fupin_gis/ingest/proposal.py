"""Read a file's columns: for each one a target (a field, one value of an enum field as a flag, or
``extra``), a score and the evidence, from the catalog alone — names, labels, aliases, enum words,
ranges and digits — and from a sample of the column's values.

The policy (``decide``) never guesses in silence: certain readings are applied; probable ones are
applied and reported first with their evidence; a column that looks decisive (yes/no words, the
vocabulary of an enum field, numbers in a decisive field's range, administrative codes) without a
confident target is asked about (``mapping_needed``), naming the candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any

import pandas as pd
from pypinyin import Style, lazy_pinyin

from fupin_gis.catalog import Catalog, FieldSpec, LayerSpec
from fupin_gis.ingest.values import FALSE_WORDS, TRUE_WORDS, enum_words, norm, parse_number

CERTAIN = 0.95
PROBABLE = 0.6
MARGIN = 0.15  # a probable reading must lead the next candidate by this much
CJK = re.compile(r"[\u3400-\u9fff]")
# how a yes/no column's name begins (是否桥梁, SFQL: the pinyin initials, is_bridge)
YES_NO_PREFIXES = ("是否", "有无", "有否", "是不是", "is_", "has_", "sf", "yw", "is", "has")


@dataclass
class Candidate:
    """One possible target of a column."""

    target: str  # a field name
    score: float
    evidence: list[str]
    value: str | None = None  # for a flag: the enum key a "yes" becomes

    @property
    def label(self) -> str:
        """``field`` or ``field=value`` (a flag)."""
        return self.target if self.value is None else f"{self.target}={self.value}"


@dataclass
class Reading:
    """What the importer makes of one source column."""

    source: str
    samples: list[str]
    candidates: list[Candidate] = field(default_factory=list)
    kind: str = "extra"  # field | flag | extra
    target: str | None = None
    value: str | None = None
    score: float = 0.0
    evidence: list[str] = field(default_factory=list)
    decision: str = "extra"  # certain | probable | chosen | asked | extra | ignored
    decisive: bool = False  # the values look like something a rule reads

    def apply(self, cand: Candidate, decision: str) -> None:
        """Take ``cand`` as this column's reading."""
        self.kind = "field" if cand.value is None else "flag"
        self.target, self.value, self.score, self.evidence = cand.target, cand.value, cand.score, cand.evidence
        self.decision = decision

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the report's ``mapping``)."""
        return {
            "source": self.source,
            "target": None
            if self.target is None
            else (self.target if self.value is None else f"{self.target}={self.value}"),
            "field": self.target,
            "value": self.value,
            "kind": self.kind,
            "score": round(self.score, 2),
            "decision": self.decision,
            "evidence": self.evidence,
            "samples": self.samples,
            "candidates": [
                {"target": c.label, "score": round(c.score, 2), "evidence": c.evidence} for c in self.candidates[:4]
            ],
        }


# -- names ------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _pinyin(word: str) -> tuple[str, str]:
    """(initials, full pinyin) of the Chinese characters of ``word``, lower case, without tones."""
    syllables = [s for s in lazy_pinyin(word, style=Style.NORMAL, errors="ignore") if s.isalpha()]
    return "".join(s[0] for s in syllables).lower(), "".join(syllables).lower()


def _latin(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", norm(text))


def _one_char_apart(a: str, b: str) -> bool:
    return len(a) == len(b) >= 2 and sum(x != y for x, y in zip(a, b, strict=True)) == 1


def _dice(a: str, b: str) -> float:
    sa, sb = set(a), set(b)
    return 2 * len(sa & sb) / (len(sa) + len(sb)) if sa and sb else 0.0


def name_score(column: str, words: tuple[str, ...]) -> tuple[float, str]:
    """How much ``column`` looks like one of ``words`` (a field's name, label and aliases), and why."""
    col = norm(column)
    col_plain = col.replace("_", "").replace("-", "")
    best, why = 0.0, ""

    def take(score: float, reason: str) -> None:
        nonlocal best, why
        if score > best:
            best, why = score, reason

    cjk_col = bool(CJK.search(col))
    for word in words:
        w = norm(word)
        if not w:
            continue
        w_plain = w.replace("_", "").replace("-", "")
        if col in (w, w_plain) or col_plain in (w, w_plain):
            take(1.0, f"名称 name = “{word}”")
            continue
        if cjk_col and CJK.search(w):
            if _one_char_apart(col, w):  # 运行状态 / 运行状况; of two characters only one is shared
                take(0.75 if len(w) >= 3 else 0.45, f"与“{word}”只差一字 / one character from '{word}'")
            elif len(w) >= 2 and w in col:
                take(0.45 + 0.35 * len(w) / len(col), f"含“{word}” / contains '{word}'")
            elif len(col) >= 2 and col in w:
                take(0.6, f"是“{word}”的一部分 / part of '{word}'")
            else:
                d = _dice(col, w)
                if d >= 0.5:
                    take(0.2 + 0.5 * d, f"与“{word}”字符相近 / shares characters with '{word}'")
            continue
        if cjk_col:
            continue
        latin = _latin(column)
        if not latin:
            continue
        if CJK.search(w):
            initials, full = _pinyin(word)
            if len(initials) >= 2 and latin == initials:
                take(0.8, f"“{word}”的拼音首字母 / pinyin initials of '{word}'")
            elif len(full) >= 4 and latin == full:
                take(0.85, f"“{word}”的拼音 / pinyin of '{word}'")
            elif len(initials) >= 3 and _one_char_apart(latin, initials):
                take(0.5, f"与“{word}”的拼音首字母只差一个 / one letter from the initials of '{word}'")
            elif len(full) >= 6 and full in latin:
                take(0.7, f"含“{word}”的拼音 / contains the pinyin of '{word}'")
            continue
        wl = _latin(word)
        if len(wl) >= 4 and wl in latin:
            take(0.45 + 0.35 * len(wl) / len(latin), f"含 '{word}' / contains '{word}'")
        elif len(wl) >= 4:
            ratio = SequenceMatcher(None, latin, wl).ratio()
            if ratio >= 0.8:
                take(0.3 + 0.5 * ratio, f"拼写接近 '{word}' / spelt like '{word}'")
    return best, why


def _truncated(column: str, spec: LayerSpec) -> str | None:
    """The one field whose name or alias a column cut to the .dbf's 10 bytes begins, if any."""
    if len(column.encode("utf-8")) < 8:
        return None
    col = norm(column)
    hits = {f.name for f in spec.fields for w in (f.name, f.label, *f.aliases) if norm(w).startswith(col)}
    return hits.pop() if len(hits) == 1 else None


# -- values -----------------------------------------------------------------------------------

YES = {norm(w) for w in TRUE_WORDS}
NO = {norm(w) for w in FALSE_WORDS}


def distinct(series: pd.Series) -> list[str]:
    """The distinct non-empty values of a sample, as normalised text."""
    out = []
    for v in pd.unique(series.dropna()):
        text = norm(str(v))
        if text and text not in ("nan", "none", "null", "<null>"):
            out.append(text)
    return out


def yes_no_share(values: list[str]) -> float:
    """Share of ``values`` that are yes/no words."""
    return sum(v in YES or v in NO for v in values) / len(values) if values else 0.0


def is_yes_no(values: list[str]) -> bool:
    """A yes/no column: two or more yes/no words, or one yes word that is not a digit (a lone 1 may count)."""
    if not values or yes_no_share(values) < 0.9:
        return False
    return len(values) > 1 or (values[0] in YES and not values[0].isdigit())


def value_fit(f: FieldSpec, values: list[str], catalog: Catalog) -> float | None:
    """Share of a column's distinct values that fit field ``f`` (None: the values say nothing)."""
    if not values:
        return None
    if f.type == "enum":
        words = enum_words(f, catalog)
        return sum(v in words for v in values) / len(values)
    if f.type == "boolean":
        return yes_no_share(values)
    if f.type in ("integer", "number"):
        fit = 0
        for v in values:
            number, issue = parse_number(v, f.type == "integer")
            low, high = f.min, f.max
            if number is not None and (issue is None or issue.severity != "error"):
                fit += (low is None or number >= low) and (high is None or number <= high)
        return fit / len(values)
    if f.type == "code" and f.digits:
        return sum(v.isdigit() and len(v) == f.digits for v in values) / len(values)
    return None


def looks_decisive(spec: LayerSpec, values: list[str], catalog: Catalog) -> bool:
    """Values a rule could read: yes/no words, a decisive enum's words, a decisive field's numbers or codes."""
    if not values:
        return False
    if is_yes_no(values):
        return True
    for f in spec.fields:
        if not f.decisive:
            continue
        fit = value_fit(f, values, catalog)
        if fit is None:
            continue
        if f.type == "enum" and fit >= 0.5 or f.type in ("integer", "number", "code") and fit == 1.0:
            return True
    return False


# -- candidates -------------------------------------------------------------------------------


def candidates(spec: LayerSpec, catalog: Catalog, column: str, values: list[str]) -> list[Candidate]:
    """Every target ``column`` might be, best first."""
    out: list[Candidate] = []
    cut = _truncated(column, spec)
    for f in spec.fields:
        name, why = name_score(column, (f.name, f.label, *f.aliases))
        if cut == f.name and name < 0.97:
            name, why = 0.97, f"截断的字段名（.dbf 限 10 字节）/ a name cut to 10 bytes: {f.label}"
        fit = value_fit(f, values, catalog)
        if f.type == "enum" and is_yes_no(values):
            out.extend(_flags(f, catalog, column, values))
        evidence = [why] if why else []
        if fit is not None:
            evidence.append(f"{fit:.0%} 的取值符合 / of the distinct values fit {f.name}")
        if name >= CERTAIN:
            score = name
        elif name > 0:
            score = name * 0.9 if fit is None else name * 0.6 + fit * 0.4
            if fit is not None and fit < 0.3:
                score *= 0.6  # the values contradict the name
        elif fit is None or fit < 0.8:
            continue
        elif f.type == "enum":
            score = 0.7 * fit  # the field's own vocabulary
        elif f.type == "code":
            score = 0.6 * fit if (f.digits or 0) >= 9 else 0.3 * fit
        else:
            score = 0.3 * fit  # yes/no or numbers alone fit many fields
        out.append(Candidate(f.name, round(score, 3), evidence))
    out.sort(key=lambda c: -c.score)
    return out


def _flags(f: FieldSpec, catalog: Catalog, column: str, values: list[str]) -> list[Candidate]:
    """``column`` as one value of enum field ``f``: named like the value, its cells yes/no."""
    col = norm(column)
    for prefix in YES_NO_PREFIXES:
        if col.startswith(prefix) and len(col) > len(prefix):
            col = col[len(prefix) :].lstrip("_")
            break
    out = []
    for v in f.enum_values(catalog):
        words = tuple(w for w in (v.label, v.en, *v.synonyms) if len(norm(w)) >= (2 if CJK.search(w) else 4))
        score, why = name_score(col, words)
        if score >= 0.6:
            out.append(
                Candidate(
                    f.name,
                    round(0.3 + 0.6 * score, 3),
                    [why, f"是/否 列：是 → {v.label}（{f.label}）/ a yes/no column: yes → {f.name}={v.key}"],
                    v.key,
                )
            )
    return out
