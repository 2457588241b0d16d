"""The programmatic API: ``SimulateConfig`` in, a ``Report`` out (``darkroom simulate`` is a thin CLI over it).

One run builds the trace, simulates the chosen policy, sweeps idle timeouts
and pool sizes (in parallel processes), marks the Pareto policies (cheapest
for their p95), tries pre-warm and a minimum worker on those, recommends the
cheapest policy that meets the p95 target, and prices the alternatives on
the same trace.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from darkroom.simulate import arrivals
from darkroom.simulate.compare import Serverless, always_on, serverless
from darkroom.simulate.config import PATTERNS, Policy, SimulateConfig
from darkroom.simulate.costs import Metrics, pareto, pool_metrics
from darkroom.simulate.gpu_times import GpuReport, find_report, gpu_boot, gpu_service
from darkroom.simulate.pool import PoolModel, simulate
from darkroom.simulate.tables import (
    BootTime,
    Defaults,
    InstancePrice,
    Prices,
    ServiceTime,
    load_defaults,
    load_prices,
)
from pool.settings import DEFAULT_INSTANCE_TYPES


@dataclass(frozen=True)
class Evaluated:
    policy: Policy
    metrics: Metrics


@dataclass(frozen=True)
class Report:
    config: SimulateConfig
    images: int
    raw_share: float  # of the trace's uploads
    horizon: float
    chosen: Evaluated  # the policy given in the config
    grid: list[Evaluated]  # idle timeouts x pool sizes
    best: list[int]  # indices into grid: the Pareto policies
    variants: list[Evaluated]  # pre-warm and min-worker versions of the Pareto policies
    recommended: Evaluated  # the pool policy to run
    alternatives: list[Metrics]
    overall: Metrics  # the cheapest of the recommended pool and the alternatives by the same rule
    cost_model: list[str]
    sources: list[str]
    wall_seconds: float


def build_trace(config: SimulateConfig, rng: np.random.Generator) -> arrivals.Trace:
    duration = config.hours * 3600.0
    if config.pattern == "csv":
        if config.csv is None:
            raise ValueError("pattern csv needs a CSV file of request times")
        times, kinds = arrivals.parse_csv(config.csv.read_text())
        duration = max(float(times[-1]) if len(times) else 0.0, 1.0)
        kinds = kinds or arrivals.assign_kinds(len(times), config.raw_fraction, rng)
        return arrivals.Trace(times, kinds, duration)
    if config.pattern == "poisson":
        times = arrivals.poisson_times(config.per_day / arrivals.DAY, duration, rng)
    elif config.pattern == "daily":
        times = arrivals.daily_cycle_times(config.per_day, duration, rng, config.peak_to_mean)
    elif config.pattern == "bursts":
        times = arrivals.burst_times(config.per_day, duration, rng, config.photos_per_burst, config.burst_gap_seconds)
    else:
        raise ValueError(f"unknown arrival pattern {config.pattern!r}; one of {', '.join(PATTERNS)}")
    return arrivals.Trace(times, arrivals.assign_kinds(len(times), config.raw_fraction, rng), duration)


def service_for(
    config: SimulateConfig, defaults: Defaults, device: str, accelerator: str = "", report: GpuReport | None = None
) -> dict[str, ServiceTime]:
    """Per-image times; the learned method's on a GPU by its accelerator (gpu_times), measured where a report says."""
    if device == "gpu" and config.method == "sid":
        service = gpu_service(defaults, accelerator, report)
    else:
        service = defaults.service(config.method, device)
    if device == "gpu":  # the overrides describe the pool's instances
        for kind, value in (("raw", config.raw_seconds), ("jpeg", config.jpeg_seconds)):
            if value is not None:
                service[kind] = replace(service[kind], mean=value, source="given")
    return service


def build_model(
    config: SimulateConfig, defaults: Defaults, instance: InstancePrice, report: GpuReport | None = None
) -> PoolModel:
    if config.boot_seconds is not None and len(config.boot_seconds) != 3:
        raise ValueError(f"boot seconds are LOW,MODE,HIGH, not {config.boot_seconds}")
    device = instance.device
    if config.boot_seconds:
        boot = BootTime(*config.boot_seconds, "given")
    else:
        boot = gpu_boot(defaults, report) if device == "gpu" else defaults.boot(device)
    rate = config.interruptions_per_hour
    return PoolModel(
        boot=boot,
        service=service_for(config, defaults, device, instance.accelerator, report),
        interruptions_per_hour=defaults.value("spot", "interruptions_per_instance_hour") if rate is None else rate,
        notice_seconds=defaults.value("spot", "notice_seconds"),
        notice_margin_seconds=defaults.value("worker", "notice_margin_seconds"),
        poll_seconds=defaults.value("worker", "poll_seconds"),
    )


def evaluate(trace: arrivals.Trace, model: PoolModel, policy: Policy, hourly: float, seed: int) -> Evaluated:
    return Evaluated(policy, pool_metrics(policy.label(), simulate(trace, model, policy, seed), hourly))


