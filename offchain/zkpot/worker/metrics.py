"""The worker's Prometheus metrics, on a registry of its own (several workers may share a
process in tests and the demo)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class WorkerMetrics:
    """Counters and timings of one worker."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.rounds = Counter(
            "zkpot_rounds", "Rounds taken part in, by outcome", ["outcome"], registry=self.registry
        )
        self.proofs = Counter("zkpot_proofs", "Proofs made", registry=self.registry)
        self.prove_seconds = Histogram(
            "zkpot_prove_seconds",
            "Seconds spent proving",
            buckets=(5, 10, 20, 30, 45, 60, 90, 120, 240, 480),
            registry=self.registry,
        )
        self.train_seconds = Histogram(
            "zkpot_train_seconds", "Seconds spent training",
            buckets=(1, 2, 5, 10, 20, 60, 120, 300), registry=self.registry,
        )
        self.submissions = Counter(
            "zkpot_submissions", "Extrinsics submitted, by call and result", ["call", "result"],
            registry=self.registry,
        )
        self.errors = Counter("zkpot_errors", "Errors, by kind", ["kind"], registry=self.registry)
        self.current_round = Gauge("zkpot_current_round", "Round being worked on", registry=self.registry)
        self.last_score = Gauge("zkpot_last_score", "Score of the last proof", registry=self.registry)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)
