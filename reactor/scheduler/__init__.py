"""The scheduler: ``ctx.scheduler``, the job worker, and crons (ARCHITECTURE.md decision 7).

Jobs are rows of ``_scheduled_functions`` written in the scheduling
transaction; ``SchedulerWorker`` runs them when due, scheduled mutations
exactly once and scheduled actions at most once. Crons (``Crons`` in
``functions/crons.py``) are named, recurring runs on the same machinery,
kept in ``_cron_jobs``. A running action holds a lease in
``_scheduled_job_leases`` so that recovery fails only the runs of a worker
that died; on a store several processes share, their workers split the due
jobs between them (``_leases``, ``_worker``).
"""

from reactor.scheduler._clock import Clock, ManualClock, SystemClock
from reactor.scheduler._crons import CronJob, Crons, CronSchedule
from reactor.scheduler._ctx import (
    ActionScheduler,
    MutationScheduler,
    Scheduler,
    ctx_scheduler_factory,
)
from reactor.scheduler._errors import (
    InvalidCronError,
    InvalidScheduledFunctionDelayError,
    InvalidScheduledFunctionError,
)
from reactor.scheduler._jobs import INTERRUPTED, current_job
from reactor.scheduler._worker import RETENTION_MS, SchedulerWorker

__all__ = [
    "INTERRUPTED",
    "RETENTION_MS",
    "ActionScheduler",
    "Clock",
    "CronJob",
    "CronSchedule",
    "Crons",
    "InvalidCronError",
    "InvalidScheduledFunctionDelayError",
    "InvalidScheduledFunctionError",
    "ManualClock",
    "MutationScheduler",
    "Scheduler",
    "SchedulerWorker",
    "SystemClock",
    "ctx_scheduler_factory",
    "current_job",
]
