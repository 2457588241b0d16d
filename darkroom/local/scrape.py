"""Reading Prometheus text back: what the soak and the tests scrape from the API and the workers."""

from __future__ import annotations

from collections.abc import Iterable

import requests
from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]


def samples_of(text: str) -> Samples:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(url: str, timeout: float = 30.0) -> Samples:
    """One scrape of a ``/metrics`` URL; raises ``requests.RequestException`` when it does not answer 200."""
    reply = requests.get(url, timeout=timeout)
    reply.raise_for_status()
    return samples_of(reply.text)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over every sample whose labels include ``labels`` (0.0 when there is none)."""
    wanted = set(labels.items())
    return sum(value for (found, got), value in samples.items() if found == name and wanted <= set(got))


def summed(scrapes: Iterable[Samples]) -> Samples:
    """Several processes' scrapes as one (the workers of a stack, each on its own port)."""
    result: Samples = {}
    for samples in scrapes:
        for key, value in samples.items():
            result[key] = result.get(key, 0.0) + value
    return result
