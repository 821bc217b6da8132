"""The saved Cypher queries for Neo4j Browser (``kg/queries/explore.cypher``), parsed.

The file holds one query per block::

    // name: why_recommended
    // Why was product $product recommended to user $user: ...
    // :param user => 'U002'
    // :param product => 'P010'
    MATCH (u:User {id: $user})-[rec:RECOMMENDED]->(p:Product {id: $product})
    ...;

A block runs from its ``// name:`` line to the next one (or the end of the file). Its leading
comment lines are the description, except ``// :param NAME => VALUE`` lines, which are the
example parameters a Browser user sets first (VALUE is a Cypher literal: a quoted string or a
number). The rest, up to the semicolon that ends the block, is the query. Comments before the
first ``// name:`` line describe the file. Values reach the queries as ``$parameters`` only;
:func:`check_query` says where a block breaks that rule.

``python -m kg.browser_queries`` lists the queries; ``python -m kg.browser_queries NAME
[PARAM=VALUE ...]`` prints one ready to paste into Browser: its ``:param`` lines (the examples,
or the values given) and the query, separated by semicolons as Browser's multi-statement editor
wants them.

Stdlib only, so the docs and tests can use it without a driver.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

QUERIES_FILE = Path(__file__).resolve().parent / "queries" / "explore.cypher"

# String literals a query may contain: names of schema objects, never data values.
ALLOWED_STRING_LITERALS = frozenset({"product_embedding"})

_NAME = re.compile(r"^//\s*name:\s*([a-z][a-z0-9_]*)\s*$")
_PARAM = re.compile(r"^//\s*:param\s+([A-Za-z_][A-Za-z0-9_]*)\s*=>\s*(.+?)\s*;?\s*$")
_PARAM_USE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")
# Signs of values formatted into the text: Python %-formatting, str.format / f-string fields
# ({name} with nothing else inside: a Cypher map always has `key: value`), string concatenation.
_FORMATTED = (
    (re.compile(r"%[sdr(]"), "%-formatting"),
    (re.compile(r"\{\s*[A-Za-z_][A-Za-z0-9_.]*\s*\}"), "a {placeholder}"),
    (re.compile(r"'\s*\+|\+\s*'"), "string concatenation"),
)


@dataclass(frozen=True)
class SavedQuery:
    """One saved query of the file.

    Attributes:
        name: the block's ``// name:``.
        description: the comment lines after the name, joined into one paragraph.
        params: the ``:param`` lines in order, name -> the example value as written (Cypher).
        cypher: the query text without its header comment and final semicolon.
        line: the 1-based line of the ``// name:`` line in the file.
    """

    name: str
    description: str
    params: dict[str, str] = field(default_factory=dict)
    cypher: str = ""
    line: int = 0

    @property
    def used_params(self) -> set[str]:
        """Names of the ``$parameters`` the query text uses."""
        return set(_PARAM_USE.findall(_strip_strings(self.cypher)))

    def example_params(self) -> dict[str, object]:
        """The ``:param`` example values as Python values (strings, numbers, lists)."""
        return {name: ast.literal_eval(value) for name, value in self.params.items()}

    def param_commands(self) -> list[str]:
        """The Browser commands that set this query's parameters (``:param user => 'U002'``)."""
        return [f":param {name} => {value}" for name, value in self.params.items()]

    def browser_text(self) -> str:
        """What to paste into Browser's editor: the ``// name`` comment line and the query."""
        return f"// {self.name}\n{self.cypher};"


class QueryFileError(ValueError):
    """The saved-queries file is malformed (the message names the line)."""


def _strip_strings(text: str) -> str:
    return _STRING.sub("''", text)


