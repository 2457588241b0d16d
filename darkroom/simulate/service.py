"""Sampling the model's times: how long one image keeps a worker busy (by input kind), and a boot."""

from __future__ import annotations

import math

import numpy as np

from darkroom.simulate.arrivals import Trace
from darkroom.simulate.tables import BootTime, ServiceTime


def service_samples(spec: ServiceTime, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` service times: exponential, fixed, or lognormal with the spec's mean and cv."""
    if spec.shape == "exponential":
        return rng.exponential(spec.mean, count)
    if spec.shape == "fixed" or spec.cv <= 0:
        return np.full(count, spec.mean)
    sigma2 = math.log1p(spec.cv**2)
    return rng.lognormal(math.log(spec.mean) - sigma2 / 2, math.sqrt(sigma2), count)


def presampled(trace: Trace, service: dict[str, ServiceTime], rng: np.random.Generator) -> np.ndarray:
    """Every job's service time, drawn at once (vectorised) by input kind."""
    kinds = np.asarray(trace.kinds)
    out = np.empty(len(trace))
    for kind, spec in service.items():
        where = kinds == kind
        out[where] = service_samples(spec, int(where.sum()), rng)
    return out


def boot_sample(boot: BootTime, rng: np.random.Generator) -> float:
    """Launch to ready: triangular, or fixed when the range is empty."""
    return float(rng.triangular(boot.low, boot.mode, boot.high)) if boot.high > boot.low else boot.low
