"""``/ogc``: OGC API Features over the registry — documents, items (read, streamed; written as
batches), queryables, schema, and the rollback of an account's API edits. Thin: each route reads
its request and calls :mod:`fupin_gis.ogc`; the tiles are in :mod:`.ogc_tiles`.

Not in the app's own ``/openapi.json``: ``/ogc/api`` describes these routes for OGC clients.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from fupin_gis.api.background import warm_in_background
from fupin_gis.api.deps import CatalogDep
from fupin_gis.api.ogc_http import OgcEngineDep, OgcPrincipalDep, base_url, install_http, request_id
from fupin_gis.auth.accounts import WRITERS, Principal
from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.errors import Forbidden, InvalidInput, LayerNotFound, UnsupportedFormat, UploadTooLarge
from fupin_gis.ingest.feature_writes import Author, rollback_api_edits
from fupin_gis.ogc import documents, openapi, pages, transactions
from fupin_gis.ogc.crs import OutputCrs, default_crs, parse_crs
from fupin_gis.ogc.cursor import cursor_key
from fupin_gis.ogc.items import ItemsRequest, next_cursor, read_items

router = APIRouter(prefix="/ogc", tags=["ogc"], include_in_schema=False)
MAX_BODY = 16 * 1024 * 1024
WRITE_TYPES = ("application/geo+json", "application/json")
PATCH_TYPES = ("application/merge-patch+json", *WRITE_TYPES)


def _json(body: Any, media: str = documents.JSON, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status_code=status, media_type=media, headers=headers)


def _state(request: Request) -> dict[Any, Any]:
    """Per-app memo of /ogc: the signing key, and documents keyed by what they depend on."""
    app = request.app
    if not hasattr(app.state, "ogc"):
        app.state.ogc = {"key": cursor_key(app.state.settings.ogc), "counts": pages.Counts()}
    return app.state.ogc


def layer_for(catalog: Catalog, principal: Principal, layer: str) -> LayerSpec:
    """The collection ``layer`` if the caller may read it (LayerNotFound otherwise, as if it did not exist)."""
    spec = catalog.layers.get(layer)
    if spec is None or spec not in documents.readable(catalog, principal):
        raise LayerNotFound(layer)
    return spec


def _who(principal: Principal) -> str:
    return f"{principal.username}|{principal.role}|{principal.scope}"


def _memo(request: Request, key: tuple[Any, ...], make: Any) -> Any:
    """``make()`` once per ``key`` (older entries of the same kind are dropped)."""
    memo = _state(request)
    if key not in memo:
        for old in [k for k in memo if isinstance(k, tuple) and k[0] == key[0] and k != key]:
            memo.pop(old, None)
        memo[key] = make()
    return memo[key]


def offered_crs(request: Request, catalog: Catalog) -> list[OutputCrs]:
    """The CRSs offered (the Gauss-Kruger zones from the counties), read again when the data changes."""
    owner: Engine = request.app.state.engine  # zone numbers only: the same for every account
    with owner.connect() as conn:
        version = pages.data_version(conn)
        return _memo(request, ("crs", version), lambda: documents.deployment_crs(conn, catalog))


def extents_for(request: Request, engine: Engine, catalog: Catalog, principal: Principal) -> dict[str, Any]:
    """Each readable layer's extent as the caller's scope sees it, read again when the data changes."""
    with engine.begin() as conn:
        version = pages.data_version(conn)
        key = ("extents", version, _who(principal))
        return _memo(request, key, lambda: documents.extents(conn, documents.readable(catalog, principal)))


def may_write(principal: Principal, spec: LayerSpec) -> bool:
    """Whether the role may write the layer (the scope is the database's to check)."""
    return principal.role in WRITERS and (spec.group != "admin" or principal.role == "admin")


def _writer(principal: Principal, spec: LayerSpec) -> None:
    if not may_write(principal, spec):
        raise Forbidden(
            f"角色 {principal.role} 不能修改图层 {spec.label}",
            f"role {principal.role} may not write {spec.name}",
            role=principal.role,
        )


@router.get("")
@router.get("/")
def landing(request: Request, principal: OgcPrincipalDep) -> Response:
    """The landing page."""
    return _json(documents.landing(base_url(request)))


@router.get("/conformance")
def conformance(principal: OgcPrincipalDep) -> Response:
    """The conformance classes."""
    return _json(documents.conformance())


@router.get("/api")
def api_document(request: Request, catalog: CatalogDep, principal: OgcPrincipalDep) -> Response:
    """The OpenAPI 3.0 document of the caller's collections."""
    memo, base = _state(request), base_url(request)
    key = ("api", base, principal.personal)
    if key not in memo:
        memo[key] = json.dumps(
            openapi.document(catalog, documents.readable(catalog, principal), base), ensure_ascii=False
        )
    return Response(memo[key], media_type=documents.OPENAPI)


@router.get("/api.html", response_class=HTMLResponse)
def api_page(request: Request, catalog: CatalogDep, principal: OgcPrincipalDep) -> HTMLResponse:
    """A readable list of the operations (the service-doc)."""
    doc = openapi.document(catalog, documents.readable(catalog, principal), base_url(request))
    rows = "".join(
        f"<tr><td>{escape(method.upper())}</td><td><code>{escape(path)}</code></td><td>{escape(op.get('summary', ''))}</td></tr>"
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    )
    page = (
        f"<!doctype html><meta charset='utf-8'><title>{escape(doc['info']['title'])}</title>"
        f"<h1>{escape(doc['info']['title'])}</h1><p>{escape(doc['info']['description'])}</p>"
        f"<p><a href='{escape(base_url(request))}/api'>OpenAPI 3.0 (JSON)</a></p><table>{rows}</table>"
    )
    return HTMLResponse(page)


@router.get("/collections")
def collections(request: Request, engine: OgcEngineDep, catalog: CatalogDep, principal: OgcPrincipalDep) -> Response:
    """The collections the caller may read, with their extents under the caller's scope."""
    offered, boxes = offered_crs(request, catalog), extents_for(request, engine, catalog, principal)
    specs = documents.readable(catalog, principal)
    return _json(documents.collections(specs, catalog, base_url(request), boxes, offered))


@router.get("/collections/{layer}")
def collection(
    request: Request, layer: str, engine: OgcEngineDep, catalog: CatalogDep, principal: OgcPrincipalDep
) -> Response:
    """One collection."""
    spec = layer_for(catalog, principal, layer)
    offered, boxes = offered_crs(request, catalog), extents_for(request, engine, catalog, principal)
    return _json(documents.collection(spec, catalog, base_url(request), boxes.get(spec.name), offered))


@router.get("/collections/{layer}/queryables")
def queryables(request: Request, layer: str, catalog: CatalogDep, principal: OgcPrincipalDep) -> Response:
    """The layer's queryables (JSON Schema)."""
    spec = layer_for(catalog, principal, layer)
    return _json(documents.queryables(spec, catalog, base_url(request)), documents.SCHEMA)


@router.get("/collections/{layer}/schema")
def schema(request: Request, layer: str, catalog: CatalogDep, principal: OgcPrincipalDep) -> Response:
    """The layer's features as JSON Schema."""
    spec = layer_for(catalog, principal, layer)
    return _json(documents.schema(spec, catalog, base_url(request)), documents.SCHEMA)


def _gzip(chunks: Iterator[str]) -> Iterator[bytes]:
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    for chunk in chunks:
        out = packer.compress(chunk.encode())
        if out:
            yield out
    yield packer.flush()


def _links(request: Request, items: ItemsRequest, page: pages.Page, who: str) -> list[dict[str, str]]:
    here = f"{base_url(request)}/collections/{request.path_params['layer']}/items"
    asked = [(k, v) for k, v in request.query_params.multi_items() if k not in ("cursor", "limit")]
    asked.append(("limit", str(items.query.limit)))
    mine = [("cursor", request.query_params["cursor"])] if "cursor" in request.query_params else []
    links = [documents.link(f"{here}?{urlencode(asked + mine)}", "self", documents.GEOJSON, "本页 / this page")]
    if page.next_at is not None:
        token = next_cursor(items, page.next_at, page.matched, page.version, who, _state(request)["key"])
        links.append(
            documents.link(f"{here}?{urlencode([*asked, ('cursor', token)])}", "next", documents.GEOJSON, "下一页")
        )
    return links


def _read_request(
    request: Request, engine: Engine, catalog: Catalog, principal: Principal, spec: LayerSpec
) -> ItemsRequest:
    offered = offered_crs(request, catalog)
    settings = request.app.state.settings.ogc
    params = dict(request.query_params)
    return read_items(spec, catalog, params, offered, settings, _state(request)["key"], _who(principal))


@router.api_route("/collections/{layer}/items", methods=["GET", "HEAD"])
def items(
    request: Request, layer: str, engine: OgcEngineDep, catalog: CatalogDep, principal: OgcPrincipalDep
) -> Response:
    """A page of features (keyset paging; ``next`` carries a signed cursor), streamed, gzipped when asked."""
    spec = layer_for(catalog, principal, layer)
    asked = _read_request(request, engine, catalog, principal, spec)
    headers = {"Content-Crs": asked.query.crs.header, "Vary": "Accept-Encoding"}
    if request.method == "HEAD":
        return Response(media_type=documents.GEOJSON, headers=headers)
    settings = request.app.state.settings.ogc
    if asked.hits:
        matched = pages.count_only(engine, spec, catalog, asked.query, settings.count_timeout_ms)
        body: dict[str, Any] = {"type": "FeatureCollection", "features": [], "numberReturned": 0}
        body |= {"numberMatched": matched} if matched is not None else {}
        return _json(body, documents.GEOJSON, headers=headers)
    who = _who(principal)
    counts = (_state(request)["counts"], asked.digest, who)
    page = pages.open_page(
        engine, spec, catalog, asked.query, asked.at, asked.carried, settings.count_timeout_ms, counts
    )
    chunks = page.document(lambda p: _links(request, asked, p, who))
    if "gzip" in request.headers.get("accept-encoding", ""):
        return StreamingResponse(
            _gzip(chunks), media_type=documents.GEOJSON, headers={**headers, "Content-Encoding": "gzip"}
        )
    return StreamingResponse((c.encode() for c in chunks), media_type=documents.GEOJSON, headers=headers)


@router.api_route("/collections/{layer}/items/{feature_id}", methods=["GET", "HEAD"])
def item(
    request: Request, layer: str, feature_id: str, engine: OgcEngineDep, catalog: CatalogDep, principal: OgcPrincipalDep
) -> Response:
    """One feature (404 outside the caller's scope), with its ETag."""
    spec = layer_for(catalog, principal, layer)
    offered = offered_crs(request, catalog)
    crs = parse_crs(request.query_params.get("crs"), offered, "crs")
    text, etag = pages.read_item(engine, spec, catalog, feature_id, crs)
    headers = {"Content-Crs": crs.header, "ETag": etag}
    if request.method == "HEAD":
        return Response(media_type=documents.GEOJSON, headers=headers)
    return Response(text, media_type=documents.GEOJSON, headers=headers)


@router.options("/collections/{layer}/items")
def items_options(layer: str, catalog: CatalogDep, principal: OgcPrincipalDep) -> Response:
    """The methods the caller may use on the layer's items."""
    spec = layer_for(catalog, principal, layer)
    allow = "GET, HEAD, OPTIONS" + (", POST" if may_write(principal, spec) else "")
    return Response(status_code=204, headers={"Allow": allow})


@router.options("/collections/{layer}/items/{feature_id}")
def item_options(layer: str, feature_id: str, catalog: CatalogDep, principal: OgcPrincipalDep) -> Response:
    """The methods the caller may use on one feature."""
    spec = layer_for(catalog, principal, layer)
    allow = "GET, HEAD, OPTIONS" + (", PUT, PATCH, DELETE" if may_write(principal, spec) else "")
    return Response(status_code=204, headers={"Allow": allow})


async def _body(request: Request, types: tuple[str, ...]) -> Any:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in types:
        raise UnsupportedFormat(
            f"内容类型 “{media or '（无）'}” 不受支持：{', '.join(types)}",
            f"content type '{media or '(none)'}' is not accepted: {', '.join(types)}",
        )
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise UploadTooLarge("请求体过大（最多 16 MB）", "the body is too large (at most 16 MB)")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"请求体不是 JSON：{exc}", f"the body is not JSON: {exc}", field="body") from None