def _strip_comments(line: str) -> str:
    """The line without a trailing ``//`` comment (outside string literals)."""
    out, quote, i = [], None, 0
    while i < len(line):
        ch = line[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(line):
                out.append(line[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif line.startswith("//", i):
            break
        else:
            out.append(ch)
        i += 1
    return "".join(out).rstrip()


def parse_queries(text: str, source: str = "<text>") -> dict[str, SavedQuery]:
    """Parse the saved-queries format (see the module docstring); name -> query, file order."""
    queries: dict[str, SavedQuery] = {}
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _NAME.match(line.strip())]
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        name = _NAME.match(lines[start].strip()).group(1)
        if name in queries:
            raise QueryFileError(f"{source}:{start + 1}: query {name!r} is defined twice")
        description, params, body = [], {}, []
        i = start + 1
        while i < end and lines[i].strip().startswith("//"):
            comment = lines[i].strip()
            param = _PARAM.match(comment)
            if param:
                params[param.group(1)] = param.group(2)
            else:
                description.append(comment[2:].strip())
            i += 1
        for line in lines[i:end]:
            code = _strip_comments(line)
            if code.strip():
                body.append(code)
        cypher = "\n".join(body).strip()
        if not cypher.endswith(";"):
            raise QueryFileError(f"{source}:{start + 1}: query {name!r} does not end with ';'")
        cypher = cypher[:-1].rstrip()
        if ";" in _strip_strings(cypher):
            raise QueryFileError(
                f"{source}:{start + 1}: query {name!r} holds more than one statement")
        if not cypher:
            raise QueryFileError(f"{source}:{start + 1}: query {name!r} is empty")
        queries[name] = SavedQuery(name=name, description=" ".join(d for d in description if d),
                                   params=params, cypher=cypher, line=start + 1)
    return queries


def load_queries(path: Path | str = QUERIES_FILE) -> dict[str, SavedQuery]:
    """The saved queries of ``path`` (default: kg/queries/explore.cypher), name -> query."""
    path = Path(path)
    return parse_queries(path.read_text(encoding="utf-8"), str(path))


def check_query(query: SavedQuery) -> list[str]:
    """Problems with ``query``: values formatted into the text, undeclared or unused parameters.

    Returns:
        One sentence per problem; empty when the query only takes values as ``$parameters``
        declared in its ``:param`` lines and its string literals are schema names
        (``ALLOWED_STRING_LITERALS``).
    """
    problems = []
    for match in _STRING.finditer(query.cypher):
        literal = match.group(1) if match.group(1) is not None else match.group(2)
        if literal not in ALLOWED_STRING_LITERALS:
            problems.append(f"{query.name}: string literal {literal!r} in the query "
                            "(values must be $parameters)")
    bare = _strip_strings(query.cypher)
    for pattern, what in _FORMATTED:
        if pattern.search(bare):
            problems.append(f"{query.name}: {what} in the query text")
    used, declared = query.used_params, set(query.params)
    if used - declared:
        problems.append(f"{query.name}: uses {sorted(used - declared)} without a :param line")
    if declared - used:
        problems.append(f"{query.name}: :param lines for {sorted(declared - used)} it never uses")
    for name, value in query.params.items():
        try:
            ast.literal_eval(value)
        except (ValueError, SyntaxError):
            problems.append(f"{query.name}: :param {name} => {value} is not a plain literal")
    return problems


def cypher_literal(value: str) -> str:
    """``value`` from the command line as a Cypher literal: integers and floats as they are,
    anything else as a single-quoted string."""
    if re.fullmatch(r"-?\d+", value) or re.fullmatch(r"-?\d+\.\d*", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def paste_text(query: SavedQuery, values: dict[str, str] | None = None) -> str:
    """The ``:param`` commands (examples overridden by ``values``) and the query, for Browser."""
    params = dict(query.params)
    for name, value in (values or {}).items():
        if name not in params:
            raise KeyError(f"{query.name} has no parameter {name!r}; it takes: "
                           f"{', '.join(params) or 'none'}")
        params[name] = cypher_literal(value)
    lines = [f":param {name} => {value};" for name, value in params.items()]
    return "\n".join(lines + [query.browser_text()])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    queries = load_queries()
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m kg.browser_queries [NAME [PARAM=VALUE ...]]\n")
        for q in queries.values():
            params = " ".join(f"{k}={v}" for k, v in q.params.items())
            print(f"{q.name:22} {params}")
        return 0
    name, *pairs = argv
    if name not in queries:
        print(f"unknown query {name!r}; known: {', '.join(queries)}", file=sys.stderr)
        return 2
    try:
        values = dict(p.split("=", 1) for p in pairs)
        print(paste_text(queries[name], values))
    except ValueError:
        print(f"expected PARAM=VALUE arguments after the name, got {pairs}", file=sys.stderr)
        return 2
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
