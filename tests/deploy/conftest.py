"""The deploy artifacts' paths and the CloudFormation template, parsed once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "darkroom.yaml"
DOCKERFILES = sorted((ROOT / "docker").glob("*.Dockerfile"))
SHELL_SCRIPTS = sorted(
    [
        *(ROOT / "ami" / "scripts").glob("*.sh"),
        *(ROOT / "ami" / "files" / name for name in ("darkroom-preread", "darkroom-worker-run")),
    ]
)


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, ...) read as {"Fn": value}."""


def _intrinsic(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        return {name: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    return {name: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


CfnLoader.add_multi_constructor("!", _intrinsic)


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    data: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)  # a SafeLoader subclass
    return data
