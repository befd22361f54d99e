"""Text that does not decode, told to the user: which file, which field, which bytes, what to do.

Every place that turns a file's bytes into text (the ``.dbf`` header and values, GDAL's names and
values through pyogrio, a CSV's cells) ends here on failure, so a wrong encoding is a message in
Chinese and English (an ``ImportRefused`` or an error ``Problem``), never a ``UnicodeDecodeError``.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from fupin_gis.errors import ImportRefused
from fupin_gis.ingest.problems import Problem
from fupin_gis.ingest.shapefile import Undecodable

# Encodings a reader might recognise the bytes in, for the hint.
GUESSES = ("utf-8", "gb18030", "big5")


def hexed(raw: bytes, limit: int = 16) -> str:
    """The bytes as hex pairs ('b5 c0 c2 b7 …'), cut after ``limit``."""
    shown = " ".join(f"{b:02x}" for b in raw[:limit])
    return shown + (" …" if len(raw) > limit else "")


def readable(raw: bytes, encoding: str | None = None) -> str:
    """The bytes as text for a message: in the first of ``encoding`` and the usual ones that
    decodes them, else with replacement characters."""
    for enc in (encoding, *GUESSES):
        if enc:
            try:
                return raw.decode(enc)
            except UnicodeDecodeError:
                continue
    return raw.decode(encoding or "utf-8", "replace")


def _fits_one(raw: bytes, encoding: str | None) -> str | None:
    """The first of the usual encodings, other than ``encoding``, that decodes ``raw``."""
    for enc in GUESSES:
        if enc != encoding:
            try:
                raw.decode(enc)
            except UnicodeDecodeError:
                continue
            return enc
    return None


def field_name_refused(file: str, raw: bytes, position: int, encoding: str) -> ImportRefused:
    """A .dbf field name that the file's encoding cannot decode (names and values disagree, or
    the name is in no encoding at all)."""
    other = _fits_one(raw, encoding)
    hint_zh = (
        f"它像是 {other} 编码，与其余文字不同；请在 GIS 软件中重命名该字段后另存"
        if other
        else "它不是 utf-8、gbk、big5 中的任何一种；请在 GIS 软件中重命名该字段后另存，或用 --encoding 指定编码"
    )
    hint_en = (
        f"it looks like {other}, unlike the rest of the text; rename the field in a GIS program and save again"
        if other
        else "it is none of utf-8, gbk and big5; rename the field in a GIS program and save again, or give --encoding"
    )
    return ImportRefused(
        f"{file}：第 {position} 个字段的字段名（字节 {hexed(raw)}）无法按 {encoding} 解码；{hint_zh}",
        f"{file}: the name of field {position} (bytes {hexed(raw)}) does not decode as {encoding}; {hint_en}",
        file=file,
        field=readable(raw, other),
        value=hexed(raw),
    )


def undecodable_problem(file: str, item: Undecodable, encoding: str) -> Problem:
    """An error naming a text field whose values ``encoding`` cannot decode (GDAL would drop the
    bytes in silence)."""
    name = readable(item.field, encoding)
    other = _fits_one(item.raw, encoding)
    also = f"另有 {item.count - 1} 条" if item.count > 1 else ""
    also_en = f" and {item.count - 1} more" if item.count > 1 else ""
    try_zh = (
        f"这些字节像是 {other} 编码，请用 --encoding {other}" if other else "请用 --encoding 指定正确编码，或修正这些值"
    )
    try_en = (
        f"the bytes look like {other}: use --encoding {other}"
        if other
        else "give the right --encoding or fix the values"
    )
    return Problem(
        "text_undecodable",
        f"“{name}”字段第 {item.record + 1} 条记录的文字（字节 {hexed(item.raw)}）无法按 {encoding} 解码{also}；{try_zh}",
        f"field '{name}', record {item.record + 1}: the text (bytes {hexed(item.raw)}) does not decode as {encoding}{also_en}; {try_en}",
        file=file,
        feature=item.record,
        field=name,
        value=readable(item.raw, other),
    )


def _advice(path: Path) -> tuple[str, str]:
    if path.suffix.lower() == ".shp":
        return "请用 --encoding 指定正确编码（常见：gbk、utf-8）", "give the right --encoding (usually gbk or utf-8)"
    return (
        f"{path.suffix} 文件须为 UTF-8 编码，请在 GIS 软件中另存为 UTF-8",
        f"a {path.suffix} file must be UTF-8: save it as UTF-8 in a GIS program",
    )


def names_refused(file: str, path: Path, exc: UnicodeDecodeError) -> ImportRefused:
    """GDAL's field names (through pyogrio) that do not decode."""
    raw = bytes(exc.object)
    zh, en = _advice(path)
    return ImportRefused(
        f"{file}：字段名 “{readable(raw)}”（字节 {hexed(raw)}）无法按 {exc.encoding} 解码；{zh}",
        f"{file}: the field name '{readable(raw)}' (bytes {hexed(raw)}) does not decode as {exc.encoding}; {en}",
        file=file,
        field=readable(raw),
        value=hexed(raw),
    )


