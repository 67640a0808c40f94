"""The reporting store: PostgreSQL, one row per dossier, fed from ``dossier.state`` by a sink.

Version-guarded upserts (an older or repeated state changes nothing), one transaction per batch,
so the table is always a set of whole states and a batch written again after a crash is harmless.
Figures are SQL counts over the table (``sinks.report.query``); Redis keeps the live figures.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from contract.settings import Settings
from contract.sources import LIVE_SYSTEMS
from sinks.report import query, reconcile
from sinks.report.indicators import Indicator
from sinks.report.rows import COLUMNS, DETAIL_COLUMNS, FIGURE_COLUMNS, report_row

log = logging.getLogger(__name__)

# An earlier layout kept everything in one wide table (a column "sources" in dossiers): its tables
# are dropped and made again, and the store is refilled by `dongbo stats rebuild`.
OLD_LAYOUT = """
SELECT 1 FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = 'dossiers' AND column_name = 'sources'
"""

_LAYOUT_COLUMNS = """
SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema()
  AND ((table_name = 'dossiers' AND column_name = ANY(%s))
    OR (table_name = 'dossier_details' AND column_name = ANY(%s)))
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS dossiers (
    dossier_id text PRIMARY KEY,
    version bigint NOT NULL,
    status text NOT NULL,
    outcome text NOT NULL,
    timeliness text NOT NULL,
    unit text NOT NULL,
    procedure text NOT NULL,
    field text NOT NULL,
    channel text NOT NULL,
    received_on date,
    ended_on date,
    received_late boolean NOT NULL,
    near_deadline boolean NOT NULL,
    judged jsonb NOT NULL,
    {judged_columns}
    conflicts text[] NOT NULL,
    paid_online boolean,
    documents_total integer,
    documents_digitised integer,
    documents_reused integer,
    result_files integer
);
CREATE TABLE IF NOT EXISTS dossier_details (
    dossier_id text PRIMARY KEY,
    version bigint NOT NULL,
    received_at timestamptz,
    ended_at timestamptz,
    due_at timestamptz,
    updated_at timestamptz,
    sources jsonb NOT NULL,
    conflict_details jsonb NOT NULL,
    discrepancy_reasons text[] NOT NULL
);
-- Added after the narrow layout first shipped (an existing table gets them; `stats rebuild` fills them).
ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS paid_online boolean;
ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS documents_total integer;
ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS documents_digitised integer;
ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS documents_reused integer;
ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS result_files integer;
{add_judged_columns}
CREATE INDEX IF NOT EXISTS dossiers_unit_received ON dossiers (unit, received_on);
CREATE INDEX IF NOT EXISTS dossiers_procedure_received ON dossiers (procedure, received_on);
CREATE INDEX IF NOT EXISTS dossiers_received ON dossiers (received_on);
CREATE INDEX IF NOT EXISTS dossiers_ended ON dossiers (ended_on);
""".format(
    judged_columns="\n    ".join(f"judged_{s} text," for s in LIVE_SYSTEMS),
    add_judged_columns="\n".join(
        f"ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS judged_{s} text;" for s in LIVE_SYSTEMS
    ),
)


def _upsert(table: str, columns: Sequence[str]) -> str:
    """Insert, or update when newer: an older or repeated version changes nothing."""
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(f'%({c})s' for c in columns)}) "
        f"ON CONFLICT (dossier_id) DO UPDATE SET "
        + ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[1:])
        + f" WHERE {table}.version < EXCLUDED.version RETURNING 1"
    )


_UPSERT = _upsert("dossiers", FIGURE_COLUMNS)
_UPSERT_DETAILS = _upsert("dossier_details", DETAIL_COLUMNS)


class StoreUnavailable(RuntimeError):
    """The reporting store does not answer (the message says how to start it)."""


def connect(settings: Settings) -> psycopg.Connection[Any]:
    try:
        conn = psycopg.connect(settings.report.url, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(
            f"the reporting store at {settings.report.url} does not answer ({str(exc).strip()}): start it "
            "(`dongbo stack up`) or set DONGBO_REPORT_URL"
        ) from exc
    schema = settings.report.schema_name  # an identifier by the setting's pattern, safe to quote
    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    conn.execute(f'SET search_path TO "{schema}"')
    conn.execute(f"SET statement_timeout = {int(settings.report.statement_timeout * 1000)}")
    # A list is always read to its end: plan cursors for all their rows, not the first tenth (a
    # unit's overdue list of a city-year took 8.6 s walking the key index instead of 0.2 s).
    conn.execute("SET cursor_tuple_fraction = 1.0")
    conn.commit()
    return conn


def _params(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **row, "judged": Jsonb(row["judged"]), "sources": Jsonb(row["sources"]),
        "conflict_details": Jsonb(row["conflict_details"]),
    }  # fmt: skip


class ReportStore:
    """Reads and writes of the ``dossiers`` table over one connection."""

    def __init__(self, conn: psycopg.Connection[Any], sectors: Mapping[str, str]) -> None:
        self.conn, self.sectors = conn, sectors
        if self._current(conn):
            return  # a reader (each API request, each CLI call) takes no DDL lock
        with conn.transaction():
            if conn.execute(OLD_LAYOUT).fetchone() is not None:
                log.warning(
                    "reporting store: an older table layout found, dropped; run `dongbo stats rebuild`"
                )
                conn.execute("DROP TABLE dossiers")
            conn.execute(SCHEMA)

    @staticmethod
    def _current(conn: psycopg.Connection[Any]) -> bool:
        """Both tables exist with every column of this layout (then nothing is created or altered:
        ``ALTER TABLE ... IF NOT EXISTS`` still locks the table)."""
        row = conn.execute(_LAYOUT_COLUMNS, (list(FIGURE_COLUMNS), list(DETAIL_COLUMNS))).fetchone()
        conn.rollback()
        return row is not None and int(row[0]) == len(FIGURE_COLUMNS) + len(DETAIL_COLUMNS)

    # -- writes --------------------------------------------------------------------------------
    def write(self, states: Sequence[Mapping[str, Any]]) -> int:
        """Upsert a batch in one transaction; return how many rows were newer than stored."""
        latest: dict[str, Mapping[str, Any]] = {}
        for st in states:  # one statement per dossier: its latest version of the batch
            kept = latest.get(st["dossier_id"])
            if kept is None or st["version"] > kept["version"]:
                latest[st["dossier_id"]] = st
        if not latest:
            return 0
        rows = [_params(report_row(st, self.sectors)) for st in latest.values()]
        written = 0
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(_UPSERT, rows, returning=True)
            while True:
                written += len(cur.fetchall())
                if not cur.nextset():
                    break
            cur.executemany(_UPSERT_DETAILS, rows)
        return written

    def clear(self) -> None:
        with self.conn.transaction():
            self.conn.execute("TRUNCATE dossiers, dossier_details")

    # -- reads ---------------------------------------------------------------------------------
    def _rows(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(sql.encode(), params).fetchall()
        self.conn.rollback()  # read-only: end the transaction the read opened
        return rows

    def figures(self, f: query.Filters, by: Sequence[str]) -> list[dict[str, Any]]:
        return self._rows(*query.figures(f, by))

    def members(self, f: query.Filters, columns: Sequence[str] = COLUMNS) -> Iterator[dict[str, Any]]:
        """The rows behind a figure, streamed (a server-side cursor: a city-year fits in no list)."""
        sql, params = query.members(f, columns)
        with self.conn.transaction(), self.conn.cursor(name="members", row_factory=dict_row) as cur:
            cur.itersize = 2000
            cur.execute(sql.encode(), params)
            yield from cur

    def distinct(self, column: str) -> list[str]:
        if column not in query.PLAIN:
            raise query.QueryError(f"no column {column!r}")
        return [r["v"] for r in self._rows(f"SELECT DISTINCT {column} AS v FROM dossiers ORDER BY 1", {})]

    def sources_present(self) -> list[str]:
        return [
            r["v"]
            for r in self._rows("SELECT DISTINCT jsonb_object_keys(judged) AS v FROM dossiers ORDER BY 1", {})
        ]

    def indicator(
        self, ind: Indicator, f: query.Filters, by: Sequence[str], sources: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Per group: denominator, numerator, rate and score on the legal judgement and, where the
        indicator depends on it, as each of ``sources`` reports it (over the dossiers it has). One
        scan for all of them."""
        srcs = list(sources) if ind.source_numerator else []
        counts = [("hits", ind.numerator)]
        params: dict[str, Any] = {}
        for i, src in enumerate(srcs):
            params[f"src_{i}"] = src
            own = query.judged(src, f"src_{i}")
            num = (ind.source_numerator or "").format(judged=own)
            counts += [
                (f"of_{i}", f"{own} IS NOT NULL"),
                (f"hits_{i}", f"{own} IS NOT NULL AND ({num})"),
            ]
        rows = self._rows(*query.figures(f.with_predicate(ind.denominator), by, counts, params))
        out = []
        for row in rows:
            base = {d: row[d] for d in by}
            out.append({**base, **_rate(ind, row["dossiers"], row["hits"], "legal")})
            for i, src in enumerate(srcs):
                out.append({**base, **_rate(ind, row[f"of_{i}"], row[f"hits_{i}"], src)})
        return out

    def differences(self, ind: Indicator, f: query.Filters, source: str) -> list[dict[str, Any]]:
        """Dossiers the legal judgement counts in the numerator and ``source`` does not (or the
        reverse), by the cause the merge found for that source (``no cause found`` when none)."""
        if not ind.source_numerator:
            return []
        own = query.judged(source, "num_source")
        fs = f.with_predicate(ind.denominator).with_predicate(f"{own} IS NOT NULL", num_source=source)
        cond, params = query.where(fs)
        src_num = ind.source_numerator.format(judged=own)
        # A dossier counts once, under all the causes found for it together.
        causes = (
            "coalesce(nullif(array_to_string(ARRAY(SELECT jsonb_array_elements_text("
            "x.sources -> %(num_source)s -> 'reasons')), ' + '), ''), 'no_cause_found')"
        )
        sql = (
            f"SELECT CASE WHEN ({ind.numerator}) THEN 'legal_only' ELSE 'source_only' END AS direction, "
            f"{causes} AS cause, count(*) AS dossiers FROM dossiers d "
            "JOIN dossier_details x ON x.dossier_id = d.dossier_id "
            f"WHERE {cond} AND (({ind.numerator}) <> coalesce(({src_num}), FALSE)) "
            "GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2"
        )
        return self._rows(sql, {**params, "num_source": source})

    def reconcile(self, f: query.Filters, a: str, b: str) -> list[dict[str, Any]]:
        """One line per dossier on which systems ``a`` and ``b`` disagree (``sinks.report.reconcile``)."""
        sql, params = reconcile.candidates(f, a, b)
        return reconcile.report_lines(self._rows(sql, params), a, b)


