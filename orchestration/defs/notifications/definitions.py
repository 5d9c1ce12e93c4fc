"""The notifications area's definitions."""

import dagster as dg

from orchestration.defs.notifications.jobs import jobs
from orchestration.defs.notifications.schedules import schedules

defs = dg.Definitions(jobs=jobs, schedules=schedules)