def _content_crs(request: Request, offered: list[OutputCrs]) -> OutputCrs:
    return parse_crs(request.headers.get("content-crs", "").strip().strip("<>") or None, offered, "Content-Crs")


def _written(request: Request, spec: LayerSpec, done: transactions.Outcome, status: int = 200) -> Response:
    warm_in_background(request.app)  # the write dropped the layer's overviews
    headers = {"Fupin-Batch": str(done.batch), "Content-Crs": default_crs().header}
    if done.etag:
        headers["ETag"] = done.etag
    if status == 201:
        headers["Location"] = f"{base_url(request)}/collections/{spec.name}/items/{quote(done.feature_id, safe='~')}"
    if done.feature is None:
        return Response(status_code=204, headers=headers)
    return Response(done.feature, status_code=status, media_type=documents.GEOJSON, headers=headers)


def _author(request: Request, principal: Principal) -> Author:
    return Author(principal.username, principal.scope, request_id(request))


@router.post("/collections/{layer}/items")
async def create(
    request: Request, layer: str, catalog: CatalogDep, principal: OgcPrincipalDep, engine: OgcEngineDep
) -> Response:
    """Add a feature: one batch, audited, undone by its rollback."""
    spec = layer_for(catalog, principal, layer)
    _writer(principal, spec)
    body = await _body(request, WRITE_TYPES)

    def work() -> transactions.Outcome:
        crs = _content_crs(request, offered_crs(request, catalog))
        return transactions.create_feature(engine, catalog, spec, body, _author(request, principal), crs)

    return _written(request, spec, await run_in_threadpool(work), 201)


