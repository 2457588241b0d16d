"""The report as text: tables a person reads in a terminal or pastes into a README."""

from __future__ import annotations

import math

from darkroom.simulate.analysis import Evaluated, Report
from darkroom.simulate.costs import Metrics

HEADER = ("option", "p50 s", "p95 s", "p99 s", "$/1000 img", "$/day", "idle $/day", "util", "interrupted")


def _num(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def row(metrics: Metrics, mark: str = "") -> tuple[str, ...]:
    interrupted = f"{metrics.interruptions} ({metrics.handed_back} jobs back)" if metrics.interruptions else "0"
    return (
        mark + metrics.name,
        _num(metrics.p50),
        _num(metrics.p95),
        _num(metrics.p99),
        _num(metrics.cost_per_1000, 3),
        _num(metrics.cost_per_day, 2),
        _num(metrics.idle_cost_per_day, 2),
        f"{metrics.utilisation:.0%}",
        interrupted,
    )


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=True)))
        for r in [HEADER, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render(report: Report, everything: bool = False) -> str:
    """The chosen policy, the Pareto policies and their variants, the recommendation, the alternatives."""
    c = report.config
    best = {id(report.grid[i]) for i in report.best}
    shown: list[Evaluated] = report.grid if everything else [report.grid[i] for i in report.best]
    pool_rows = [row(report.chosen.metrics, "given: ")]
    pool_rows += [row(e.metrics, "* " if id(e) in best else "  ") for e in shown]
    pool_rows += [row(e.metrics, "+ ") for e in report.variants]
    rec = report.recommended.metrics
    lines = [
        f"{report.images:,} images over {report.horizon / 3600:g} h ({c.pattern}"
        + (f", {c.per_day:,.0f}/day" if c.pattern != "csv" else "")
        + f", {report.raw_share:.0%} RAW), method {c.method}, pool of {c.instance_type}",
        "",
        "spot pool policies (* best cost for its p95 among idle timeouts x pool sizes; + a variant of one):",
        table(pool_rows),
        "",
        f"recommended (cheapest with p95 <= {c.p95_target:g} s, else the fastest): {rec.name}",
        f"  p95 {_num(rec.p95)} s, ${_num(rec.cost_per_1000, 3)} per 1,000 images, ${_num(rec.cost_per_day, 2)}/day",
        "  as settings: " + " ".join(f"{k}={v}" for k, v in report.recommended.policy.settings().items()),
        "",
        "alternatives on the same trace:",
        table([row(m) for m in report.alternatives]),
        "",
        f"cheapest of all with p95 <= {c.p95_target:g} s: {report.overall.name} "
        f"(${_num(report.overall.cost_per_1000, 3)} per 1,000 images, p95 {_num(report.overall.p95)} s)",
        "",
        "cost models:",
        *[f"  - {line}" for line in report.cost_model],
        "sources (check them; ESTIMATE means replace with a measurement):",
        *[f"  - {line}" for line in report.sources],
        "",
        f"simulated {1 + len(report.grid) + len(report.variants)} pool policies in {report.wall_seconds:.1f} s",
    ]
    return "\n".join(lines)
