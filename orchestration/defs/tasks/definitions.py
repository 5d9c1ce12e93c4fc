"""The tasks area's definitions."""

import dagster as dg

from orchestration.defs.tasks.jobs import jobs
from orchestration.defs.tasks.schedules import schedules

defs = dg.Definitions(jobs=jobs, schedules=schedules)
