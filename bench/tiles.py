"""Tiles on the CPU: a full Sony frame in windows under the memory budget against one pass, and where the time goes.

Each run is a fresh process (``python -m bench.tiles child ...``) so its peak
memory is its own. The torch runs go through ``ModelRunner`` in fp32 (the
path of CPUs without native bf16) with the default window budget (two
windows side by side for this frame) or a budget the whole frame fits in;
each is profiled once with ``torch.profiler`` and its self CPU time is
grouped by operator. The ONNX Runtime runner is timed the same two ways.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from bench.common import Table, machine, peak_rss_mb, ratio, run_child
from bench.inference import MODELS, cpu_features, planes_for
from worker.models.tiling import MAX_WINDOW_PIXELS

ONE_PASS = 10**9  # input pixels: no frame is split
TOP = 7  # operators listed by name; the rest are summed


def child(engine: str, tiled: bool) -> dict[str, Any]:
    planes = planes_for("raw")
    budget = MAX_WINDOW_PIXELS if tiled else ONE_PASS
    if engine == "onnxruntime":
        from worker.models.onnx_graph import GraphRunner, load_arrays

        weights, config, _ = load_arrays(MODELS / "sid-raw.safetensors")
        runner = GraphRunner(config, weights, max_window_pixels=budget)
        started = time.perf_counter()
        runner(planes)
        return {"seconds": time.perf_counter() - started, "peak_mb": peak_rss_mb(), "ops": {}}
    from torch.profiler import ProfilerActivity, profile

    from worker.models.enhance import ModelRunner, load_kind

    model = ModelRunner(load_kind(MODELS / "sid-raw.safetensors", "raw"), precision="fp32", max_window_pixels=budget)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        started = time.perf_counter()
        model(planes)
        seconds = time.perf_counter() - started
    ops = {event.key: event.self_cpu_time_total / 1e6 for event in prof.key_averages()}
    return {"seconds": seconds, "peak_mb": peak_rss_mb(), "ops": ops}


def run(quick: bool = False) -> list[Table]:
    rounds = {"torch": 1 if quick else 2, "onnxruntime": 1 if quick else 2}
    results: dict[tuple[str, bool], list[dict[str, Any]]] = {}
    for round_ in range(max(rounds.values())):
        for engine in rounds:
            for tiled in (False, True):
                if round_ < rounds[engine]:
                    found = run_child("bench.tiles", ["child", engine, "tiled" if tiled else "one-pass"])
                    results.setdefault((engine, tiled), []).append(found)
                    print(f"  tiles {engine} tiled={tiled}: {found['seconds']:.1f} s", file=sys.stderr)
    timing = Table(
        "Tiles on the CPU: full Sony frame (packed 4x1416x2120), windows under the budget against one pass",
        machine(),
        f"shipped RAW weights, fp32; torch: ModelRunner under torch.profiler, median of {rounds['torch']} fresh "
        f"processes; onnxruntime: GraphRunner, median of {rounds['onnxruntime']}; CPU: {cpu_features()}",
        ["engine", "how", "seconds", "vs one pass", "peak MB"],
    )
    for engine in rounds:
        one = statistics.median(r["seconds"] for r in results[(engine, False)])
        for tiled in (False, True):
            runs = results[(engine, tiled)]
            seconds = statistics.median(r["seconds"] for r in runs)
            how = "2 windows of 1416x1172 (default budget, 1.7 M px)" if tiled else "one pass"
            timing.add(engine, how, seconds, ratio(seconds, one), max(r["peak_mb"] for r in runs))
    return [timing, profile_table(results)]


def profile_table(results: dict[tuple[str, bool], list[dict[str, Any]]]) -> Table:
    """Self CPU seconds by operator, one pass and tiled side by side (torch, first profiled run of each)."""
    one, tiled = (results[("torch", t)][0]["ops"] for t in (False, True))
    names = sorted(set(one) | set(tiled), key=lambda name: -(one.get(name, 0.0) + tiled.get(name, 0.0)))
    table = Table(
        "Where the time goes (torch.profiler, self CPU time by operator)",
        machine(),
        "the torch runs above, one profiled process each",
        ["operator", "one pass s", "tiled s", "tiled - one pass s"],
    )
    for name in names[:TOP]:
        table.add(name, one.get(name, 0.0), tiled.get(name, 0.0), tiled.get(name, 0.0) - one.get(name, 0.0))
    rest = [sum(ops.get(name, 0.0) for name in names[TOP:]) for ops in (one, tiled)]
    table.add("all other operators", rest[0], rest[1], rest[1] - rest[0])
    table.add("total", sum(one.values()), sum(tiled.values()), sum(tiled.values()) - sum(one.values()))
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tiles", description=__doc__)
    parser.add_argument("mode", choices=["child", "table"])
    parser.add_argument("engine", nargs="?", choices=["torch", "onnxruntime"])
    parser.add_argument("how", nargs="?", choices=["tiled", "one-pass"])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.mode == "child":
        print(json.dumps(child(args.engine, args.how == "tiled")))
    else:
        for table in run(args.quick):
            print(table.markdown())


if __name__ == "__main__":
    main()
