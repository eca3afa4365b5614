"""The figures every side of bench/commits.py reports, from its commit latencies."""

from __future__ import annotations

from bench._load import quantile

__all__ = ["commit_figures"]


def commit_figures(
    latencies: list[float], elapsed: float, batches: int, callers: int
) -> dict[str, float]:
    """Rate, latency quantiles (ms) and batching of ``latencies`` (seconds, one per
    commit) measured over ``elapsed`` seconds in ``batches`` store writes."""
    commits = len(latencies)

    def ms(q: float) -> float:
        return quantile(latencies, q) * 1000 if latencies else 0.0

    return {
        "callers": float(callers),
        "commits": float(commits),
        "seconds": elapsed,
        "commits_per_s": commits / elapsed,
        "p50_ms": ms(0.50),
        "p99_ms": ms(0.99),
        "max_ms": ms(1.0),
        "batches": float(batches),
        "mean_batch": commits / batches if batches else 0.0,
    }
