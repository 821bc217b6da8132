"""Flask's JSON provider with orjson writing the responses.

A recommendation with explanations is a ~25 kB body of nested dicts: at 100k products the
standard library's encoder took 0.29-0.45 ms of it, orjson 0.11-0.12 ms (docs/benchmarks.md,
"Serving latency"). Request bodies are still read by Flask's default (`json.loads`), so what
the API accepts is unchanged.
"""

from __future__ import annotations

import typing as t

import orjson
from flask.json.provider import DefaultJSONProvider

# insertion order kept (orjson never sorts unless asked); numpy scalars and arrays written as
# numbers; int keys allowed as json.dumps allows them
OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class OrjsonProvider(DefaultJSONProvider):
    """`DefaultJSONProvider` whose ``dumps`` and ``response`` use orjson (compact output; in
    debug mode, or with ``compact = False``, indented by two spaces)."""

    sort_keys = False  # also for the json.dumps fallback: keys as the views build them

    def _encode(self, obj: t.Any) -> bytes:
        pretty = (self.compact is None and self._app.debug) or self.compact is False
        return orjson.dumps(obj, default=self.default,
                            option=OPTIONS | (orjson.OPT_INDENT_2 if pretty else 0))

    def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
        if kwargs:  # a caller asking for json.dumps options (indent, separators) gets json.dumps
            return super().dumps(obj, **kwargs)
        return self._encode(obj).decode()

    def response(self, *args: t.Any, **kwargs: t.Any):
        body = self._encode(self._prepare_response_obj(args, kwargs))
        return self._app.response_class(body + b"\n", mimetype=self.mimetype)
