"""A long import's progress as Prometheus metrics, read from its live ``ImportReport`` at each
scrape (``dongbo import --metrics-port``): operations see a backfill move, stall or reject rows."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from producers.importers.report import ImportReport


class ImportCollector:
    def __init__(self, report: ImportReport) -> None:
        self.report = report

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        r = self.report
        labels = ["format", "source"]
        values = [r.fmt or "?", r.source or "?"]
        for name, doc, value in (
            ("dongbo_import_rows", "Rows read from the import file", r.rows_read),
            ("dongbo_import_events", "Canonical events made from them", r.events),
            ("dongbo_import_published", "Events acknowledged by Kafka", r.published),
        ):
            family = CounterMetricFamily(name, doc, labels=labels)
            family.add_metric(values, float(value))
            yield family
        skipped = CounterMetricFamily(
            "dongbo_import_skipped_rows", "Rows skipped, by reason", labels=[*labels, "reason"]
        )
        for reason, count in sorted(r.skipped.items()):
            skipped.add_metric([*values, reason], float(count))
        yield skipped
        rate = GaugeMetricFamily(
            "dongbo_import_rows_per_second", "Rows read per second so far", labels=labels
        )
        rate.add_metric(values, r.rate)
        yield rate
