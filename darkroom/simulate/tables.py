"""The simulator's data: the defaults table and the prices file, as typed objects.

Both are JSON files beside this module (``defaults.json``, ``prices.json``),
so updating a benchmark or a price is an edit to data, not to code. Every
entry carries its source; the loaders keep it so reports can print it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

KINDS = ("raw", "jpeg")  # input kinds: a RAW file, or an sRGB image (JPEG/PNG)


class TableError(ValueError):
    """A defaults or prices file that does not say what the simulator needs."""


@dataclass(frozen=True)
class ServiceTime:
    """One image's time on a worker: mean and coefficient of variation (0: always the mean)."""

    mean: float
    cv: float = 0.0
    shape: str = "lognormal"  # or "exponential" (cv ignored: 1), "fixed"
    source: str = ""


@dataclass(frozen=True)
class BootTime:
    """Launch to worker ready: a triangular distribution (seconds)."""

    low: float
    mode: float
    high: float
    source: str = ""

    @classmethod
    def fixed(cls, seconds: float) -> BootTime:
        return cls(seconds, seconds, seconds, "fixed")


@dataclass(frozen=True)
class InstancePrice:
    name: str
    device: str  # "gpu" or "cpu"
    vcpus: int
    on_demand_hourly: float
    spot_hourly: float
    source: str
    accelerator: str = ""  # e.g. "NVIDIA T4 16 GB": which published FLOP figure applies

    def hourly(self, spot: bool) -> float:
        return self.spot_hourly if spot else self.on_demand_hourly


@dataclass(frozen=True)
class LambdaPrice:
    gb_second: float
    per_request: float
    source: str


@dataclass(frozen=True)
class Prices:
    about: str
    as_of: str
    region: str
    instances: dict[str, InstancePrice]
    serverless: LambdaPrice

    def instance(self, name: str) -> InstancePrice:
        if name not in self.instances:
            raise TableError(f"no price for instance type {name!r}; the prices file has {sorted(self.instances)}")
        return self.instances[name]


@dataclass(frozen=True)
class Defaults:
    raw: dict[str, Any]  # the parsed file, for the values used once (spot, lambda, worker)

    def service(self, method: str, device: str) -> dict[str, ServiceTime]:
        """Service time by input kind for a method on a device."""
        try:
            table = self.raw["service_seconds"][method][device]
        except KeyError as exc:
            raise TableError(f"the defaults have no service time for method {method!r} on {device!r}") from exc
        return {kind: ServiceTime(float(e["mean"]), float(e["cv"]), source=e["source"]) for kind, e in table.items()}

    def boot(self, device: str) -> BootTime:
        e = self.raw["boot_seconds"][device]
        return BootTime(float(e["low"]), float(e["mode"]), float(e["high"]), e["source"])

    def value(self, section: str, name: str) -> float:
        return float(self.raw[section][name])


def _read(path: Path | None, name: str) -> dict[str, Any]:
    text = path.read_text() if path else resources.files("darkroom.simulate").joinpath(name).read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def load_defaults(path: Path | None = None) -> Defaults:
    return Defaults(_read(path, "defaults.json"))


def load_prices(path: Path | None = None) -> Prices:
    data = _read(path, "prices.json")
    try:
        instances = {
            name: InstancePrice(
                name,
                e["device"],
                int(e["vcpus"]),
                float(e["on_demand_hourly"]),
                float(e["spot_hourly"]),
                e["source"],
                e.get("accelerator", ""),
            )
            for name, e in data["instances"].items()
        }
        lam = data["lambda"]
        serverless = LambdaPrice(float(lam["gb_second"]), float(lam["per_request"]), lam["source"])
        return Prices(data["about"], data["as_of"], data["region"], instances, serverless)
    except KeyError as exc:
        raise TableError(f"the prices file lacks {exc}") from exc
