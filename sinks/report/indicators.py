"""The Decision 766/QĐ-TTg indicators that dongbo can compute from dossier states.

Pure: each indicator is a denominator and a numerator predicate over a reporting row ``d`` (SQL
the store runs), once on the legal judgement and, where the indicator is about timeliness, once as
each source system reports it. The difference between the legal rate and a source's is the "processed
on time but recorded overdue" of the field, counted by the cause the merge found
(``sinks.report.store.ReportStore.differences``).

Scoring (the published rule): at or above its target an indicator scores its full points; below,
rate × points ÷ target. Shown as the share of the indicator's points.

Each indicator counts the dossiers whose data it needs: 3.6 those of procedures with a fee (a
system reported whether it was paid online), 4.2 and 4.3 those whose component documents a system
lists, 4.1 the ended ones whose result files a system lists. 5.4's complaint rate has no source.
"""

from __future__ import annotations

from dataclasses import dataclass

from sinks.report.rows import COUNTS_ON_TIME

_ON_TIME = "(" + ", ".join(f"'{t}'" for t in sorted(COUNTS_ON_TIME)) + ")"
_ENDED = "('ON_TIME', 'ENDED_EARLY', 'OVERDUE', 'ENDED_NO_DUE')"


@dataclass(frozen=True)
class Indicator:
    id: str
    name_vi: str
    name_en: str
    target: float  # share, 0..1: at or above it, full points
    denominator: str  # SQL predicate over the row d
    numerator: str  # SQL predicate over d, within the denominator
    # The same numerator as one source reports it ({judged}: that source's timeliness, see
    # query.judged), or None when the indicator does not depend on a source's judgement.
    source_numerator: str | None = None
    note: str = ""

    def score(self, rate: float | None) -> float | None:
        """Share of the indicator's points: 1 at or above the target, rate ÷ target below it."""
        if rate is None:
            return None
        return 1.0 if rate >= self.target else rate / self.target


INDICATORS: dict[str, Indicator] = {
    i.id: i
    for i in (
        Indicator(
            "1.4", "Tỷ lệ đồng bộ hồ sơ lên Cổng DVC quốc gia", "Dossiers synced to the national portal",
            1.0, "d.judged ? 'onestop'", "d.judged ? 'portal'",
            note="dossiers of the city's one-stop system that the national portal also has",
        ),
        Indicator(
            "2.1", "Tỷ lệ hồ sơ giải quyết đúng hạn", "On-time rate",
            1.0, "TRUE", f"d.timeliness IN {_ON_TIME}",
            source_numerator=f"{{judged}} IN {_ON_TIME}",
            note="ended on time or early, or open and not yet due, among the dossiers selected",
        ),
        Indicator(
            "3.3", "Tỷ lệ hồ sơ trực tuyến", "Online rate",
            0.5, "TRUE", "d.channel = 'ONLINE'",
            note="received online among the dossiers selected (target 50 %)",
        ),
        Indicator(
            "3.6", "Tỷ lệ thanh toán trực tuyến", "Online payment",
            1.0, "d.paid_online IS NOT NULL", "d.paid_online",
            note="paid online among dossiers of procedures with a fee (a system reported the payment)",
        ),
        Indicator(
            "4.1", "Tỷ lệ cấp kết quả điện tử", "Electronic results",
            1.0, f"d.result_files IS NOT NULL AND d.timeliness IN {_ENDED}", "d.result_files > 0",
            note="ended dossiers with an electronic result file (among those whose results a system lists)",
        ),
        Indicator(
            "4.2", "Tỷ lệ số hóa hồ sơ", "Digitised dossiers",
            0.8, "d.documents_total > 0", "d.documents_digitised >= d.documents_total",
            note="every component document digitised (target 80 %)",
        ),
        Indicator(
            "4.3", "Tỷ lệ tái sử dụng dữ liệu", "Data reuse",
            0.8, "d.documents_total > 0", "d.documents_reused > 0",
            note="at least one component reused from the citizen's data store (target 80 %)",
        ),
        Indicator(
            "5.4", "Mức độ hài lòng (ước tính: 100 % trừ tỷ lệ quá hạn)",
            "Satisfaction proxy (100 % less the overdue rate)",
            0.9, "TRUE", "d.timeliness NOT IN ('OVERDUE', 'OPEN_OVERDUE')",
            source_numerator="{judged} NOT IN ('OVERDUE', 'OPEN_OVERDUE')",
            note="the complaint rate has no source yet, so it counts as 0 (target 90 %)",
        ),
    )
}  # fmt: skip


def get_indicator(indicator_id: str) -> Indicator:
    try:
        return INDICATORS[indicator_id]
    except KeyError:
        raise KeyError(
            f"no indicator {indicator_id!r}: dongbo computes {', '.join(INDICATORS)} (docs/statistics.md)"
        ) from None