def run_simulation(config: SimulateConfig) -> Report:
    started = time.perf_counter()
    defaults, prices = load_defaults(config.defaults_path), load_prices(config.prices_path)
    trace = build_trace(config, np.random.default_rng(config.seed))
    pool_type = prices.instance(config.instance_type)
    report = find_report(config.gpu_report)
    model = build_model(config, defaults, pool_type, report)
    hourly = pool_type.hourly(config.spot)
    grid_policies = [
        replace(config.policy, max_workers=size, idle_seconds=idle)
        for size in config.pool_grid
        for idle in config.idle_grid
    ]
    with ProcessPoolExecutor(max_workers=max(1, config.processes)) as pool:

        def run_all(policies: list[Policy]) -> list[Evaluated]:
            futures = [pool.submit(evaluate, trace, model, p, hourly, config.seed) for p in policies]
            return [future.result() for future in futures]

        chosen, *grid = run_all([config.policy, *grid_policies])
        best = pareto([(e.metrics.cost_per_1000, significant(e.metrics.p95)) for e in grid])
        variants = run_all(variant_policies([grid[i].policy for i in best], config.prewarm_lead_seconds))
    recommended = recommend([*grid, *variants, chosen], config.p95_target)  # on a tie, the smaller pool
    alternatives = alternatives_for(config, trace, defaults, prices, pool_type.device, report)
    overall = cheapest([recommended.metrics, *alternatives], config.p95_target)
    return Report(
        config,
        len(trace),
        trace.kinds.count("raw") / max(len(trace), 1),
        trace.duration,
        chosen,
        grid,
        best,
        variants,
        recommended,
        alternatives,
        overall,
        cost_model(config, prices, hourly),
        sources(defaults, prices, model),
        time.perf_counter() - started,
    )


def significant(seconds: float, digits: int = 2) -> float:
    """A latency to ``digits`` significant figures: closer than that, two policies are equally fast."""
    if not math.isfinite(seconds) or seconds <= 0:
        return seconds
    return round(seconds, digits - 1 - math.floor(math.log10(seconds)))


def variant_policies(policies: list[Policy], lead: float) -> list[Policy]:
    """For each policy: the page pre-warms ``lead`` seconds ahead; and one worker always kept."""
    out = []
    for policy in policies:
        if policy.prewarm_lead_seconds == 0 and lead > 0:
            out.append(replace(policy, prewarm_lead_seconds=lead))
        if policy.min_workers == 0:
            out.append(replace(policy, min_workers=1))
    return out


def recommend(options: list[Evaluated], p95_target: float) -> Evaluated:
    """The pool policy: by ``cheapest`` over its metrics."""
    pick = cheapest([e.metrics for e in options], p95_target)
    return next(e for e in options if e.metrics is pick)


def cheapest(options: list[Metrics], p95_target: float) -> Metrics:
    """The cheapest option whose p95 meets the target; if none does, the one with the lowest p95."""
    meeting = [m for m in options if m.p95 <= p95_target]
    if meeting:
        return min(meeting, key=lambda m: (m.cost_per_1000, m.p95))
    return min(options, key=lambda m: (m.p95, m.cost_per_1000))


def alternatives_for(
    config: SimulateConfig,
    trace: arrivals.Trace,
    defaults: Defaults,
    prices: Prices,
    pool_device: str,
    report: GpuReport | None = None,
) -> list[Metrics]:
    gpu = prices.instance(config.instance_type) if pool_device == "gpu" else prices.instance(DEFAULT_INSTANCE_TYPES[0])
    cpu = prices.instance(config.cpu_instance_type)
    cpu_service = defaults.service(config.method, "cpu")
    lam = Serverless(
        defaults.value("lambda", "memory_mb"),
        defaults.value("lambda", "cold_start_seconds"),
        defaults.value("lambda", "keep_warm_seconds"),
    )
    return [
        always_on(trace, service_for(config, defaults, "gpu", gpu.accelerator, report), gpu, config.seed),
        always_on(trace, cpu_service, cpu, config.seed),
        serverless(trace, cpu_service, lam, prices.serverless, config.seed),
    ]


def cost_model(config: SimulateConfig, prices: Prices, hourly: float) -> list[str]:
    lam = prices.serverless
    return [
        f"pool: {config.instance_type} {'spot' if config.spot else 'on-demand'} at ${hourly:.4f}/h, billed per second "
        "from launch to end, 60 s minimum per launch; idle cost = billed time not spent on an image (boot included)",
        "always-on: on-demand instances for the whole horizon, as many as keep them <= 70% busy in the busiest hour",
        f"serverless: ${lam.gb_second:.10f}/GB-s x memory x (CPU service time + billed cold start) "
        f"+ ${lam.per_request * 1e6:.2f} per 1M requests; no queueing",
    ]


def sources(defaults: Defaults, prices: Prices, model: PoolModel) -> list[str]:
    lines = [f"prices: {prices.about}"]
    lines += [f"service {kind}: {spec.mean:g} s, {spec.source}" for kind, spec in model.service.items()]
    lines.append(f"boot: {model.boot.low:g}/{model.boot.mode:g}/{model.boot.high:g} s, {model.boot.source}")
    lines.append(f"interruptions: {model.interruptions_per_hour:g} per instance-hour, {defaults.raw['spot']['source']}")
    return lines
