"""``python -m darkroom.cli``: the ``darkroom`` command."""

import sys

from darkroom.cli import main

sys.exit(main())
