"""Full-text search endpoints (``/api/v1/search/...``)."""
