"""Read and validate the layer catalog (``layers/*.toml``); errors name the file and the key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fupin_gis.catalog.models import IDENTIFIER, SYSTEM_COLUMNS, Catalog, FieldSpec, LayerSpec
from fupin_gis.errors import CatalogError

SHARED_FILE = "_shared.toml"


def _fail(path: Path, key: str, zh: str, en: str) -> CatalogError:
    return CatalogError(
        f"图层目录错误：{path.name} 的 {key}：{zh}",
        f"Layer catalog error: {path.name}, {key}: {en}",
        file=str(path),
        key=key,
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(path, "(syntax)", f"TOML 语法错误：{exc}", f"TOML syntax error: {exc}") from exc


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


def _validation_error(path: Path, exc: ValidationError) -> CatalogError:
    first = exc.errors()[0]
    msg = str(first["msg"]).removeprefix("Value error, ")
    zh, _, en = msg.partition(" / ")  # the catalog's own checks say it in both languages
    return _fail(path, _loc(tuple(first["loc"])), zh, en or zh)


def load_catalog(directory: Path) -> Catalog:
    """Load every ``*.toml`` layer file in ``directory`` and validate the whole catalog.

    Raises
    ------
    CatalogError
        On the first problem, naming the file and the key.
    """
    directory = Path(directory)
    shared_path = directory / SHARED_FILE
    if not shared_path.is_file():
        raise _fail(shared_path, "(file)", "缺少共享定义文件", "the shared definitions file is missing")
    shared = _read_toml(shared_path)
    field_sets: dict[str, list[dict[str, Any]]] = shared.pop("field_sets", {})
    layers: dict[str, LayerSpec] = {}
    for path in sorted(directory.glob("*.toml")):
        if path.name.startswith("_"):
            continue
        raw = _read_toml(path)
        for name in raw.get("include", []):
            if name not in field_sets:
                raise _fail(path, "include", f"未知的字段组 “{name}”", f"unknown field set '{name}'")
            raw["fields"] = list(raw.get("fields", [])) + field_sets[name]
        try:
            spec = LayerSpec.model_validate(raw)
        except ValidationError as exc:
            raise _validation_error(path, exc) from exc
        if spec.name != path.stem:
            raise _fail(path, "name", "须与文件名一致", f"must equal the file name '{path.stem}'")
        layers[spec.name] = spec
    try:
        catalog = Catalog.model_validate({**shared, "layers": layers})
    except ValidationError as exc:
        raise _validation_error(shared_path, exc) from exc
    for spec in layers.values():
        _check_layer(directory / f"{spec.name}.toml", spec, catalog)
    return catalog


def _check_layer(path: Path, spec: LayerSpec, catalog: Catalog) -> None:
    # the names written into SQL (layer, fields, seat, key, style.by) are SqlName: checked by the models
    seen: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for i, field in enumerate(spec.fields):
        key = f"fields[{i}]"
        _check_field(path, key, field, catalog)
        if field.name in seen or field.name in SYSTEM_COLUMNS or (spec.seat and field.name == spec.seat.name):
            raise _fail(
                path,
                f"{key}.name",
                f"字段名 “{field.name}” 重复或保留",
                f"field name '{field.name}' is repeated or reserved",
            )
        seen[field.name] = key
        for alias in (field.name, *field.aliases):
            folded = alias.casefold()
            if aliases.get(folded, field.name) != field.name:
                raise _fail(
                    path,
                    f"{key}.aliases",
                    f"别名 “{alias}” 同时属于 {aliases[folded]} 和 {field.name}",
                    f"alias '{alias}' belongs to both {aliases[folded]} and {field.name}",
                )
            aliases[folded] = field.name
    if spec.key is not None and spec.key not in seen:
        raise _fail(path, "key", f"没有字段 “{spec.key}”", f"no field '{spec.key}'")
    _check_style(path, spec, catalog)


def _check_field(path: Path, key: str, field: FieldSpec, catalog: Catalog) -> None:
    if field.type == "enum":
        if (field.enum is None) == (field.values is None):
            raise _fail(
                path, key, "枚举字段须给出 enum 或 values 之一", "an enum field needs exactly one of 'enum' or 'values'"
            )
        if field.enum is not None and field.enum not in catalog.enums:
            raise _fail(path, f"{key}.enum", f"未知的枚举 “{field.enum}”", f"unknown enumeration '{field.enum}'")
        words: dict[str, str] = {}
        for value in field.enum_values(catalog):
            if not IDENTIFIER.match(value.key):
                raise _fail(
                    path, f"{key}.values.{value.key}", "枚举键不是合法的标识符", "enum key is not a valid identifier"
                )
            for word in (value.key, value.label, value.en, *value.synonyms):
                folded = word.casefold()
                if words.get(folded, value.key) != value.key:
                    raise _fail(
                        path,
                        f"{key}.values.{value.key}",
                        f"同义词 “{word}” 同时属于 {words[folded]} 和 {value.key}",
                        f"synonym '{word}' belongs to both {words[folded]} and {value.key}",
                    )
                words[folded] = value.key
    elif field.enum is not None or field.values is not None:
        raise _fail(path, key, "只有枚举字段可以有取值表", "only enum fields take values")
    if field.import_default is not None:
        if field.type != "enum":
            raise _fail(
                path, f"{key}.import_default", "只有枚举字段可以有导入默认值", "only enum fields take an import_default"
            )
        if field.import_default not in {v.key for v in field.enum_values(catalog)}:
            raise _fail(
                path,
                f"{key}.import_default",
                f"“{field.import_default}” 不是该字段的取值",
                f"'{field.import_default}' is not a value of this field",
            )
    if field.type == "code" and not field.digits:
        raise _fail(path, f"{key}.digits", "代码字段须给出位数", "a code field needs 'digits'")
    if field.min is not None and field.max is not None and field.min > field.max:
        raise _fail(path, f"{key}.min", "最小值大于最大值", "min is greater than max")


def _check_style(path: Path, spec: LayerSpec, catalog: Catalog) -> None:
    style = spec.style
    expected = {"Point": "point", "MultiLineString": "line", "MultiPolygon": "polygon"}[spec.geometry]
    if style.kind != expected:
        raise _fail(path, "style.kind", f"应为 {expected}", f"must be '{expected}' for {spec.geometry}")
    for name in style.popup:
        if name not in spec.field_names:
            raise _fail(path, "style.popup", f"没有字段 “{name}”", f"no field '{name}'")
    if style.by is None:
        if style.values:
            raise _fail(path, "style.values", "没有 by 字段时不能按值设样式", "values need 'by'")
        return
    if style.by not in spec.field_names:
        raise _fail(path, "style.by", f"没有字段 “{style.by}”", f"no field '{style.by}'")
    by = spec.field(style.by)
    if by.type == "enum":
        allowed = {v.key for v in by.enum_values(catalog)}
    elif by.type == "boolean":
        allowed = {"true", "false"}
    else:
        raise _fail(path, "style.by", "只能按枚举或布尔字段设样式", "style by an enum or boolean field only")
    for value in style.values:
        if value not in allowed:
            raise _fail(path, f"style.values.{value}", f"“{style.by}” 没有此取值", f"not a value of '{style.by}'")