@router.put("/collections/{layer}/items/{feature_id}")
async def replace(
    request: Request, layer: str, feature_id: str, catalog: CatalogDep, principal: OgcPrincipalDep, engine: OgcEngineDep
) -> Response:
    """Replace a feature as a whole (``If-Match``: only if unchanged since it was read)."""
    spec = layer_for(catalog, principal, layer)
    _writer(principal, spec)
    body = await _body(request, WRITE_TYPES)

    def work() -> transactions.Outcome:
        crs = _content_crs(request, offered_crs(request, catalog))
        author, match = _author(request, principal), request.headers.get("if-match")
        return transactions.replace_feature(engine, catalog, spec, feature_id, body, author, crs, match)

    return _written(request, spec, await run_in_threadpool(work))


@router.patch("/collections/{layer}/items/{feature_id}")
async def update(
    request: Request, layer: str, feature_id: str, catalog: CatalogDep, principal: OgcPrincipalDep, engine: OgcEngineDep
) -> Response:
    """Change some properties or the geometry (JSON merge patch, RFC 7396)."""
    spec = layer_for(catalog, principal, layer)
    _writer(principal, spec)
    body = await _body(request, PATCH_TYPES)

    def work() -> transactions.Outcome:
        crs = _content_crs(request, offered_crs(request, catalog))
        author, match = _author(request, principal), request.headers.get("if-match")
        return transactions.update_feature(engine, catalog, spec, feature_id, body, author, crs, match)

    return _written(request, spec, await run_in_threadpool(work))


