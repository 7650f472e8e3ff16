"""OpenAPI: /api/schema/ documents the catalog's paths and bodies; /api/docs/ works offline."""

import pytest


@pytest.fixture
def schema(client, db):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_lists_the_catalog_paths(schema):
    assert {
        "/api/v1/meters",
        "/api/v1/meters/{code}",
        "/api/v1/plans",
        "/api/v1/plans/{code}",
        "/api/v1/plans/{code}/versions",
        "/api/v1/price-preview",
    } <= set(schema["paths"])
    assert set(schema["paths"]["/api/v1/plans/{code}"]) >= {"get", "patch"}


def test_schema_documents_request_and_response_bodies(schema):
    preview = schema["paths"]["/api/v1/price-preview"]["post"]
    request_ref = preview["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    response_ref = preview["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    components = schema["components"]["schemas"]
    request = components[request_ref.rsplit("/", 1)[-1]]
    response = components[response_ref.rsplit("/", 1)[-1]]
    assert set(request["required"]) == {"currency", "charge", "quantity"}
    assert {"amount", "breakdown", "currency"} <= set(response["properties"])
    plan_request = components["PlanInputRequest"]
    assert "charges" in plan_request["properties"]
    assert "version" not in plan_request["properties"]  # read-only: not part of a request


def test_schema_documents_the_bearer_api_key(schema):
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key: `Authorization: Bearer <key>` (manage.py create_api_key).",
    }


def test_docs_page_serves_swagger_ui_from_our_own_static_files(client, db):
    response = client.get("/api/docs/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
