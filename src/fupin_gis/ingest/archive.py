"""Unpack uploads safely and find the geographic files in them.

Refused with a 4xx and nothing written: entries with ``..`` or absolute paths, symlinks,
encrypted entries, archives that inflate too much (zip bombs), and archives with no file the
importer reads. Chinese entry names written by Windows tools (GBK, no UTF-8 flag) are decoded.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from fupin_gis.errors import ImportRefused, UnsupportedFormat, UploadTooLarge

# What the importer reads, in the order messages list them.
READABLE = (
    ".zip",
    ".shp",
    ".gpkg",
    ".geojson",
    ".kml",
    ".kmz",
    ".gpx",  # handheld GPS and phone track recorders
    ".tab",  # MapInfo
    ".mif",
    ".dxf",  # CAD drawings (e.g. CASS survey plots)
    ".csv",
    ".xlsx",
    ".xls",
)
DATA_SUFFIXES = {*READABLE, ".json"}  # a .json is read when it looks like GeoJSON
ARCHIVE_SUFFIXES = {".zip", ".kmz"}
SIDECARS = {".shp", ".tab", ".mif"}  # formats whose data sits in files beside the one named
EXPECTED = ", ".join(READABLE)


@dataclass(frozen=True)
class ArchiveLimits:
    """How much an upload may hold."""

    max_total_bytes: int = 2 * 1024**3
    max_ratio: float = 200.0
    max_entries: int = 20_000


def _entry_name(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & 0x800:  # UTF-8 flag set
        return info.filename
    raw = info.filename.encode("cp437")
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return info.filename


def _refuse(archive: Path, entry: str, zh: str, en: str, cls: type[ImportRefused] = ImportRefused) -> ImportRefused:
    return cls(f"{archive.name}：{entry}：{zh}", f"{archive.name}: {entry}: {en}", file=archive.name, entry=entry)


def unpack(archive: Path, target: Path, limits: ArchiveLimits = ArchiveLimits()) -> Path:
    """Extract ``archive`` into ``target`` after checking every entry; returns ``target``."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _refuse(archive, "-", "不是有效的 zip 文件", f"not a valid zip file ({exc})") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_entries:
            raise _refuse(archive, "-", f"条目过多（{len(infos)}）", f"too many entries ({len(infos)})", UploadTooLarge)
        total = 0
        for info in infos:
            name = _entry_name(info)
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
                raise _refuse(archive, name, "路径不安全（绝对路径或含 ..）", "unsafe path (absolute or containing ..)")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise _refuse(archive, name, "是符号链接", "is a symbolic link")
            if info.flag_bits & 0x1:
                raise _refuse(archive, name, "已加密，请上传未加密的文件", "is encrypted; upload it unencrypted")
            total += info.file_size
            if (
                info.file_size > 1024**2
                and info.compress_size
                and info.file_size / info.compress_size > limits.max_ratio
            ):
                raise _refuse(
                    archive,
                    name,
                    "压缩比异常（疑似 zip 炸弹）",
                    "abnormal compression ratio (zip bomb?)",
                    UploadTooLarge,
                )
        if total > limits.max_total_bytes:
            raise _refuse(archive, "-", "解压后过大", f"inflates to {total:,} bytes, over the limit", UploadTooLarge)
        written = 0
        for info in infos:
            name = _entry_name(info)
            dest = target.joinpath(*PurePosixPath(name.replace("\\", "/")).parts)
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            # Count the bytes really inflated: headers can lie.
            with zf.open(info) as src, dest.open("wb") as out:
                while chunk := src.read(1 << 20):
                    written += len(chunk)
                    if written > limits.max_total_bytes:
                        raise _refuse(archive, name, "解压后过大", "inflates beyond the limit", UploadTooLarge)
                    out.write(chunk)
    return target


