"""The files of a Shapefile as they arrive: sidecars, the ``.shx`` index and the ``.dbf`` table.

The ``.dbf`` is read here byte by byte — its header (field descriptors of 32 bytes from byte 32,
the name in the first 11), samples of its text values for encoding detection, and a scan of every
text value for bytes the chosen encoding cannot decode (GDAL would drop them in silence, and warns
of it once per process only). MapInfo's ``.dat`` is the same dBase format.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DELETED = 0x2A  # '*' in a record's first byte: the record was deleted


@dataclass(frozen=True)
class DbfField:
    """One field descriptor of a .dbf header: the raw name, the type letter and where it sits."""

    name: bytes
    kind: str
    offset: int  # in the record (byte 0 is the deletion flag)
    length: int


@dataclass(frozen=True)
class DbfHeader:
    """What a .dbf header says: record count and sizes, the language-driver byte, the fields."""

    records: int
    header_length: int
    record_length: int
    ldid: int
    fields: list[DbfField]

    @property
    def text_fields(self) -> list[DbfField]:
        """The character fields (type C): the ones whose bytes need an encoding."""
        return [f for f in self.fields if f.kind == "C"]


@dataclass(frozen=True)
class Undecodable:
    """A text field with values that do not decode: the first such record and how many there are."""

    field: bytes  # the field's raw name
    record: int  # 0-based
    raw: bytes
    count: int


def read_header(dbf: Path) -> DbfHeader | None:
    """The header of ``dbf``; None when the file is too short to hold one."""
    with dbf.open("rb") as fh:
        head = fh.read(32)
        if len(head) < 32:
            return None
        nrec, hlen, rlen = struct.unpack("<IHH", head[4:12])
        fields = []
        offset = 1
        while len(desc := fh.read(32)) == 32 and desc[0] != 0x0D:
            fields.append(DbfField(desc[:11].split(b"\x00", 1)[0], chr(desc[11]), offset, desc[16]))
            offset += desc[16]
    return DbfHeader(nrec, hlen, rlen, head[29], fields)


def dbf_field_names(dbf: Path) -> list[bytes]:
    """The raw field names of a .dbf header."""
    header = read_header(dbf)
    return [f.name for f in header.fields] if header else []


def dbf_text_samples(dbf: Path, max_records: int = 5000) -> tuple[int | None, list[bytes]]:
    """The LDID byte and the raw bytes of text values (non-empty) of the first records."""
    header = read_header(dbf)
    if header is None:
        return None, []
    samples = []
    with dbf.open("rb") as fh:
        fh.seek(header.header_length)
        for _ in range(min(header.records, max_records)):
            rec = fh.read(header.record_length)
            if len(rec) < header.record_length:
                break
            if rec[0] == DELETED:
                continue
            for f in header.text_fields:
                value = rec[f.offset : f.offset + f.length].rstrip(b" \x00")
                if value:
                    samples.append(value)
    return header.ldid, samples


def decode_cut(raw: bytes, enc: str) -> tuple[str | None, bool]:
    """Strict decode; a value cut inside its last character (field width) still counts, flagged."""
    try:
        return raw.decode(enc), False
    except UnicodeDecodeError as exc:
        if exc.end >= len(raw) and exc.start >= len(raw) - 3:
            try:
                return raw[: exc.start].decode(enc), True
            except UnicodeDecodeError:
                return None, False
        return None, False


def undecodable_values(dbf: Path, encoding: str, block: int = 65536) -> list[Undecodable]:
    """Every text field of ``dbf`` holding values that ``encoding`` cannot decode.

    Parameters
    ----------
    dbf
        The .dbf (or MapInfo .dat) file.
    encoding
        A Python codec name.
    block
        Records read at a time.

    Returns
    -------
    list of Undecodable
        One per field with such values, in the order of the header. Fields whose bytes are all
        ASCII are passed over in numpy, and the others' values decoded once per distinct value
        (told apart by a 64-bit hash of their bytes).
    """
    header = read_header(dbf)
    if header is None or not header.text_fields or header.record_length == 0:
        return []
    size = dbf.stat().st_size
    nrec = min(header.records, max(0, (size - header.header_length) // header.record_length))
    fields = [f for f in header.text_fields if f.offset + f.length <= header.record_length]  # a damaged header
    if nrec == 0 or not fields:
        return []
    found: dict[DbfField, Undecodable] = {}
    seen: dict[DbfField, dict[int, bool]] = {f: {} for f in fields}  # value digest -> decodes
    table = np.memmap(dbf, np.uint8, "r", header.header_length, (nrec, header.record_length))
    for start in range(0, nrec, block):
        recs = np.asarray(table[start : start + block])  # a plain view: cheap to index
        alive = recs[:, 0] != DELETED
        high = np.bitwise_or.reduce(recs, axis=0) & 0x80  # per byte column: one pass over the block
        for f in fields:
            if high[f.offset : f.offset + f.length].any():
                _check_field(recs, alive, start, f, encoding, found, seen[f])
    del table  # the map closes with its last reference
    return [found[f] for f in header.fields if f in found]


# Odd multipliers for a 64-bit hash of a value's bytes, one per 8-byte word (fields are ≤ 255 bytes).
_MIX = np.array([0x9E3779B97F4A7C15 * (2 * i + 1) % 2**64 for i in range(32)], dtype=np.uint64)


def _check_field(
    recs: np.ndarray,
    alive: np.ndarray,
    start: int,
    f: DbfField,
    encoding: str,
    found: dict[DbfField, Undecodable],
    seen: dict[int, bool],
) -> None:
    """Decode each distinct value of field ``f`` once (``seen`` remembers them across blocks);
    record the failures in ``found``."""
    rows = np.arange(len(recs)) if alive.all() else np.flatnonzero(alive)
    words = np.zeros((rows.size, -(-f.length // 8)), np.uint64)
    cells = words.view(np.uint8)  # one copy of the field, zero-padded to whole words
    cells[:, : f.length] = (
        recs[rows, f.offset : f.offset + f.length] if rows.size < len(recs) else recs[:, f.offset : f.offset + f.length]
    )
    with np.errstate(over="ignore"):
        digest = words.dot(_MIX[: words.shape[1]])
    digests, first, counts = np.unique(digest, return_index=True, return_counts=True)
    for key, index, count in zip(digests.tolist(), first.tolist(), counts.tolist(), strict=True):
        if key not in seen:
            seen[key] = decode_cut(cells[index, : f.length].tobytes().rstrip(b" \x00"), encoding)[0] is not None
        if seen[key]:
            continue
        raw = cells[index, : f.length].tobytes().rstrip(b" \x00")
        record = start + int(rows[index])
        prev = found.get(f)
        if prev is None or record < prev.record:
            found[f] = Undecodable(f.name, record, raw, count + (prev.count if prev else 0))
        else:
            found[f] = Undecodable(f.name, prev.record, prev.raw, prev.count + count)


def sidecar(shp: Path, suffix: str) -> Path | None:
    """The file beside ``shp`` with its stem and ``suffix`` (any case), if any."""
    for cand in shp.parent.iterdir():
        if cand.stem == shp.stem and cand.suffix.lower() == suffix:
            return cand
    return None


def repair_field_names(dbf: Path, encoding: str) -> list[str]:
    """Drop the half character left where the 10-byte limit cut a field name; returns notes.

    Chinese names in UTF-8 take 3 bytes a character, so 受益户数 (12 bytes) is cut to 10 bytes
    that do not decode. The header of ``dbf`` (a working copy) is rewritten in place.
    """
    notes = []
    with dbf.open("r+b") as fh:
        fh.seek(32)
        pos = 32
        while True:
            desc = bytearray(fh.read(32))
            if len(desc) < 32 or desc[0] == 0x0D:
                break
            raw = bytes(desc[:11]).split(b"\x00", 1)[0]
            # A name cut inside a UTF-8 character is UTF-8 whatever the data's encoding is said to be.
            for enc in dict.fromkeys(("utf-8", encoding)):
                text, cut = decode_cut(raw, enc)
                if text is not None and cut:
                    break
            if text is not None and cut:
                good = text.encode(enc)
                desc[:11] = good.ljust(11, b"\x00")
                fh.seek(pos)
                fh.write(desc)
                notes.append(f"字段名被截断，已修复为 “{text}” / field name cut by the 10-byte limit, read as '{text}'")
            pos += 32
            fh.seek(pos)
    return notes


def restore_shx(shp: Path) -> list[str]:
    """Write the .shx index of a Shapefile that came without one (in the working copy); notes.

    The index is the .shp's 100-byte header followed by each record's offset and length, all in
    16-bit words, big-endian — rebuilt by walking the records.
    """
    if sidecar(shp, ".shx") is not None:
        return []
    data = shp.read_bytes()
    if len(data) < 100:
        return []
    entries = []
    pos = 100
    while pos + 8 <= len(data):
        words = int.from_bytes(data[pos + 4 : pos + 8], "big")
        entries.append((pos // 2, words))
        pos += 8 + 2 * words
    header = bytearray(data[:100])
    header[24:28] = ((100 + 8 * len(entries)) // 2).to_bytes(4, "big")
    body = b"".join(offset.to_bytes(4, "big") + words.to_bytes(4, "big") for offset, words in entries)
    shp.with_suffix(".shx").write_bytes(bytes(header) + body)
    return ["缺少 .shx 索引，已据 .shp 重建 / the .shx index was missing: rebuilt from the .shp"]
