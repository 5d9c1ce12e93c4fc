"""The webhooks area's definitions."""

import dagster as dg

from orchestration.defs.webhooks.jobs import jobs
from orchestration.defs.webhooks.schedules import schedules

defs = dg.Definitions(jobs=jobs, schedules=schedules)
