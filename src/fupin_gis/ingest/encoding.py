"""Text encoding of a Shapefile's ``.dbf``: from the ``.cpg``, the option, or detected from the bytes.

Detection reads the text fields' raw bytes and the language-driver byte (LDID), decodes samples
with each candidate and scores how much the result looks like real text: UTF-8 that decodes
strictly wins outright; between GBK/GB18030 and Big5 the share of common characters decides;
Latin-1 text shows as high bytes standing alone among ASCII letters.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from fupin_gis.errors import ImportRefused
from fupin_gis.ingest.decoding import field_name_refused
from fupin_gis.ingest.shapefile import dbf_field_names, dbf_text_samples, decode_cut, sidecar

# LDID byte -> code page (the ones seen on Chinese and Western survey files)
LDID_CODEPAGES = {0x4D: "gb18030", 0x7A: "gb18030", 0x78: "big5", 0x03: "cp1252", 0x57: None, 0x00: None, 0x01: "cp437"}
CPG_ALIASES = {
    "936": "gb18030",
    "cp936": "gb18030",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "950": "big5",
    "65001": "utf-8",
    "utf8": "utf-8",
    "1252": "cp1252",
    "88591": "latin-1",
}


@dataclass
class EncodingDecision:
    """The encoding chosen for a file and why."""

    name: str
    source: str  # cpg | detected | option | format
    confidence: float
    ldid: int | None = None
    preview: list[str] = field(default_factory=list)
    truncated: int = 0  # values cut inside a multi-byte character by the field width
    cpg_said: str | None = None  # a .cpg the text contradicted (the encoding was detected instead)

    def to_dict(self) -> dict:
        """JSON form for reports."""
        return {
            "name": self.name,
            "source": self.source,
            "confidence": round(self.confidence, 3),
            "ldid": self.ldid,
            "preview": self.preview[:8],
            **({"cpg_said": self.cpg_said} if self.cpg_said else {}),
        }


def normalise(name: str) -> str:
    """A Python codec name for a .cpg or option value ('936' → 'gb18030')."""
    key = name.strip().lower().replace("-", "").replace("_", "")
    key = key.removeprefix("ansi")
    resolved = CPG_ALIASES.get(key, name.strip().lower())
    codecs.lookup(resolved)  # LookupError for an unknown name
    return resolved


def _char_score(ch: str) -> float:
    """How plausible a character is in survey text: common CJK and ASCII high, symbols low."""
    o = ord(ch)
    if o < 0x80:
        return 1.0
    if 0x3000 <= o <= 0x303F or 0xFF01 <= o <= 0xFF5E:  # CJK and full-width punctuation
        return 0.8
    if 0x4E00 <= o <= 0x9FFF:
        try:
            b = ch.encode("gb2312")
        except UnicodeEncodeError:
            return 0.35  # traditional or rare
        return 1.0 if b[0] < 0xD8 else 0.55  # GB2312 level 1 (common) or level 2
    if 0xC0 <= o <= 0x17F:  # Latin letters with accents
        return 0.7
    return 0.0  # kana, Greek, Cyrillic, box drawing, private use, replacement…


def _score(samples: list[bytes], enc: str) -> tuple[float, int, list[str]]:
    ok, chars, total, cut = 0, 0, 0.0, 0
    texts = []
    for raw in samples:
        text, truncated = decode_cut(raw, enc)
        if text is None:
            continue
        ok += 1
        cut += truncated
        texts.append(text)
        for ch in text:
            chars += 1
            total += _char_score(ch)
    decoded_share = ok / len(samples)
    quality = total / chars if chars else 0.0
    return decoded_share * quality, cut, texts


def _latin_score(samples: list[bytes]) -> float:
    high = isolated = 0
    for raw in samples:
        for i, b in enumerate(raw):
            if b >= 0x80:
                high += 1
                prev_ascii = i == 0 or raw[i - 1] < 0x80
                next_ascii = i == len(raw) - 1 or raw[i + 1] < 0x80
                isolated += prev_ascii and next_ascii
    return isolated / high if high else 0.0


def detect_encoding(
    samples: list[bytes], ldid: int | None = None, names: list[bytes] | None = None
) -> EncodingDecision:
    """Choose the encoding of ``samples`` (raw text values) and ``names`` (raw field names).

    The names count as much as the values: a table of codes and numbers has all-ASCII values,
    and then its names alone say the encoding. The preview shows values first.
    """
    hint = LDID_CODEPAGES.get(ldid) if ldid is not None else None
    non_ascii = [s for s in samples if any(b >= 0x80 for b in s)][:2000]
    non_ascii += [n for n in names or [] if any(b >= 0x80 for b in n)]
    if not non_ascii:
        return EncodingDecision(
            hint or "utf-8", "detected", 1.0, ldid, [s.decode("ascii", "replace") for s in samples[:8]]
        )
    pool = non_ascii
    utf8, cut, texts = _score(pool, "utf-8")
    if utf8 > 0.9:
        return EncodingDecision("utf-8", "detected", min(0.99, utf8), ldid, texts[:8], cut)
    if _latin_score(pool) > 0.9:
        enc = hint if hint in ("cp1252", "cp437") else "cp1252"
        _, cut, texts = _score(pool, enc)
        return EncodingDecision(enc, "detected", 0.8, ldid, texts[:8], cut)
    scored = {enc: _score(pool, enc) for enc in ("gb18030", "big5")}
    if hint in scored:
        s, c, t = scored[hint]
        scored[hint] = (s + 0.1, c, t)  # the LDID byte tips close calls
    best = max(scored, key=lambda e: scored[e][0])
    others = [scored[e][0] for e in scored if e != best] + [utf8]
    score, cut, texts = scored[best]
    margin = score - max(others)
    confidence = max(0.0, min(0.99, 0.5 + margin))
    return EncodingDecision(best, "detected", confidence if score > 0.6 else min(confidence, 0.3), ldid, texts[:8], cut)


def looks_mojibake(values: list[str], encoding: str) -> list[str]:
    """Values that decode with ``encoding`` but are really text in another encoding.

    The test is exact rather than a list of suspicious letters (``ç`` is a real letter in
    Portuguese): the decoded text, encoded back, must not form better text as UTF-8 or GBK.
    """
    bad = []
    for v in values:
        if "锟斤拷" in v or "\ufffd" in v:
            bad.append(v)
            continue
        letters = [c for c in v if ord(c) >= 0x80]
        if not letters:
            continue
        own = sum(_char_score(c) for c in letters) / len(letters)
        try:
            raw = v.encode(encoding)
        except (UnicodeEncodeError, LookupError):
            continue
        for other in ("utf-8", "gb18030"):
            if codecs.lookup(other).name == codecs.lookup(encoding).name:
                continue
            try:
                alt = raw.decode(other)
            except UnicodeDecodeError:
                continue
            alt_letters = [c for c in alt if ord(c) >= 0x80]
            if alt_letters and sum(_char_score(c) for c in alt_letters) / len(alt_letters) > max(own, 0.85):
                bad.append(v)
                break
    return bad


def decide_for_shapefile(shp: Path, option: str | None, display: str | None = None) -> EncodingDecision:
    """The encoding of a Shapefile: the option, else its .cpg, else detected from the .dbf's
    field names and values; a field name that the encoding cannot decode is refused by name.
    ``display``: the file as the user knows it (an archive's member path), for messages."""
    label = display or shp.name
    dbf = sidecar(shp, ".dbf")
    ldid, samples = dbf_text_samples(dbf) if dbf else (None, [])
    names = dbf_field_names(dbf) if dbf else []
    texts = samples + names
    if option:
        name = normalise(option)
        if not _fits(texts, name):
            found = detect_encoding(samples, ldid, names).name
            raise ImportRefused(
                f"{label}：文字不是 {name} 编码（像是 {found}）；请改用 --encoding {found}",
                f"{label}: the text is not {name} (it looks like {found}); use --encoding {found}",
                file=label,
                field="encoding",
                value=option,
            )
        return EncodingDecision(name, "option", 1.0, ldid, [s.decode(name, "replace") for s in samples[:8]])
    cpg = sidecar(shp, ".cpg")
    declared = cpg.read_text("ascii", "replace").strip() if cpg is not None else ""
    name = ""
    if declared:
        with contextlib.suppress(LookupError):  # a .cpg naming no codec: detect
            name = normalise(declared)
        if name and _fits(texts, name):
            return EncodingDecision(name, "cpg", 1.0, ldid, [s.decode(name, "replace") for s in samples[:8]])
    decision = detect_encoding(samples, ldid, names)
    if name:  # a .cpg that the bytes contradict (tools write "UTF-8" over GBK text)
        decision.cpg_said = declared
    for position, raw in enumerate(names, 1):
        if decode_cut(raw, decision.name)[0] is None:
            raise field_name_refused(label, raw, position, decision.name)
    return decision


def _fits(texts: list[bytes], name: str) -> bool:
    """Whether every text decodes with ``name`` (a value or field name cut in its last character counts)."""
    return all(decode_cut(t, name)[0] is not None for t in texts)


# MapInfo's charset names for the encodings the detector returns (and back).
MAPINFO_CHARSETS = {
    "gb18030": "WindowsSimpChinese",
    "gbk": "WindowsSimpChinese",
    "cp936": "WindowsSimpChinese",
    "big5": "WindowsTradChinese",
    "cp1252": "WindowsLatin1",
    "cp437": "WindowsLatin1",
}
_CHARSET_LINE = re.compile(rb'^(\s*!?charset\s+"?)([A-Za-z0-9_-]+)("?)', re.I | re.M)


def decide_for_mapinfo(path: Path, option: str | None) -> EncodingDecision | None:
    """The encoding of a MapInfo .tab/.mif whose header says ``Neutral`` (or what ``option`` says).

    GDAL decodes the charset a file declares; a file declaring none (``Neutral``) is read as
    bytes, which breaks on GBK text. Then the text is detected from the .dat (dBase) or .mid, and
    the header of the working copy is made to declare it, so GDAL decodes it. None when the file
    declares its charset and no option overrides it.
    """
    header = path.read_bytes()[:4096]
    found = _CHARSET_LINE.search(header)
    declared = found.group(2).decode("ascii").lower() if found else "neutral"
    if declared != "neutral" and not option:
        return None
    if path.suffix.lower() == ".tab":
        dat = sidecar(path, ".dat")
        ldid, samples = dbf_text_samples(dat) if dat else (None, [])
    else:
        mid = sidecar(path, ".mid")
        ldid, samples = (
            None,
            [
                v
                for line in (mid.read_bytes().splitlines()[:5000] if mid else [])
                for v in line.split(b",")
                if v.strip(b' "')
            ],
        )
    if option:
        name = normalise(option)
        decision = EncodingDecision(name, "option", 1.0, ldid, [s.decode(name, "replace") for s in samples[:8]])
    else:
        decision = detect_encoding(samples, ldid)
    charset = MAPINFO_CHARSETS.get(decision.name)
    if charset is not None and found is not None:
        text = path.read_bytes()
        start, end = found.span(2)
        path.write_bytes(text[:start] + charset.encode() + text[end:])
    return decision
