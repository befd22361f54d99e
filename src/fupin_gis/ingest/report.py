"""The import report: what was read, decided, found and written; as text, JSON and XLSX."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fupin_gis.ingest.problems import Problems


@dataclass
class SourceReport:
    """What was decided for one layer of one file."""

    name: str
    geometry_type: str | None
    features: int = 0
    encoding: dict | None = None
    crs: dict | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    unknown_fields: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    readings: list[dict[str, Any]] = field(default_factory=list)  # every column: target, score, evidence
    values: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # enum field -> source values


@dataclass
class ImportReport:
    """The outcome of an import or a dry run."""

    layer: str
    file: str
    sha256: str
    dry_run: bool
    mode: str = "features"  # features | seats
    features_read: int = 0
    features_written: int = 0
    inserted: int = 0
    updated: int = 0
    changes: dict[str, int] = field(default_factory=dict)
    z_dropped: int = 0
    sources: list[SourceReport] = field(default_factory=list)
    problems: Problems = field(default_factory=Problems)
    batch: int | None = None
    replaced_batches: list[int] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)  # features for a preview map (API only)
    profile: str | None = None  # the import profile the file was read with (or saved as)
    profile_how: str | None = None  # chosen (--profile) | matched (by its columns) | saved

    @property
    def ok(self) -> bool:
        """True when nothing blocks the import."""
        return self.problems.errors == 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (``--json`` and the API)."""
        first = next((s for s in self.sources if s.skipped is None), self.sources[0] if self.sources else None)
        return {
            "layer": self.layer,
            "file": self.file,
            "sha256": self.sha256,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "mode": self.mode,
            "features_read": self.features_read,
            "features_written": self.features_written,
            "inserted": self.inserted,
            "updated": self.updated,
            "changes": self.changes,
            "z_dropped": self.z_dropped,
            "encoding": first.encoding if first else None,
            "crs": first.crs if first else None,
            "profile": self.profile,
            "profile_how": self.profile_how,
            "mapping": [r | {"file": s.name} for s in self.sources for r in s.readings],
            "values": first.values if first else {},
            "sources": [s.__dict__ for s in self.sources],
            "problems": [p.to_dict() for p in self.problems.items],
            "problem_counts": self.problems.summary(),
            "errors": self.problems.errors,
            "batch": self.batch,
            "replaced_batches": self.replaced_batches,
        } | ({"preview": self.preview} if self.preview else {})

    def to_text(self) -> str:
        """A report a surveyor reads in a terminal."""
        lines = [
            f"文件 File: {self.file}  →  图层 Layer: {self.layer}{'  (试运行 dry run)' if self.dry_run else ''}",
            f"读取 read: {self.features_read:,}  写入 written: {self.features_written:,}  (新增 inserted {self.inserted:,}, 更新 updated {self.updated:,})",
        ]
        if self.profile:
            how = {"chosen": "指定 chosen", "matched": "按列名匹配 matched by its columns", "saved": "已保存 saved"}
            lines.append(f"导入方案 Profile: {self.profile}（{how.get(self.profile_how or '', '')}）")
        for s in self.sources:
            for r in s.readings:  # what a person must read first: the readings not certain
                if r["decision"] in ("probable", "asked"):
                    tag = "推测 probable" if r["decision"] == "probable" else "待确认 asked"
                    cands = ", ".join(f"{c['target']} {c['score']:.2f}" for c in r["candidates"][:3])
                    lines.append(
                        f"  [{tag}] {r['source']} → {r['target'] or '?'} ({r['score']:.2f}; {cands}) 例 e.g. {' | '.join(r['samples'][:3])}"
                    )
        for s in self.sources:
            if s.skipped:
                lines.append(f"  跳过 skipped {s.name}: {s.skipped}")
                continue
            enc = s.encoding or {}
            crs = s.crs or {}
            lines.append(f"  {s.name}: {s.features:,} features, {s.geometry_type}")
            if enc:
                lines.append(
                    f"    编码 encoding: {enc.get('name')} ({enc.get('source')}, confidence {enc.get('confidence')}) 例 e.g. {' | '.join(enc.get('preview', [])[:4])}"
                )
            lines.append(
                f"    坐标系 CRS: EPSG:{crs.get('epsg')} {crs.get('name') or ''} ({crs.get('source')}) {crs.get('note') or ''}"
            )
            mapped = ", ".join(f"{k}→{v}" for k, v in s.mapping.items())
            lines.append(f"    字段 fields: {mapped}")
            if s.unknown_fields:
                lines.append(f"    未识别字段（存入 extra）unknown fields kept in extra: {', '.join(s.unknown_fields)}")
            lines.extend(f"    注 note: {n}" for n in s.notes)
            for fieldname, rows in s.values.items():
                lost = [f"{r['source']}×{r['count']}" for r in rows if r["target"] is None]
                got = [f"{r['source']}→{r['target']}×{r['count']}" for r in rows if r["target"] is not None]
                lines.append(
                    f"    取值 values {fieldname}: {', '.join(got[:8])}"
                    + (f"；未对应 unmatched: {', '.join(lost[:8])}" if lost else "")
                )
        for name, n in self.changes.items():
            lines.append(f"  变更 changed: {n:,} 条要素的 {name}")
        if self.z_dropped:
            lines.append(f"  已去掉 Z/M 坐标 Z/M dropped: {self.z_dropped:,}")
        groups: dict[tuple, list] = {}
        for p in self.problems.items:
            groups.setdefault((p.severity, p.code, p.file, p.field), []).append(p)
        for (severity, code, file, fieldname), items in sorted(
            groups.items(), key=lambda kv: (kv[0][0] != "error", kv[0][1])
        ):
            tag = "错误 error" if severity == "error" else "警告 warning"
            total = self.problems.counts[(severity, code)]
            where = ", ".join(
                f"#{p.feature}" + (f"={p.value}" if p.value is not None else "")
                for p in items[:5]
                if p.feature is not None
            )
            more = f" … (+{len(items) - 5})" if len(items) > 5 else ""
            lines.append(
                f"  [{tag}] {code} {file or ''} {fieldname or ''} ({len(items):,}/{total:,}): {items[0].message} / {items[0].message_en}"
            )
            if where:
                lines.append(f"      要素 features: {where}{more}")
        lines.append(
            f"批次 batch: {self.batch}"
            if self.batch
            else ("未写入 nothing written" if not self.ok or self.dry_run else "")
        )
        return "\n".join(line for line in lines if line)

    def to_xlsx(self, path: Path) -> None:
        """The problem list as a workbook a surveyor can work through in their own tool."""
        from openpyxl import Workbook
        from openpyxl.styles import Font

        wb = Workbook()
        ws = wb.active
        ws.title = "问题 Problems"
        ws.append(
            ["文件 File", "要素 Feature", "字段 Field", "值 Value", "级别 Severity", "代码 Code", "说明", "Message"]
        )
        for p in self.problems.items:
            ws.append([p.file, p.feature, p.field, p.value, p.severity, p.code, p.message, p.message_en])
        ws.freeze_panes = "A2"
        for cell in ws[1]:
            cell.font = Font(bold=True)
        summary = wb.create_sheet("摘要 Summary")
        d = self.to_dict()
        for key in (
            "file",
            "layer",
            "sha256",
            "dry_run",
            "features_read",
            "features_written",
            "inserted",
            "updated",
            "errors",
            "batch",
        ):
            summary.append([key, str(d[key])])
        for s in self.sources:
            summary.append(
                [s.name, f"encoding={s.encoding and s.encoding.get('name')} crs={s.crs and s.crs.get('epsg')}"]
            )
        wb.save(path)
