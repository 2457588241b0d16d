"""The spot pool: launch EC2 workers on demand, within a hard maximum, and reap the ones that fail.

Used by the API (after each submit and on warm), the local stack, the deploy
tools and the simulator. Imports jobs only: never flask, torch, api or worker.

settings  PoolSettings (DARKROOM_POOL_* and friends)
rule      the scaling rule (pure)
view      what the pool looks like, from what was observed (pure)
note      why a waiting job waits (pure)
reaper    what to terminate and forget (pure)
ec2       the EC2 and SSM adapter: launch by EC2 Fleet, list and terminate by tag
book      the pool's state in S3: launch slots (the hard maximum), last launch, measured times
hours     instance-hours used today, and the daily cap (pure)
ledger    the usage ledger in S3: one entry per launched instance
lock      the host-wide lock around claiming and launching
provider  ensure_capacity: observe, reap, decide, launch

Nothing is imported here, so the pure parts load without boto3 (the simulator uses the rule).
"""
