"""The analytics area: every dbt model, snapshot and seed as a Dagster asset, dbt tests as asset
checks, the 15-minute incremental build, the nightly full build and the events sensor."""
