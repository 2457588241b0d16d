"""The uWSGI entry point (``module = api.wsgi:app``): the one place the API reads its environment."""

from __future__ import annotations

import logging
import os

from api.app import create_app
from api.settings import ApiSettings

settings = ApiSettings.from_env(os.environ)
logging.basicConfig(
    level=settings.log_level.upper(),
    format="%(asctime)s %(levelname)s [api %(process)d] %(name)s: %(message)s",
)

app = create_app(settings)
