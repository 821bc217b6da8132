"""The OpenAPI 3 document of the service, served at /openapi.json.

Kept by hand next to the views; tests/service/test_api.py checks that every route of the app is
documented with its methods and that every documented path exists, and a schemathesis run
checks the answers against these schemas.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from service.requests import MAX_HISTORY, MAX_K, MAX_QUERY_CHARS

bp = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/schemas/Error"}


def _errors(*codes: int) -> dict:
    return {str(c): {"description": "error", "content": {"application/json": {"schema": ERROR}}}
            for c in codes}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


K = {"name": "k", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 10}}
FILTER_PARAMS = [
    {"name": "category", "in": "query", "required": False,
     "schema": {"type": "string", "minLength": 1},
     "description": "category id (path joined by ' > '); its whole subtree counts"},
    {"name": "brand", "in": "query", "required": False, "schema": {"type": "string", "minLength": 1}},
    {"name": "price_min", "in": "query", "required": False, "schema": {"type": "number", "minimum": 0}},
    {"name": "price_max", "in": "query", "required": False, "schema": {"type": "number", "minimum": 0}},
]
EXPLAIN = {"name": "explain", "in": "query", "required": False,
           "schema": {"type": "boolean", "default": True}}

SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message", "field"],
                                 "properties": {"code": {"type": "string"},
                                                "message": {"type": "string"},
                                                "field": {"type": ["string", "null"]}}}},
    },
    "Product": {
        "type": "object", "required": ["id", "title"],
        "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                       "brand": {"type": "string"},
                       "category_path": {"type": "array", "items": {"type": "string"}},
                       "price": {"type": "number"}},
    },
    "Path": {
        "type": "object", "required": ["kind", "signal", "score", "sentence", "nodes", "relationships"],
        "properties": {
            "kind": {"type": "string", "enum": ["co-purchase", "catalogue", "text-similarity"]},
            "signal": {"type": "string"}, "score": {"type": "number"},
            "sentence": {"type": "string"},
            "nodes": {"type": "array", "items": {"type": "object",
                                                 "properties": {"label": {"type": "string"},
                                                                "id": {"type": "string"},
                                                                "name": {"type": "string"}}}},
            "relationships": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Explanation": {
        "type": "object", "required": ["available"],
        "properties": {"available": {"type": "boolean"}, "reason": {"type": "string"},
                       "paths": {"type": "array", "items": {"$ref": "#/components/schemas/Path"}}},
    },
    "Recommendation": {
        "allOf": [{"$ref": "#/components/schemas/Product"},
                  {"type": "object", "required": ["rank", "score"],
                   "properties": {"rank": {"type": "integer"}, "score": {"type": "number"},
                                  "explanation": {"$ref": "#/components/schemas/Explanation"}}}],
    },
    "Recommendations": {
        "type": "object", "required": ["model_version", "items"],
        "properties": {"model_version": {"type": "string"},
                       "items": {"type": "array",
                                 "items": {"$ref": "#/components/schemas/Recommendation"}},
                       "query_matches": {"type": "array", "items": {"type": "object"}}},
    },
    "RecommendBody": {
        "type": "object", "additionalProperties": False,
        "description": "at least one of user_id, query, history",
        "anyOf": [{"required": ["user_id"]}, {"required": ["query"]},
                  {"required": ["history"], "properties": {"history": {"minItems": 1}}}],
        "properties": {
            "user_id": {"type": "string", "minLength": 1, "maxLength": 200},
            "query": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS},
            "history": {"type": "array", "maxItems": MAX_HISTORY,
                        "items": {"type": "string", "minLength": 1}},
            "k": {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 10},
            "explain": {"type": "boolean", "default": True},
            "filters": {"type": "object", "additionalProperties": False,
                        "properties": {"category": {"type": "string", "minLength": 1},
                                       "brand": {"type": "string", "minLength": 1},
                                       "price_min": {"type": "number", "minimum": 0},
                                       "price_max": {"type": "number", "minimum": 0}}},
        },
    },
    "Event": {
        "type": "object", "additionalProperties": False, "required": ["user_id", "item_id", "kind"],
        "properties": {"user_id": {"type": "string", "minLength": 1, "maxLength": 200},
                       "item_id": {"type": "string", "minLength": 1, "maxLength": 200},
                       "kind": {"type": "string", "enum": ["view", "purchase", "rating", "review"]},
                       "timestamp": {"type": "string", "format": "date-time"},
                       "rating": {"type": "number", "minimum": 1, "maximum": 5}},
    },
}

READY = {"type": "object", "required": ["ready", "checks", "model_version"],
         "properties": {"ready": {"type": "boolean"},
                        "checks": {"type": "object", "required": ["bundle", "store"],
                                   "properties": {"bundle": {"type": "boolean"},
                                                  "store": {"type": "boolean"}}},
                        "model_version": {"type": ["string", "null"]},
                        "last_error": {"type": "string"}}}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "kgrec", "version": "1",
             "description": "Recommendations from a product knowledge graph and a language "
                            "model, with graph-path explanations."},
    "paths": {
        "/v1/users/{user_id}/recommendations": {"get": {
            "summary": "Top-k products for a known user",
            "parameters": [{"name": "user_id", "in": "path", "required": True,
                            "schema": {"type": "string"}}, K, EXPLAIN, *FILTER_PARAMS],
            "responses": {"200": _json({"$ref": "#/components/schemas/Recommendations"}),
                          **_errors(400, 404, 503)}}},
        "/v1/recommendations": {"post": {
            "summary": "Top-k products for a user, a natural-language query or a short history",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/RecommendBody"}}}},
            "responses": {"200": _json({"$ref": "#/components/schemas/Recommendations"}),
                          **_errors(400, 404, 413, 415, 503)}}},
        "/v1/items/{item_id}": {"get": {
            "summary": "A product",
            "parameters": [{"name": "item_id", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": _json({"allOf": [
                {"$ref": "#/components/schemas/Product"},
                {"type": "object", "properties": {"interactions": {"type": "integer"},
                                                  "cold": {"type": "boolean"}}}]}),
                **_errors(400, 404, 503)}}},
        "/v1/items/{item_id}/similar": {"get": {
            "summary": "Products nearest to a product by embedding",
            "parameters": [{"name": "item_id", "in": "path", "required": True,
                            "schema": {"type": "string"}}, K, *FILTER_PARAMS],
            "responses": {"200": _json({"type": "object", "required": ["items"], "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Recommendation"}},
                "item": {"type": "string"}, "model_version": {"type": "string"}}}),
                **_errors(400, 404, 503)}}},
        "/v1/events": {"post": {
            "summary": "Store feedback events durably for the next refresh",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "oneOf": [{"$ref": "#/components/schemas/Event"},
                          {"type": "object", "additionalProperties": False, "required": ["events"],
                           "properties": {"events": {"type": "array", "minItems": 1,
                                                     "maxItems": 1000, "items": {
                                                         "$ref": "#/components/schemas/Event"}}}}]}}}},
            "responses": {"202": _json({"type": "object", "required": ["accepted", "ids"],
                                        "properties": {"accepted": {"type": "integer"},
                                                       "ids": {"type": "array",
                                                               "items": {"type": "integer"}}}},
                                       "stored"),
                          **_errors(400, 404, 413, 415, 503)}}},
        "/v1/admin/reload": {"post": {
            "summary": "Load the current bundle (Authorization: Bearer <KGREC_ADMIN_TOKEN>)",
            "security": [{"adminToken": []}],
            "responses": {"200": _json({
                "type": "object", "required": ["previous", "model_version", "seconds"],
                "properties": {"previous": {"type": ["string", "null"]},
                               "model_version": {"type": "string"}, "seconds": {"type": "number"}}}),
                **_errors(401, 403, 409)}}},
        "/healthz": {"get": {"summary": "Liveness", "responses": {"200": _json(
            {"type": "object", "required": ["status"],
             "properties": {"status": {"type": "string", "enum": ["ok"]}}})}}},
        "/readyz": {"get": {"summary": "Readiness: bundle loaded and store reachable",
                            "responses": {"200": _json(READY), "503": _json(READY, "not ready")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics",
                             "responses": {"200": {"description": "text exposition format",
                                                   "content": {"text/plain": {"schema": {
                                                       "type": "string"}}}}}}},
        "/openapi.json": {"get": {"summary": "This document",
                                  "responses": {"200": _json({"type": "object"})}}},
        "/": {"get": {"summary": "A page to try the service",
                      "responses": {"200": {"description": "HTML",
                                            "content": {"text/html": {"schema": {
                                                "type": "string"}}}}}}},
    },
    "components": {"schemas": SCHEMAS,
                   "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}}},
}


@bp.get("/openapi.json")
def openapi():
    return jsonify(DOCUMENT)
