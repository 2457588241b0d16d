"""The app factory: every blueprint, the problem handlers and CORS over one Services object."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from api import health, jobs, legacy, metrics, openapi, page, pool_routes, uploads
from api.cors import install_cors
from api.errors import register_problem_handlers
from api.services import EXTENSION_KEY, Services
from api.settings import ApiSettings

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

log = logging.getLogger(__name__)


def create_app(
    settings: ApiSettings,
    s3: S3Client | None = None,
    sqs: SQSClient | None = None,
    ec2: EC2Client | None = None,
    ssm: SSMClient | None = None,
    awslambda: LambdaClient | None = None,
) -> Flask:
    """Build the app; no AWS call or client is made until a request needs one (fork-safe)."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if settings.access.trusted_proxies:  # the client is the address the nearest trusted proxy saw, not a header
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.access.trusted_proxies)  # type: ignore[method-assign]
    app.extensions[EXTENSION_KEY] = Services(settings, s3, sqs, ec2, ssm, awslambda)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(pool_routes.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(uploads.bp)
    app.register_blueprint(legacy.bp)
    app.register_blueprint(page.bp)
    install_cors(app, settings.cors_origins)
    register_problem_handlers(app)
    pool = f"pool {settings.pool.name} (max {settings.pool.max_workers})" if settings.pool.enabled else "no pool"
    log.info("API ready: bucket %s, queue %s, %s", settings.aws.bucket, settings.aws.queue, pool)
    return app


__all__ = ["ApiSettings", "create_app"]
