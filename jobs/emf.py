"""CloudWatch Embedded Metric Format: metrics as one JSON log line, for workers and the API alike.

Nothing to scrape on AWS: a line like this written to a log that reaches
CloudWatch Logs (Lambda's own log group; the awslogs driver of the worker's
and the API's containers) becomes metrics in the ``darkroom`` namespace. The
specification: an ``_aws`` member with ``Timestamp`` (epoch milliseconds) and
``CloudWatchMetrics`` [{Namespace, Dimensions, Metrics}], and each dimension
and metric as a member of the document itself.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping

NAMESPACE = "darkroom"


def emf_line(dimensions: Mapping[str, str], metrics: Mapping[str, tuple[float, str]], now: float) -> str:
    """One EMF document: ``metrics`` maps a name to (value, unit: Count, Seconds or None), under ``dimensions``."""
    directive = {
        "Namespace": NAMESPACE,
        "Dimensions": [list(dimensions)],
        "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()],
    }
    document = {
        "_aws": {"Timestamp": int(now * 1000), "CloudWatchMetrics": [directive]},
        **dimensions,
        **{name: float(value) for name, (value, _) in metrics.items()},
    }
    return json.dumps(document, separators=(",", ":"))


def print_line(line: str) -> None:
    """One whole line per write, flushed: the log shipper makes each line one event."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