def check_utf8(file: str, path: Path, batch: pa.RecordBatch, start: int) -> None:
    """Refuse a chunk of GDAL's values (pyogrio's Arrow stream) holding text that is not UTF-8,
    naming the column and the feature. GDAL passes a GeoJSON's or GeoPackage's bytes on as they
    are, and pandas would fail on them later, wherever a value is first read."""
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            try:
                column.validate(full=True)  # one pass in C++ over the chunk's text
            except pa.ArrowInvalid:
                raise _value_refused(file, path, name, column, start) from None


def _value_refused(file: str, path: Path, name: str, column: pa.Array, start: int) -> ImportRefused:
    zh, en = _advice(path)
    binary = column.view(pa.large_binary() if pa.types.is_large_string(column.type) else pa.binary())
    index, raw = next(((i, v) for i, v in enumerate(binary.to_pylist()) if v is not None and not _is_utf8(v)), (0, b""))
    return ImportRefused(
        f"{file}：“{name}”字段第 {start + index + 1} 个要素的文字（字节 {hexed(raw)}）不是 UTF-8；{zh}",
        f"{file}: field '{name}', feature {start + index + 1}: the text (bytes {hexed(raw)}) is not UTF-8; {en}",
        file=file,
        field=name,
        feature=start + index,
        value=readable(raw),
    )


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def furthest(data: bytes, encodings: list[str]) -> str:
    """Of ``encodings``, the one that decodes the longest start of ``data`` (the file's own, most
    likely, with a few bad bytes)."""

    def reach(enc: str) -> int:
        try:
            data.decode(enc)
        except UnicodeDecodeError as exc:
            return exc.start
        return len(data)

    return max(encodings, key=reach)


def table_refused(file: str, data: bytes, encoding: str, header: int, sep: str, given: bool) -> ImportRefused:
    """A text table (CSV) whose bytes ``encoding`` cannot decode: the row and column of the first
    failure. ``given``: the encoding was the user's option (else UTF-8 and GBK were both tried)."""
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        where = exc.start
    else:  # decodes whole (pandas failed on a chunk boundary): nothing more precise to say
        where = 0
    line_start = data.rfind(b"\n", 0, where) + 1
    line_end = data.find(b"\n", where)
    line = data[line_start : line_end if line_end >= 0 else len(data)]
    row = data.count(b"\n", 0, where) + 1
    column = line[: where - line_start].count(sep.encode())
    head = data.split(b"\n")[header].decode(encoding, "replace").rstrip("\r").split(sep) if header < row else []
    name = head[column].strip().strip('"') if column < len(head) else f"#{column + 1}"
    raw = line.split(sep.encode())[column] if column < len(line.split(sep.encode())) else line
    tried_zh, tried_en = (
        (f"不是 {encoding} 编码", f"is not {encoding}")
        if given
        else ("既不是 UTF-8 也不是 GBK", "is neither UTF-8 nor GBK")
    )
    return ImportRefused(
        f"{file}：第 {row} 行 “{name}” 列的文字（字节 {hexed(raw.strip())}）{tried_zh}；请用 --encoding 指定正确编码",
        f"{file}: row {row}, column '{name}': the text (bytes {hexed(raw.strip())}) {tried_en}; give the right --encoding",
        file=file,
        field=name,
        feature=max(0, row - header - 2),
        value=hexed(raw.strip()),
    )
