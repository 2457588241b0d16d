"""``darkroom key``: a new API key, and the hash to configure."""

from __future__ import annotations

import argparse
import os

from darkroom.cli.commands import Commands, add_command


def cmd_key(args: argparse.Namespace) -> int:
    """Print a new API key (give it to the client) and its SHA-256 (add it to DARKROOM_API_KEY_HASHES).

    With DARKROOM_WEBHOOK_SECRET set, also the key's own webhook secret, for the client to verify callbacks.
    """
    from api.access import new_key
    from jobs.webhook import signing_secret

    key, digest = new_key()
    print(f"key:  {key}\nhash: {digest}")
    server_secret = os.environ.get("DARKROOM_WEBHOOK_SECRET", "")
    if server_secret:
        print(f"webhook-secret: {signing_secret(server_secret, digest)}")
    return 0


def register(commands: Commands) -> None:
    add_command(commands, "key", cmd_key, help="make an API key and the hash to configure")
