"""The OpenAPI document describes the record routes as they answer."""

from __future__ import annotations

import httpx


async def test_openapi_documents_record_routes(http: httpx.AsyncClient) -> None:
    r = await http.get("/api/v1/schema/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    schemas = doc["components"]["schemas"]
    for plural, name in (
        ("leads", "Lead"),
        ("contacts", "Contact"),
        ("accounts", "Account"),
        ("call-logs", "CallLog"),
    ):
        ops = doc["paths"][f"/api/v1/{plural}"]
        body = ops["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body["$ref"].endswith(f"/{name}Create")
        listed = ops["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        page = schemas[listed["$ref"].rsplit("/", 1)[1]]
        assert set(page["properties"]) == {"data", "next_cursor", "has_more"}
        assert f"/api/v1/{plural}/batch" in doc["paths"]
        assert f"/api/v1/{plural}/{{record_id}}/history" in doc["paths"]
        assert f"/api/v1/{plural}/{{record_id}}/restore" in doc["paths"]
    assert "/api/v1/leads/{lead_id}/merge" in doc["paths"]
    assert "/api/v1/leads/{lead_id}/convert" in doc["paths"]
