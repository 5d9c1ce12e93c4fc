"""The OAuth area's definitions."""

import dagster as dg

from orchestration.defs.oauth.jobs import jobs
from orchestration.defs.oauth.schedules import schedules

defs = dg.Definitions(jobs=jobs, schedules=schedules)
