"""``dongbo export``: the dossiers behind a figure, one row each, as CSV or XLSX.

The rows come from the same filter as the figure (``sinks.report.query.members``), so their count
is the figure. Headers are Vietnamese by default (officials read them), English with ``--lang en``.
Times are local (+07:00), as officials read them.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from streams.model import VN_TZ

# (key, Vietnamese header, English header) of the fixed columns.
FIXED = (
    ("dossier_id", "Mã hồ sơ", "Dossier code"),
    ("procedure", "Mã thủ tục", "Procedure"),
    ("field", "Lĩnh vực", "Field"),
    ("unit", "Đơn vị", "Unit"),
    ("channel", "Kênh", "Channel"),
    ("status", "Trạng thái", "Status"),
    ("received_at", "Ngày tiếp nhận", "Received"),
    ("due_at", "Hạn giải quyết (theo quy định)", "Legal due"),
    ("ended_at", "Ngày kết thúc xử lý", "Ended"),
    ("timeliness", "Kết quả (theo quy định)", "Outcome (legal)"),
    ("conflicts", "Xung đột giữa các hệ thống", "Conflicts between systems"),
    ("discrepancy_reasons", "Nguyên nhân chênh lệch", "Reason of the discrepancy"),
)
PER_SOURCE = (
    ("status", "trạng thái", "status"),
    ("due_at", "hạn", "due"),
    ("overdue", "quá hạn", "overdue"),
    ("timeliness", "kết quả theo hệ thống", "outcome as reported"),
)
TIMELINESS_VI = {
    "ON_TIME": "Đúng hạn", "ENDED_EARLY": "Trước hạn", "OVERDUE": "Quá hạn",
    "OPEN": "Đang giải quyết (trong hạn)", "OPEN_OVERDUE": "Đang giải quyết (quá hạn)",
}  # fmt: skip
FORMATS = ("csv", "xlsx")


def headers(sources: Sequence[str], lang: str, extra: Sequence[tuple[str, str, str]] = ()) -> list[str]:
    pick = 1 if lang == "vi" else 2
    out = [c[pick] for c in FIXED]
    for src in sources:
        out += [f"{src}: {c[pick]}" for c in PER_SOURCE]
    return out + [c[pick] for c in extra]


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(VN_TZ).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "có" if value else "không"
    return "" if value is None else value


def _source_cell(key: str, value: Any, lang: str) -> Any:
    if key == "due_at" and value:
        return datetime.fromisoformat(value).astimezone(VN_TZ).strftime("%Y-%m-%d %H:%M")
    if key == "timeliness" and lang == "vi" and value:
        return TIMELINESS_VI.get(value, value)
    if isinstance(value, bool):
        return ("có" if value else "không") if lang == "vi" else str(value).lower()
    return "" if value is None else value


def table_rows(
    rows: Iterable[Mapping[str, Any]],
    sources: Sequence[str],
    lang: str,
    extra: Sequence[Callable[[Mapping[str, Any]], Any]] = (),
) -> Iterator[list[Any]]:
    """One list of cells per dossier, in the order of ``headers``."""
    for row in rows:
        cells = []
        for key, _vi, _en in FIXED:
            value = row[key]
            if key == "timeliness" and lang == "vi":
                value = TIMELINESS_VI.get(value, value)
            elif isinstance(value, bool) and lang != "vi":
                value = str(value).lower()
            cells.append(_cell(value))
        views = row["sources"] or {}
        for src in sources:
            view = views.get(src)
            cells += ["" if view is None else _source_cell(k, view.get(k), lang) for k, _v, _e in PER_SOURCE]
        cells += [_cell(f(row)) for f in extra]
        yield cells


def write(
    path: Path, fmt: str, head: list[str], rows: Iterable[list[Any]], progress: Callable[[int], None]
) -> int:
    """Write the table; return its row count (the header not counted)."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: choose {' or '.join(FORMATS)}")
    n = 0
    if fmt == "csv":
        # utf-8-sig: Excel, which many offices open CSV files with, then reads Vietnamese correctly.
        with open(path, "w", newline="", encoding="utf-8-sig") as fh:
            w = csv.writer(fh)
            w.writerow(head)
            for cells in rows:
                w.writerow(cells)
                n += 1
                if n % 10_000 == 0:
                    progress(n)
        return n
    from openpyxl import Workbook

    wb = Workbook(write_only=True)  # streams rows to disk: a city-year fits
    ws = wb.create_sheet("Hồ sơ")
    ws.append(head)
    for cells in rows:
        ws.append(cells)
        n += 1
        if n % 10_000 == 0:
            progress(n)
    wb.save(path)
    return n


def export_dossiers(
    store: Any, f: Any, indicator: Any, path: Path, fmt: str, lang: str, progress: Callable[[int], None]
) -> int:
    """The dossiers a filter selects (with an indicator: its denominator's, and a column saying which
    count in its numerator) written to ``path``; the CLI and the API both export through here."""
    extra: list[tuple[str, str, str]] = []
    cells: list[Callable[[Mapping[str, Any]], Any]] = []
    if indicator is not None:
        f = f.with_predicate(indicator.denominator)
        hits = {
            r["dossier_id"] for r in store.members(f.with_predicate(indicator.numerator), ("dossier_id",))
        }
        extra.append(
            ("counts", f"Đạt chỉ số {indicator.id} (theo quy định)", f"Counts in {indicator.id} (legal)")
        )
        cells.append(lambda row: row["dossier_id"] in hits)
    sources = store.sources_present()
    return write(
        path, fmt, headers(sources, lang, extra), table_rows(store.members(f), sources, lang, cells), progress
    )
