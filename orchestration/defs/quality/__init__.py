"""Data quality: Great Expectations suites on the key marts and the raw import tables, run as
blocking Dagster asset checks."""
