"""The uWSGI entry point (``module = api.wsgi:app``): the one place the API reads its environment."""

from __future__ import annotations

import logging
import os

from api.app import create_app
from api.settings import ApiSettings

logging.basicConfig(
    level=os.environ.get("DARKROOM_LOG_LEVEL", "INFO").upper(),
    format="%(asctime)s %(levelname)s [api %(process)d] %(name)s: %(message)s",
)

app = create_app(ApiSettings.from_env(os.environ))
