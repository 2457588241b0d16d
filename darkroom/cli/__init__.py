"""The ``darkroom`` command: one module per command group, each a thin layer over the programmatic API.

local     up, soak           the whole system on this machine (darkroom.local)
photos    enhance, sample    brighten files with no servers; write a dark test photo
models    train, eval        train and measure the learned models
keys      key                an API key and the hash to configure
dlq       dlq                the dead-letter queue: list, redrive, purge
config    config             every DARKROOM_* setting, as docs/configuration.md lists them
deploy    deploy, ami        the AWS side (darkroom.deploy)
simulate  simulate           what a photo costs (darkroom.simulate)

Each module's ``register`` adds its subcommands (``commands.add_command``);
``main`` builds the parser from them all. Options take their defaults from
the config dataclasses they fill. Commands import what they need when they
run, so ``darkroom --help`` is instant and ``darkroom up`` never loads torch
into this process. Nothing is imported here: ``python -m darkroom.cli.deploy``
runs in the API's image (docker-compose's setup), which has no worker package.
"""
