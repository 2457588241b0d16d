"""The app's S3 and SQS adapters, made on first use in each process.

uWSGI forks its workers from a master process; boto3 clients and their
connection pools must not cross a fork. Nothing here does I/O or builds a
client until a request needs it, and requests arrive only in the forked
workers, so each process makes its own (with lazy-apps it even builds its
own app).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from flask import current_app

from api.launch_metrics import PrometheusLaunches
from api.ratelimit import RateLimiter
from api.settings import ApiSettings
from api.status_cache import ResultUrlCache, TerminalStatusCache
from jobs.aws import ServiceUnavailable, ec2_client, lambda_client, s3_client, sqs_client, ssm_client
from jobs.queue import JobQueue
from jobs.store import JobStore
from pool.autotier import AutoTier, TierBook
from pool.ec2 import Ec2Pool
from pool.lock import lock_path
from pool.provider import Provider
from pool.switch import LambdaTier
from pool.tiers import LAMBDA, POOL

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

log = logging.getLogger(__name__)

EXTENSION_KEY = "darkroom"


class Services:
    def __init__(
        self,
        settings: ApiSettings,
        s3: S3Client | None = None,
        sqs: SQSClient | None = None,
        ec2: EC2Client | None = None,
        ssm: SSMClient | None = None,
        awslambda: LambdaClient | None = None,
    ) -> None:
        self.settings = settings
        self._s3 = s3
        self._sqs = sqs
        self._ec2 = ec2
        self._ssm = ssm
        self._awslambda = awslambda
        self._lambda_tier: LambdaTier | None = None
        self._auto_tier: AutoTier | None = None
        self._store: JobStore | None = None
        self._queue: JobQueue | None = None
        self._dead_letter_queue: JobQueue | None = None
        self._provider: Provider | None = None
        self._lock = threading.Lock()
        self.terminal_statuses = TerminalStatusCache()  # done/canceled never change: polls skip S3 for them
        self.result_urls = ResultUrlCache(max_age=settings.result_url_expiry / 10)  # each valid >= 90% of its expiry
        pool, access = settings.pool, settings.access
        files = lock_path(settings.aws.bucket, pool.name)  # limits are per host: one SQLite file each, beside the lock
        self.warm_limiter = RateLimiter(files.with_suffix(".warm.sqlite"), pool.warm_per_minute)
        self.submit_limiter = RateLimiter(files.with_suffix(".submit.sqlite"), access.submits_per_minute)
        self.public_limiter = RateLimiter(files.with_suffix(".public.sqlite"), access.public_submits_per_hour, 3600.0)

    @property
    def store(self) -> JobStore:
        with self._lock:
            if self._store is None:
                s3 = self._s3 if self._s3 is not None else s3_client(self.settings.aws)
                self._store = JobStore(s3, self.settings.aws.bucket)
            return self._store

    def _sqs_client(self) -> SQSClient:
        """The one SQS client of this process (the caller holds the lock): a boto3 client costs ~0.2 s of CPU."""
        if self._sqs is None:
            self._sqs = sqs_client(self.settings.aws)
        return self._sqs

    @property
    def queue(self) -> JobQueue:
        """Raises ServiceUnavailable when the queue cannot be found; the next request tries again."""
        with self._lock:
            if self._queue is None:
                self._queue = JobQueue.named(self._sqs_client(), self.settings.aws.queue)
            return self._queue

    @property
    def dead_letter_queue(self) -> JobQueue:
        with self._lock:
            if self._dead_letter_queue is None:
                self._dead_letter_queue = JobQueue.named(self._sqs_client(), self.settings.aws.dead_letter_queue)
            return self._dead_letter_queue

    @property
    def provider(self) -> Provider:
        """The capacity provider. Only for an enabled pool: with a static worker the API never calls EC2."""
        if not self.settings.pool.enabled:
            raise RuntimeError("the spot pool is disabled (DARKROOM_POOL_ENABLED)")
        store, queue = self.store, self.queue  # each takes the lock itself
        with self._lock:
            if self._provider is None:
                aws, pool = self.settings.aws, self.settings.pool
                ec2 = self._ec2 if self._ec2 is not None else ec2_client(aws)
                ssm = self._ssm if self._ssm is not None else ssm_client(aws)
                self._provider = Provider(
                    Ec2Pool(ec2, ssm, pool),
                    store,
                    queue,
                    pool,
                    lock_path(aws.bucket, pool.name),
                    launches=PrometheusLaunches(),
                )
            return self._provider

    @property
    def lambda_tier(self) -> LambdaTier:
        """The function and its event source mapping (DARKROOM_LAMBDA_MAPPING, DARKROOM_LAMBDA_FUNCTION)."""
        with self._lock:
            if self._lambda_tier is None:
                pool = self.settings.pool
                client = self._awslambda if self._awslambda is not None else lambda_client(self.settings.aws)
                self._lambda_tier = LambdaTier(client, pool.lambda_mapping, pool.lambda_function)
            return self._lambda_tier

    @property
    def auto_tier(self) -> AutoTier:
        store, queue, tier = self.store, self.queue, self.lambda_tier  # each takes the lock itself
        with self._lock:
            if self._auto_tier is None:
                self._auto_tier = AutoTier(TierBook(store.bucket), tier, queue, self.settings.pool.auto_thresholds)
            return self._auto_tier

    def serving_tier(self, max_age: float | None = None) -> str:
        """Which tier serves jobs now: the setting's, or with ``auto`` this process's decision at most
        ``max_age`` seconds old (the request path; ``tick_seconds`` when None). Never raises for AWS."""
        pool = self.settings.pool
        if not pool.launches:
            return LAMBDA if pool.tier == LAMBDA else POOL
        if pool.tier != "auto":
            return POOL
        try:
            auto = self.auto_tier
        except ServiceUnavailable as exc:  # the queue could not be found: the pool serves meanwhile
            log.warning("auto: %s; the pool serves meanwhile", exc)
            return POOL
        return auto.recent(self.settings.tick_seconds if max_age is None else max_age)

    def pool_serves(self) -> bool:
        """Whether spot workers serve now, so a request may launch them (an enabled pool, not the function)."""
        return self.settings.pool.launches and self.serving_tier() == POOL


def services() -> Services:
    """The current app's services (inside a request)."""
    found = current_app.extensions[EXTENSION_KEY]
    assert isinstance(found, Services)
    return found


def api_settings() -> ApiSettings:
    return services().settings