@router.delete("/collections/{layer}/items/{feature_id}")
def delete(
    request: Request, layer: str, feature_id: str, catalog: CatalogDep, principal: OgcPrincipalDep, engine: OgcEngineDep
) -> Response:
    """Delete a feature (kept in its batch's history: the rollback restores it)."""
    spec = layer_for(catalog, principal, layer)
    _writer(principal, spec)
    author, match = _author(request, principal), request.headers.get("if-match")
    return _written(request, spec, transactions.delete_feature(engine, catalog, spec, feature_id, author, match))


@router.post("/collections/{layer}/edits/rollback")
def rollback_edits(
    request: Request, layer: str, catalog: CatalogDep, principal: OgcPrincipalDep, engine: OgcEngineDep
) -> Response:
    """Roll back an account's API edits on the layer since a time (``since``; ``user``: admins only,
    default the caller): newest first, all or nothing."""
    spec = layer_for(catalog, principal, layer)
    _writer(principal, spec)
    since = request.query_params.get("since", "")
    user = request.query_params.get("user") or principal.username
    if not since:
        raise InvalidInput("缺少 since（ISO 时间）", "since (an ISO time) is required", field="since")
    if user != principal.username and principal.role != "admin":
        raise Forbidden("只有管理员可以回滚他人的编辑", "only admins roll back another account's edits", user=user)
    done = rollback_api_edits(engine, catalog, spec, user, since, principal.scope, principal.username)
    warm_in_background(request.app)
    return _json(done)


def install(app: FastAPI) -> None:
    """Mount ``/ogc`` on ``app``: these routes and the tiles', the 401 with challenges, private no-store."""
    from fupin_gis.api.routes import ogc_tiles

    app.include_router(router)
    app.include_router(ogc_tiles.router)
    install_http(app)
