"""docs/grafana-dashboard.json queries only metrics the code exports, and leaves none of them out."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import pool_app
from tests.support.aws import PoolWorld
from worker.metrics import PrometheusSink

DASHBOARD = Path(__file__).resolve().parents[1] / "docs" / "grafana-dashboard.json"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported(text: str) -> dict[str, set[str]]:
    """Each metric family in a scrape -> the series names a query can use for it.

    Left out: prometheus_client's ``_created`` timestamps (absent under uWSGI's multiprocess mode)."""
    return {
        family.name: {family.name + suffix for suffix in SUFFIXES[family.type]}
        for family in text_string_to_metric_families(text)
        if not family.name.endswith("_created")
    }


def queried() -> set[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    exprs = [target["expr"] for panel in panels for target in panel["targets"]]
    assert exprs
    return {name for expr in exprs for name in re.findall(r"\bdarkroom_[a-z_]+\b", expr)}


def test_every_query_names_a_metric_the_api_or_a_worker_exports_and_every_one_has_a_panel(
    pool_world: PoolWorld,
) -> None:
    api = pool_app(pool_world).test_client().get("/metrics").get_data(as_text=True)
    worker = generate_latest(PrometheusSink().registry).decode()
    families = {**exported(api), **exported(worker)}
    series = set().union(*families.values())
    assert queried() - series == set(), "a panel queries a metric nothing exports"
    unshown = {family for family, names in families.items() if not names & queried()}
    assert unshown == set(), "a metric with no panel"
