"""What a deployment of infra/darkroom.yaml is made of: its parameters, from darkroom's own settings objects."""

from __future__ import annotations

from dataclasses import dataclass, field

from jobs.settings import AwsSettings
from pool.settings import EventSourceSettings, PoolSettings

DEFAULT_STACK = "darkroom"
LEASE_SECONDS = 60  # the queue's visibility timeout = the workers' lease (worker/settings.py)
MAX_RECEIVES = 3  # deliveries before the dead-letter queue
EXPIRE_AFTER_DAYS = 7


HOURS_ALARM_SHARE = 0.9  # InstanceHoursAlarm: this share of the daily instance-hours cap


@dataclass(frozen=True)
class StackSpec:
    """What a deployment is made of; the defaults are darkroom's default names."""

    ami_id: str
    vpc_id: str
    subnets: tuple[str, ...] = ()  # where workers launch: the API role may launch into no other
    stack_name: str = DEFAULT_STACK
    aws: AwsSettings = field(default_factory=AwsSettings)
    pool: PoolSettings = field(default_factory=PoolSettings)
    lease_seconds: int = LEASE_SECONDS
    max_receives: int = MAX_RECEIVES
    expire_after_days: int = EXPIRE_AFTER_DAYS
    idle_seconds: int = 300
    public_ip: bool = False
    page_origins: tuple[str, ...] = ()  # where the demo page is served: its direct uploads need the bucket's CORS
    generated_bucket_name: bool = False  # on AWS: darkroom-ACCOUNT-REGION instead of aws.bucket
    webhook_secret_parameter: str = "/darkroom/webhook-secret"  # an SSM SecureString the operator creates
    function_image: str = ""  # the worker image's lambda target in ECR; empty: no Lambda tier
    function_memory_mb: int = 4096  # Lambda's CPU comes with its memory
    function_reserved_concurrency: int = 4  # the Lambda tier's cost cap
    mapping: EventSourceSettings = field(default_factory=EventSourceSettings)
    oldest_job_alarm_seconds: int = 900  # the OldestJobAlarm's threshold
    model_parameters: str = "/darkroom/models"  # darkroom model publish writes {this}/raw and {this}/srgb

    def parameters(self) -> dict[str, str]:
        """The template's parameters, all as text (CloudFormation's own type)."""
        return {
            "BucketName": "" if self.generated_bucket_name else self.aws.bucket,
            "QueueName": self.aws.queue,
            "DeadLetterQueueName": self.aws.dead_letter_queue,
            "VisibilityTimeout": str(self.lease_seconds),
            "MaxReceiveCount": str(self.max_receives),
            "ExpireAfterDays": str(self.expire_after_days),
            "PageOrigins": ",".join(self.page_origins),
            "AmiParameterName": self.pool.ami_parameter,
            "WorkerAmiId": self.ami_id,
            "LaunchTemplateName": self.pool.launch_template,
            "WebhookSecretParameterName": self.webhook_secret_parameter,
            "WorkerInstanceType": self.pool.instance_types[0],
            "InstanceTypes": ",".join(self.pool.instance_types),
            "SubnetIds": ",".join(self.subnets),
            "PoolName": self.pool.name,
            "VpcId": self.vpc_id,
            "AssociatePublicIp": "true" if self.public_ip else "false",
            "WorkerIdleSeconds": str(self.idle_seconds),
            "FunctionImageUri": self.function_image,
            "Tier": self.pool.tier,
            "FunctionMemory": str(self.function_memory_mb),
            "FunctionTimeout": str(self.mapping.timeout_seconds),
            "FunctionReservedConcurrency": str(self.function_reserved_concurrency),
            "MappingBatchSize": str(self.mapping.batch_size),
            "MappingBatchingWindow": str(self.mapping.batching_window_seconds),
            "MappingMaxConcurrency": str(self.mapping.max_concurrency),
            "ModelParameterPath": self.model_parameters,
            "OldestJobAlarmSeconds": str(self.oldest_job_alarm_seconds),
            # the daily-hours alarm at 90% of the API's cap (DARKROOM_DAILY_INSTANCE_HOURS); no cap, no alarm
            "InstanceHoursAlarmAt": f"{HOURS_ALARM_SHARE * self.pool.daily_instance_hours:g}",
            "MinWorkers": str(self.pool.keep_warm.min_workers),
            "KeepWarm": self.pool.keep_warm.windows_text(),
            "KeepWarmTimezone": self.pool.keep_warm.timezone,
        }
