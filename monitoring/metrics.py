"""dongbo's own Prometheus metrics, created into a registry that is passed in (tests use a fresh one).

The worker serves them, together with Faust's own sensors, on ``/metrics`` of its web server.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Seconds from a source's event time to the unified state: sync lags are minutes to days.
LAG_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400)
# Seconds from a moment (a deadline, a capture) to the output the worker published for it, live.
LIVE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900)
# Seconds spent inside the worker for one event.
PROCESS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


@dataclass(frozen=True)
class DongboMetrics:
    events: Counter
    state_changes: Counter
    dead_letters: Counter
    process_seconds: Histogram
    event_lag_seconds: Histogram
    source_last_event: Gauge
    stream_time: Gauge
    misrouted: Counter
    consumer_skips: Counter
    catch_up_steps: Counter
    conflicts: Counter
    alerts: Counter
    source_silence_seconds: Gauge
    consumer_lag: Gauge
    timer_lag_seconds: Histogram
    state_latency_seconds: Histogram
    event_to_state_seconds: Histogram
    office_open: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry, prefix: str = "dongbo") -> DongboMetrics:
        return cls(
            events=Counter(
                f"{prefix}_events",
                "Canonical events seen by the merge, by source and result (applied, duplicate)",
                ["source", "result"],
                registry=registry,
            ),
            state_changes=Counter(
                f"{prefix}_state_changes", "Visible changes of a dossier's unified state", registry=registry
            ),
            dead_letters=Counter(
                f"{prefix}_dead_letters",
                "Records sent to the dead-letter topic, by stage and reason",
                ["stage", "reason"],
                registry=registry,
            ),
            process_seconds=Histogram(
                f"{prefix}_process_seconds",
                "Time to merge one event and publish the state",
                buckets=PROCESS_BUCKETS,
                registry=registry,
            ),
            event_lag_seconds=Histogram(
                f"{prefix}_event_lag_seconds",
                "Event time to ingestion, by source (how late each source syncs)",
                ["source"],
                buckets=LAG_BUCKETS,
                registry=registry,
            ),
            source_last_event=Gauge(
                f"{prefix}_source_last_ingested_timestamp_seconds",
                "Wall-clock time the last event of each source was ingested (a stalled feed stops moving)",
                ["source"],
                registry=registry,
            ),
            stream_time=Gauge(
                f"{prefix}_stream_time_seconds",
                "Each partition's stream time: every source's records captured by then have been read "
                "(behind the wall clock: alerts wait for the slowest source)",
                ["partition"],
                registry=registry,
            ),
            misrouted=Counter(
                f"{prefix}_misrouted_records",
                "Raw records on a partition other than their dossier's (a source not keyed by the "
                "dossier id with the Java partitioner): the stream time may then read them as late",
                ["source"],
                registry=registry,
            ),
            consumer_skips=Counter(
                f"{prefix}_consumer_skips",
                "Times the Kafka consumer delivered a partition's records with some missing (the "
                "agent then reads the partition again from the first missing one)",
                ["topic"],
                registry=registry,
            ),
            catch_up_steps=Counter(
                f"{prefix}_catch_up_steps",
                "Steps stored after a batch to visit the rest of the moments a leap of time passed (the "
                "first tick after a backlog, a replay's closing watermark), each of at most "
                "DONGBO_WORKER_CATCH_UP_STEP moments",
                registry=registry,
            ),
            conflicts=Counter(
                f"{prefix}_conflicts",
                "Conflicts between systems opened / resolved, by kind",
                ["kind", "change"],
                registry=registry,
            ),
            alerts=Counter(
                f"{prefix}_deadline_alerts",
                "Deadline alerts fired (received_late, near_deadline, overdue), by kind and unit",
                ["kind", "unit"],
                registry=registry,
            ),
            source_silence_seconds=Gauge(
                f"{prefix}_source_silence_seconds",
                "Worker clock less the capture time of the latest record merged from each source (since "
                "the worker started, for a source not heard from yet): a stalled feed grows",
                ["source"],
                registry=registry,
            ),
            consumer_lag=Gauge(
                f"{prefix}_consumer_lag_records",
                "Records of each input partition this worker owns not yet processed",
                ["topic", "partition"],
                registry=registry,
            ),
            timer_lag_seconds=Histogram(
                f"{prefix}_timer_lag_seconds",
                "Live clock: the moment an alert is judged at to the worker sending it (the live margin "
                "included, by design), by kind",
                ["kind"],
                buckets=LIVE_BUCKETS,
                registry=registry,
            ),
            state_latency_seconds=Histogram(
                f"{prefix}_state_latency_seconds",
                "Live clock: the latest capture a unified state shows to the worker sending it",
                buckets=LIVE_BUCKETS,
                registry=registry,
            ),
            event_to_state_seconds=Histogram(
                f"{prefix}_event_to_state_seconds",
                "Live clock: the latest source event time a unified state shows (when it happened in "
                "its system) to the worker sending it: sync delays of the sources included",
                buckets=LAG_BUCKETS,
                registry=registry,
            ),
            office_open=Gauge(
                f"{prefix}_office_open",
                "1 while the city's offices are open on the business calendar (the worker's clock): "
                "rules about stalled feeds only page then",
                registry=registry,
            ),
        )


class BoundedLabel:
    """A label whose values come from data (a unit code): the first ``limit`` distinct values are
    kept, any later one is counted as ``other``, so bad input cannot grow the series without end."""

    def __init__(self, limit: int = 500, other: str = "other") -> None:
        self.limit, self.other = limit, other
        self.seen: set[str] = set()

    def __call__(self, value: str | None) -> str:
        if not value:
            return "none"
        if value in self.seen:
            return value
        if len(self.seen) < self.limit:
            self.seen.add(value)
            return value
        return self.other
