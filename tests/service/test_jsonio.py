"""The service's JSON provider: orjson output that reads back as the standard encoder's."""

import decimal
import json

import numpy as np
from flask import Flask, jsonify

from service.app import create_app
from service.config import load_config
from service.jsonio import OrjsonProvider


def _app(debug: bool = False) -> Flask:
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    app.debug = debug
    return app


BODY = {"z": 1, "a": [np.float32(0.5), np.int64(3), np.arange(2)], "m": {2: "two"},
        "price": decimal.Decimal("1.25"), "s": "é \"q\" </script>"}


def test_responses_keep_key_order_and_write_numpy_and_decimal():
    app = _app()
    with app.app_context():
        resp = jsonify(BODY)
    raw = resp.get_data()
    assert resp.mimetype == "application/json" and raw.endswith(b"}\n")
    assert b"\n" not in raw[:-1]  # compact outside debug mode
    data = json.loads(raw)
    assert list(data) == ["z", "a", "m", "price", "s"]  # as built, not sorted
    assert data == {"z": 1, "a": [0.5, 3, [0, 1]], "m": {"2": "two"}, "price": "1.25",
                    "s": "é \"q\" </script>"}


def test_debug_mode_indents_and_dumps_matches_response():
    app = _app(debug=True)
    with app.app_context():
        raw = jsonify({"a": [1, 2]}).get_data(as_text=True)
        assert raw == '{\n  "a": [\n    1,\n    2\n  ]\n}\n'
        assert app.json.dumps({"a": 1}) == '{\n  "a": 1\n}'
        # json.dumps options still mean json.dumps, keys in their order as everywhere else
        assert app.json.dumps({"b": 1, "a": 2}, separators=(",", ":")) == '{"b":1,"a":2}'


def test_the_service_app_uses_it(tmp_path):
    app = create_app(load_config({"KGREC_HOME": str(tmp_path), "KGREC_RELOAD_POLL": "0"}),
                     load_bundle=False)
    assert isinstance(app.json, OrjsonProvider)
    resp = app.test_client().get("/healthz")
    assert resp.get_data() == b'{"status":"ok"}\n'
