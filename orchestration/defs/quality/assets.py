"""The ``raw`` tables ingestion writes, as external assets (Dagster observes them, ingestion
materializes them), so their quality checks have an asset to hang on."""

import dagster as dg

RAW_TABLES: dict[str, str] = {
    "lead_import_rows": "Lead rows of imports that passed validation, loaded with COPY "
    "(one row per accepted file row; ingestion then merges them into app.leads).",
    "call_log_import_rows": "Call-log rows of imports that passed validation, loaded with COPY.",
    "import_rejects": "File rows an import rejected, with the reason and the original values.",
}
"""Tables of schema ``raw`` (warehouse/migrations: imports_and_raw_landing) → description."""


def raw_asset_key(table: str) -> dg.AssetKey:
    """``raw/<table>``: the same key dagster-dbt gives a dbt source ``raw.<table>``."""
    return dg.AssetKey(["raw", table])


raw_assets = [
    dg.AssetSpec(
        key=raw_asset_key(table),
        description=description,
        group_name="raw",
        kinds={"postgres"},
        metadata={"table": f"raw.{table}"},
    )
    for table, description in RAW_TABLES.items()
]
