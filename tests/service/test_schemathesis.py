"""A bounded schemathesis run against /openapi.json: no 5xx, every answer as documented.

Every operation of the document the app serves is exercised in-process (WSGI) by schemathesis'
examples, coverage and fuzzing phases, with valid and invalid inputs, on the app of
tests/service/test_api.py: its small topic catalogue (with prices here, so that the price filters
answer 200 too) on the embedded store and a tiny trained bundle; events go to a temporary home.
No response may be a server error; its status code, content type, headers and body must be
ones the document states; input the document calls invalid must be rejected (4xx), and so must
methods it does not list (405 with ``Allow``).

Random strings almost never name a known user, product, brand or category, so a hook lets
generated values be swapped for known ones (and sends the admin token to the reload now and
then): the 200 answers (recommendations with explanation paths, items, similar items, stored
events, a reload) are checked against their schemas too, not only the 4xx errors.

Not checked: ``positive_data_acceptance`` (some schema-valid requests are rightly refused:
price_min above price_max, a blank user_id, which JSON Schema cannot state) and
``ignored_auth`` (the hook sends the real token on purpose).

Generation is bounded (``max_examples`` per operation for fuzzing; the coverage phase is a fixed
set), derandomized and writes no example database, so a CI run is reproducible and leaves
nothing behind.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance, content_type_conformance, missing_required_header,
    negative_data_rejection, response_headers_conformance, response_schema_conformance,
    status_code_conformance, unsupported_method,
)

from service.app import create_app
from tests.gnn.rgcn_data import topic_catalogue
from tests.service import test_api
from tests.service.test_api import TOKEN, _build, _config

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection,
          unsupported_method, allow_header_conformance, missing_required_header]

# schemathesis' pytest integration needs the operations when tests are collected, before any
# fixture has built a bundle (and its lazy `from_fixture` loader does not work with pytest 9);
# /openapi.json needs no bundle, so the document is read here from an app without one, and the
# calls go to the fixture's app (`call_and_validate(app=...)`), which must serve the same one.
schema = schemathesis.openapi.from_wsgi(
    "/openapi.json", create_app(_config("/nonexistent/kgrec-openapi-only"), load_bundle=False))
# an events batch over the size limit is rejected with 413 before its items are looked at
_rejection = schema.config.checks.negative_data_rejection
_rejection.expected_statuses = [*_rejection.expected_statuses, "413"]

KNOWN: dict[str, list[str]] = {}  # field name -> ids in the served catalogue (set by the fixture)


def _priced_catalogue(folder, **kwargs):
    """test_api's topic catalogue, with a price on all but every fifth product."""
    out = topic_catalogue(folder, **kwargs)
    path = out / "products.jsonl"
    products = [json.loads(line) for line in path.read_text().splitlines()]
    for i, p in enumerate(products):
        if i % 5:
            p["price"] = round(2.5 + 3.25 * i, 2)
    path.write_text("".join(json.dumps(p) + "\n" for p in products))
    return out


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(test_api, "topic_catalogue", _priced_catalogue)
        config, snap = _build(tmp_path_factory, {})
    KNOWN.update(user_id=list(snap.node_ids["User"]), item_id=list(snap.node_ids["Product"]),
                 category=list(snap.node_ids["Category"]),
                 brand=sorted({f["name"] for f in snap.node_fields["Brand"]}))
    served = create_app(config)
    assert served.extensions["kgrec"].holder.ready
    assert served.test_client().get("/openapi.json").get_json() == schema.raw_schema
    yield served
    KNOWN.clear()


def _or_known(name: str, value):
    """The generated value, or (for a field that names an id) a known id in its place."""
    if isinstance(value, str) and KNOWN.get(name):
        return st.one_of(st.just(value), st.sampled_from(KNOWN[name]))
    if name == "history" and isinstance(value, list):
        return st.one_of(st.just(value), st.lists(st.sampled_from(KNOWN["item_id"]),
                                                  min_size=1, max_size=5))
    if name in ("filters", "events") and isinstance(value, (dict, list)) and len(value) <= 20:
        return _known_inside(value)
    return st.just(value)


def _known_inside(value):
    if isinstance(value, dict):
        return st.fixed_dictionaries({k: _or_known(k, v) for k, v in value.items()})
    if isinstance(value, list):
        return st.tuples(*[_known_inside(v) for v in value]).map(list)
    return st.just(value)


@schema.hook
def flatmap_case(context, case):
    """Known ids in place of generated ones, now and then; the admin token, now and then.

    Changed on the case itself, so schemathesis revalidates it: an invalid value replaced by a
    valid id no longer counts as negative data.
    """
    parts = {"path_parameters": _known_inside(case.path_parameters),
             "query": _known_inside(case.query),
             "body": _known_inside(case.body) if isinstance(case.body, dict) else st.just(case.body)}
    if context.operation is not None and context.operation.path == "/v1/admin/reload":
        with_token = {**case.headers, "Authorization": f"Bearer {TOKEN}"}
        parts["headers"] = st.one_of(st.just(case.headers), st.just(with_token))

    def apply(values):
        for name, value in values.items():
            if value != getattr(case, name):
                setattr(case, name, value)
        return case

    return st.fixed_dictionaries(parts).map(apply)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_answers_as_documented(case, app):
    case.call_and_validate(app=app, checks=CHECKS)


@pytest.mark.parametrize("method, url, body", [
    ("get", "/v1/users/U001/recommendations?k=%C2%B2", None),  # '²': isdigit() but not int()
    ("get", "/v1/users/U001/recommendations?k=--5", None),
    ("get", "/v1/items/P001/similar?k=" + "9" * 5000, None),  # more digits than int() converts
    ("post", "/v1/recommendations", "[" * 30000 + "]" * 30000),  # json.loads: RecursionError
    ("post", "/v1/events", "[" * 30000 + "]" * 30000),
])
def test_inputs_that_were_server_errors_are_400(tmp_path, method, url, body):
    client = create_app(_config(tmp_path), load_bundle=False).test_client()  # parsed before use
    resp = getattr(client, method)(url, data=body, content_type="application/json")
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.get_json()["error"]["code"] == "invalid"


def test_405_names_the_allowed_methods(tmp_path):
    client = create_app(_config(tmp_path), load_bundle=False).test_client()
    resp = client.delete("/v1/recommendations")
    assert resp.status_code == 405 and resp.is_json
    assert "POST" in resp.headers["Allow"]
