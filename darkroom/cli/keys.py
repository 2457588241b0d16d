"""``darkroom key``: a new API key, and the hash to configure."""

from __future__ import annotations

import argparse

from darkroom.cli.commands import Commands, add_command


def cmd_key(args: argparse.Namespace) -> int:
    """Print a new API key (give it to the client) and its SHA-256 (add it to DARKROOM_API_KEY_HASHES)."""
    from api.access import new_key

    key, digest = new_key()
    print(f"key:  {key}\nhash: {digest}")
    return 0


def register(commands: Commands) -> None:
    add_command(commands, "key", cmd_key, help="make an API key and the hash to configure")
