"""``dongbo api``: a read-only HTTP API (FastAPI) over the same answers as the CLI.

Dossier lookup (Redis), figures, indicators, exports and reconciliation (the reporting store), with
the same filters and the same errors as ``dongbo stats`` (``dongbo.stats_request``): a bad request
is a 400 whose ``detail`` says what to change. The OpenAPI document is at ``/openapi.json``, a
browsable one at ``/docs``.

Authentication and unit scoping: every route takes a ``Principal`` from ``current_principal``. Today
it is the anonymous principal that may see every unit (the API listens on loopback only); the
console issue replaces ``current_principal`` with token verification. A principal limited to some
units sees only their dossiers and figures: a filter naming another unit is refused (403), no unit
filter means "my units", and a dossier of another unit is "not found".
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from redis import Redis
from redis.exceptions import RedisError
from starlette.background import BackgroundTask

from contract.settings import Settings, get_settings
from dongbo import export as ex
from dongbo import stats_request as sr
from dongbo.stats import open_store
from sinks.lookup import get_state
from sinks.report import reconcile as rc
from sinks.report.indicators import INDICATORS
from sinks.report.store import ReportStore, StoreUnavailable


@dataclass(frozen=True)
class Principal:
    name: str
    units: frozenset[str] | None = None  # None: every unit


def current_principal() -> Principal:
    """Who is asking. The console issue verifies a token here; until then, anonymous and unscoped."""
    return Principal("anonymous")


def settings_dep() -> Settings:
    return get_settings()


def store_dep(settings: Annotated[Settings, Depends(settings_dep)]) -> Iterator[ReportStore]:
    try:
        store = open_store(settings)
    except StoreUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    try:
        yield store
    finally:
        store.conn.close()


def _request(
    unit: Annotated[list[str] | None, Query(description="unit (đơn vị) code; repeat for several")] = None,
    procedure: Annotated[list[str] | None, Query(description="procedure (thủ tục) code")] = None,
    field: Annotated[list[str] | None, Query(description="field (lĩnh vực)")] = None,
    channel: Annotated[list[str] | None, Query(description="COUNTER, ONLINE, POSTAL, ...")] = None,
    source: Annotated[list[str] | None, Query(description="only dossiers this system has")] = None,
    status: Annotated[list[str] | None, Query(description="unified status")] = None,
    outcome: Annotated[list[str] | None, Query(description=", ".join(sr.OUTCOMES))] = None,
    start: Annotated[str | None, Query(alias="from", description="first day, YYYY-MM-DD")] = None,
    end: Annotated[str | None, Query(alias="to", description="last day, inclusive")] = None,
    period_by: Annotated[str, Query(description="received | ended")] = "received",
    judged_by: Annotated[str | None, Query(description="outcomes as this system reports them")] = None,
    by: Annotated[list[str] | None, Query(description="group by these dimensions")] = None,
) -> sr.StatsRequest:
    return sr.StatsRequest(
        units=unit or (), procedures=procedure or (), fields=field or (), channels=channel or (),
        sources=source or (), statuses=status or (), outcomes=outcome or (), start=start, end=end,
        period_by=period_by, judged_by=judged_by, by=by or (),
    )  # fmt: skip


def _scoped(req: sr.StatsRequest, who: Principal) -> sr.StatsRequest:
    if who.units is None:
        return req
    outside = [u for u in req.units if u not in who.units]
    if outside:
        raise HTTPException(403, f"{who.name} may not see unit(s) {outside}")
    return req if req.units else replace(req, units=tuple(sorted(who.units)))


def _csv(rows: list[dict[str, Any]]) -> PlainTextResponse:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return PlainTextResponse(buf.getvalue(), media_type="text/csv; charset=utf-8")


# Route parameters (module level: FastAPI resolves these annotations by name).
Who = Annotated[Principal, Depends(current_principal)]
Store = Annotated[ReportStore, Depends(store_dep)]
Req = Annotated[sr.StatsRequest, Depends(_request)]
Conf = Annotated[Settings, Depends(settings_dep)]


def create_app() -> FastAPI:
    app = FastAPI(
        title="dongbo",
        version="1",
        description="One live, trustworthy status for every dossier (hồ sơ): lookups, statistics (thống kê), "
        "the Decision 766 indicators, exports and reconciliation. Read-only.",
    )

    @app.exception_handler(sr.UsageError)
    async def usage_error(_request: Request, exc: sr.UsageError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.get("/health", summary="The stores answer")
    def health(settings: Conf, store: Store) -> dict[str, str]:
        try:
            Redis.from_url(settings.redis.url, **settings.redis.auth(), socket_timeout=2).ping()
        except RedisError as exc:
            raise HTTPException(503, f"Redis: {exc}") from exc
        store.figures(sr.filters(store, sr.StatsRequest()), [])
        return {"redis": "ok", "report": "ok"}

    @app.get("/dossiers/{dossier_id}", summary="One dossier: unified status and every system's view")
    def dossier(dossier_id: str, who: Who, settings: Conf) -> Any:
        try:
            doc = get_state(settings, dossier_id)
        except RedisError as exc:
            raise HTTPException(503, f"Redis: {exc}") from exc
        if doc is None or (who.units is not None and doc.get("unit_code") not in who.units):
            raise HTTPException(404, f"dossier {dossier_id!r} is not known (yet)")
        return doc

    @app.get("/stats", summary="Figures: dossiers counted under filters, grouped by dimensions")
    def stats(req: Req, who: Who, store: Store, format: str = "json") -> Any:
        req = _scoped(req, who)
        rows = store.figures(sr.filters(store, req), sr.check_by(req.by))
        if rows and not req.by and rows[0]["dossiers"] == 0:
            rows = []
        return _csv(rows) if format == "csv" else rows

    @app.get("/indicators", summary="The Decision 766 indicators dongbo computes")
    def indicators() -> list[dict[str, Any]]:
        return [
            {"id": i.id, "name_vi": i.name_vi, "name_en": i.name_en, "target": i.target, "note": i.note,
             "per_source": i.source_numerator is not None}
            for i in INDICATORS.values()
        ]  # fmt: skip

    @app.get("/indicators/{indicator_id}", summary="An indicator, legal and as each system reports it")
    def indicator(indicator_id: str, req: Req, who: Who, store: Store) -> dict[str, Any]:
        ind = sr.indicator(indicator_id)
        assert ind is not None
        req = _scoped(req, who)
        f = sr.filters(store, req)
        sources = store.sources_present() if ind.source_numerator else []
        return {
            "indicator": indicator_id,
            "rows": store.indicator(ind, f, sr.check_by(req.by), sources),
            "differences": {s: store.differences(ind, f, s) for s in sources},
        }

    @app.get("/export", summary="The dossiers behind a figure, as CSV or XLSX")
    def export(
        req: Req,
        who: Who,
        store: Store,
        format: str = "csv",
        lang: str = "vi",
        indicator: str | None = None,
    ) -> Any:
        if format not in ex.FORMATS or lang not in ("vi", "en"):
            raise sr.UsageError("format: csv or xlsx; lang: vi or en")
        f = sr.filters(store, _scoped(req, who))
        path = Path(tempfile.mkdtemp()) / f"ho-so.{format}"
        ex.export_dossiers(store, f, sr.indicator(indicator), path, format, lang, lambda _n: None)
        cleanup = BackgroundTask(shutil.rmtree, path.parent, ignore_errors=True)  # after it is sent
        if format == "csv":
            disposition = {"Content-Disposition": f"attachment; filename={path.name}"}
            return FileResponse(
                path, media_type="text/csv; charset=utf-8", headers=disposition, background=cleanup
            )
        return FileResponse(path, filename=path.name, background=cleanup)

    @app.get("/reconcile", summary="Dossiers on which two systems disagree, since when and why")
    def reconcile(
        between: Annotated[list[str], Query(description="the two systems, e.g. portal and onestop")],
        req: Req, who: Who, store: Store,
    ) -> dict[str, Any]:  # fmt: skip
        if len(between) != 2 or between[0] == between[1]:
            raise sr.UsageError("between: name two different systems, e.g. ?between=portal&between=onestop")
        sr.known_systems(store, between)
        lines = store.reconcile(sr.filters(store, _scoped(req, who)), *between)
        return {"between": between, "dossiers": len(lines), "by_field": rc.by_field(lines),
                "by_cause": rc.summary(lines), "lines": lines}  # fmt: skip

    return app
