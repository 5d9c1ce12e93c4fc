"""Bring outside data in (and take it out): CSV/XLSX imports through DuckDB into ``raw`` and the
operational tables, and streamed exports.

- :mod:`ingestion.files`: encodings, XLSX → CSV, DuckDB's sniffer
- :mod:`ingestion.mapping`: header synonyms, the automatic mapping, overrides
- :mod:`ingestion.probe`: a quick look at an upload (preview, early 422s)
- :mod:`ingestion.stage`: DuckDB validation, in-file duplicates, the COPY files
- :mod:`ingestion.deals`: deal imports, row by row through the deal service's gate
- :mod:`ingestion.runner`: run or resume an import (stage once, then batch by batch)
- :mod:`ingestion.consumer`: the dispatcher consumer that runs uploaded imports
- :mod:`ingestion.cli`: the body of ``leadly import``
- :mod:`ingestion.export`: CSV / XLSX / Parquet streaming

Nothing here is imported by the API at start-up except on demand (DuckDB, pyarrow and openpyxl
are imported inside functions).
"""
