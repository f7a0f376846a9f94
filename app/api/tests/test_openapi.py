def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_openapi_document(client):
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] and doc["info"]["version"]
    paths = doc["paths"]
    for path in (
        "/api/products",
        "/api/products/{product_id}",
        "/api/orders",
        "/api/orders/{order_id}",
        "/api/auth/login",
        "/api/health/ready",
    ):
        assert path in paths, path
    assert {"get", "post"} <= set(paths["/api/products"])
    assert {"get", "put", "patch", "delete"} <= set(paths["/api/products/{product_id}"])
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/")
        section, name = ref.split("/")[2:4]
        assert name in doc["components"][section], ref
    # Responses are documented in the envelope.
    ok = paths["/api/products"]["post"]["responses"]["201"]["content"]["application/json"]
    envelope = schemas[ok["schema"]["$ref"].rsplit("/", 1)[1]]
    assert set(envelope["properties"]) == {"success", "data", "error"}
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert paths["/api/orders"]["post"]["security"] == [{"bearerAuth": []}]


def _operations(doc):
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method != "parameters":
                yield method.upper(), path, op


def test_document_lists_the_statuses_the_api_returns(client):
    """Issue 13: 400 not 422, no catch-all, 401/403/404/409/429/503 where they occur."""
    doc = client.get("/api/openapi.json").get_json()
    for method, path, op in _operations(doc):
        statuses = set(op["responses"])
        where = f"{method} {path}: {sorted(statuses)}"
        assert "422" not in statuses and "default" not in statuses, where
        if not path.startswith("/api/health/"):
            assert {"429", "503", "504"} <= statuses, where
        if "requestBody" in op:
            assert {"400", "413"} <= statuses, where
        if op.get("security"):
            assert "401" in statuses, where
        if "{" in path:
            assert "404" in statuses, where
        if op.get("security") == [{"bearerAuth": []}] and not path.startswith(
            ("/api/auth", "/api/orders")
        ):
            assert "403" in statuses, where  # every catalogue write is admin-only
    paths = doc["paths"]
    assert "409" in paths["/api/orders"]["post"]["responses"]
    assert "409" in paths["/api/products/{product_id}"]["patch"]["responses"]
    assert {"401", "403"} <= set(paths["/api/products"]["get"]["responses"])
    assert set(paths["/api/auth/register"]["post"]["responses"]) == {
        "202", "400", "413", "429", "503", "504"
    }  # fmt: skip
    assert set(paths["/api/health/ready"]["get"]["responses"]) == {"200", "503"}


def test_error_schema_security_and_servers(client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["servers"] == [{"url": "/", "description": "This host (the API lives under /api)"}]
    error = doc["components"]["schemas"]["ErrorEnvelope"]
    assert set(error["required"]) == {"success", "data", "error", "code"}
    assert {"validation_error", "version_conflict", "database_timeout"} <= set(
        error["properties"]["code"]["enum"]
    )
    conflict = doc["paths"]["/api/orders"]["post"]["responses"]["409"]
    assert conflict["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorEnvelope")
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    anonymous_or_admin = [{}, {"bearerAuth": []}]
    assert doc["paths"]["/api/products"]["get"]["security"] == anonymous_or_admin
    assert doc["paths"]["/api/products/{product_id}"]["get"]["security"] == anonymous_or_admin
    assert doc["paths"]["/api/auth/logout"]["post"]["security"] == [{"bearerAuth": []}]
    assert "security" not in doc["paths"]["/api/auth/login"]["post"]


def test_document_states_the_strict_input_rules(client):
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    product = schemas["Product"]["properties"]
    assert product["price"]["anyOf"][0] == {"type": "integer", "minimum": 0, "maximum": 99999999}
    assert product["price"]["anyOf"][1]["pattern"] == r"^(0|[1-9][0-9]{0,7})(\.[0-9]{1,2})?$"
    assert r"\u0000-\u001f" in product["name"]["pattern"]
    assert product["version"]["readOnly"] is True
    assert "version" in schemas["ProductPatchPartial"]["required"]
    assert schemas["ProductPatchPartial"]["additionalProperties"] is False
