"""The plot: cost per 1,000 images against p95 latency, one point per policy, the best ones marked.

matplotlib with the Agg backend (no display); one panel per report, so the
docs/cost.md's figure can show three traffic levels side by side.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from darkroom.simulate.analysis import Report

ALTERNATIVE_MARKERS = ("s", "D", "^")


def draw(report: Report, ax: Axes) -> None:
    idles = sorted({e.policy.idle_seconds for e in report.grid})
    colours = plt.get_cmap("viridis")([i / max(len(idles) - 1, 1) for i in range(len(idles))])
    for idle, colour in zip(idles, colours, strict=True):
        points = [e for e in report.grid if e.policy.idle_seconds == idle]
        ax.scatter(
            [e.metrics.p95 for e in points],
            [e.metrics.cost_per_1000 for e in points],
            s=[18 + 10 * e.policy.max_workers for e in points],
            color=colour,
            alpha=0.8,
            label=f"idle {idle:g} s",
        )
    front = [report.grid[i] for i in report.best]
    ax.plot([e.metrics.p95 for e in front], [e.metrics.cost_per_1000 for e in front], "k--", lw=0.8)
    ax.scatter(
        [e.metrics.p95 for e in front],
        [e.metrics.cost_per_1000 for e in front],
        s=140,
        facecolors="none",
        edgecolors="red",
        linewidths=1.5,
        label="best (Pareto)",
    )
    for e in front:
        ax.annotate(
            f"max {e.policy.max_workers}, idle {e.policy.idle_seconds:g}",
            (e.metrics.p95, e.metrics.cost_per_1000),
            fontsize=6,
            xytext=(4, 4),
            textcoords="offset points",
        )
    rec = report.recommended.metrics
    ax.scatter([rec.p95], [rec.cost_per_1000], marker="*", s=220, color="red", zorder=5, label="recommended")
    for metrics, marker in zip(report.alternatives, ALTERNATIVE_MARKERS, strict=False):
        ax.scatter(
            [metrics.p95],
            [metrics.cost_per_1000],
            marker=marker,
            s=50,
            color="grey",
            edgecolors="black",
            label=metrics.name.split(":")[0],
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("p95 submit-to-done latency (s)")
    ax.set_ylabel("$ per 1,000 images")
    ax.set_title(f"{report.images:,} images / {report.horizon / 3600:g} h ({report.config.pattern})", fontsize=9)
    ax.grid(True, which="both", lw=0.3, alpha=0.5)


def save(reports: list[Report], path: Path) -> Path:
    """One panel per report, side by side; a small PNG."""
    fig, axes = plt.subplots(1, len(reports), figsize=(5.2 * len(reports), 4.4), squeeze=False)
    for report, ax in zip(reports, axes[0], strict=True):
        draw(report, ax)
    axes[0][0].legend(fontsize=6, loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