class ReportSink:
    """The reporting store as a state sink (run by ``sinks.runner`` in its own consumer group).

    A failed write drops the connection; the next try (the runner retries from the same offsets)
    opens a new one."""

    name = "report"
    retryable: tuple[type[Exception], ...] = (psycopg.OperationalError, psycopg.InterfaceError, OSError)

    def __init__(self, settings: Settings, sectors: Mapping[str, str]) -> None:
        self.settings, self.sectors = settings, sectors
        self._store: ReportStore | None = None

    @property
    def store(self) -> ReportStore:
        if self._store is None or self._store.conn.closed or self._store.conn.broken:
            try:
                self._store = ReportStore(connect(self.settings), self.sectors)
            except StoreUnavailable as exc:
                raise psycopg.OperationalError(str(exc)) from exc
        return self._store

    def lost_since_last_look(self) -> bool:
        return False  # PostgreSQL keeps what it committed across a crash

    def write(self, states: Sequence[Mapping[str, Any]]) -> int:
        try:
            return self.store.write(states)
        except self.retryable:
            if self._store is not None:
                self._store.conn.close()
            raise


def _rate(ind: Indicator, of: int, hits: int, judged_by: str) -> dict[str, Any]:
    """One line of an indicator: who judged (``legal`` or a source), of how many, how many counted."""
    rate = hits / of if of else None
    return {
        "indicator": ind.id, "judged_by": judged_by, "dossiers": int(of), "counted": int(hits), "rate": rate,
        "score": ind.score(rate),
    }  # fmt: skip