def find_datasets(folder: Path) -> list[Path]:
    """Files the importer reads, in a stable order (macOS metadata folders skipped)."""
    found = [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix.lower() in DATA_SUFFIXES - ARCHIVE_SUFFIXES and "__MACOSX" not in p.parts
    ]
    # A .json beside a .shp is metadata, not data; keep GeoJSON-looking ones only.
    return [p for p in found if p.suffix.lower() != ".json" or _looks_like_geojson(p)]


def _looks_like_geojson(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(4096)
    return b'"type"' in head and any(k in head for k in (b"Feature", b"Polygon", b"Point", b"LineString"))


def expand(path: Path, workdir: Path, limits: ArchiveLimits = ArchiveLimits(), depth: int = 0) -> list[Path]:
    """The datasets of an upload: the file itself, or what a .zip/.kmz holds (a zip inside a zip
    too, two levels deep: "成果.zip" holding "道路.zip"), each inner archive under the same limits."""
    suffix = path.suffix.lower()
    if suffix == ".kmz":
        folder = unpack(path, workdir / "kmz", limits)
        kml = sorted(folder.rglob("*.kml"))
        if not kml:
            raise UnsupportedFormat(
                f"{path.name}：KMZ 中没有 KML 文件", f"{path.name}: the KMZ holds no KML file", file=path.name
            )
        return kml[:1]
    if suffix == ".zip" or zipfile.is_zipfile(path) and suffix not in {".xlsx", ".gpkg"}:
        folder = unpack(path, workdir / "zip", limits)
        datasets: list[Path] = []
        for inner in find_datasets(folder):
            datasets.append(inner)
        for kmz in sorted(folder.rglob("*.kmz")):
            datasets.extend(expand(kmz, workdir / kmz.stem, limits))
        if depth < 2:
            # One budget for everything unpacked: inner archives get what the outer left over.
            for k, inner in enumerate(sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".zip")):
                used = sum(p.stat().st_size for p in workdir.rglob("*") if p.is_file())
                left = replace(limits, max_total_bytes=max(0, limits.max_total_bytes - used))
                datasets.extend(expand(inner, workdir / f"inner{depth}-{k}", left, depth + 1))
        if not datasets:
            names = ", ".join(sorted(p.name for p in folder.rglob("*") if p.is_file())[:10]) or "(empty)"
            raise UnsupportedFormat(
                f"{path.name}：压缩包中没有可导入的地理数据文件（{names}）",
                f"{path.name}: no geographic file in the archive ({names}); expected {EXPECTED}",
                file=path.name,
            )
        return datasets
    if suffix in SIDECARS:
        # Work on a copy with the sidecars: a damaged Shapefile header may be repaired before reading.
        copy = copy_shapefile_parts(path, workdir / suffix[1:])
        needed = {".tab": [".dat", ".map"], ".mif": [".mid"]}.get(suffix, [])
        have = {p.suffix.lower() for p in copy.parent.iterdir()}
        if any(n not in have for n in needed):
            parts = "、".join([suffix, *needed])
            raise UnsupportedFormat(
                f"{path.name}：MapInfo 文件须与同名的 {'、'.join(needed)} 一起上传（把 {parts} 打包成 zip）",
                f"{path.name}: a MapInfo file needs its {', '.join(needed)} beside it (zip {', '.join([suffix, *needed])} together)",
                file=path.name,
            )
        return [copy]
    if suffix not in DATA_SUFFIXES:
        raise UnsupportedFormat(
            f"{path.name}：不支持的文件类型 {suffix or '(无扩展名)'}",
            f"{path.name}: unsupported file type {suffix or '(no extension)'}; expected {EXPECTED}",
            file=path.name,
        )
    return [path]


def copy_shapefile_parts(shp: Path, target: Path) -> Path:
    """Copy a loose .shp (or MapInfo .tab/.mif) with its sidecars (any case of extension) into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for part in shp.parent.iterdir():
        if part.stem == shp.stem:
            shutil.copy2(part, target / part.name)
    return target / shp.name
