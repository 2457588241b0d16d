"""The one way a command group adds its subcommands: ``add_command`` in each module's ``register``."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from typing import Any, TypeAlias

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"  # not subscriptable at run time
Run = Callable[[argparse.Namespace], int]


def add_command(
    commands: Commands, name: str, run: Run, help: str | None = None, **options: Any
) -> argparse.ArgumentParser:
    """A subcommand that calls ``run`` with the parsed arguments.

    Its description is ``run``'s docstring; its help, unless given, the docstring's first line.
    """
    description = inspect.cleandoc(run.__doc__ or "")
    parser = commands.add_parser(name, help=help or description.split("\n")[0], description=description, **options)
    parser.set_defaults(run=run)
    return parser
