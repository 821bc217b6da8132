"""The last step of `make demo`: ask a running `kgrec serve` for recommendations and print them
with their explanations — for a known user, and for a new user's query.

The user is the first one of the data set's interactions.csv, the query names the leaf category
of its first product that has one (see `_sample_query`), so the demo works on any catalogue in
the canonical layout.
"""

from __future__ import annotations

import csv
import html
import json
import sys
import time
from pathlib import Path

import requests


def _sample_user(data: Path) -> str:
    with open(data / "interactions.csv", newline="", encoding="utf-8") as f:
        return next(csv.DictReader(f))["user_id"]


def _sample_query(data: Path) -> str:
    """The leaf category of the first product that has one; with no categories at all (a
    text-only catalogue), the first product's first title words."""
    first = None
    with open(data / "products.jsonl", encoding="utf-8") as f:
        for line in f:
            product = json.loads(line)
            first = first or product
            if product.get("category_path"):
                return f"I need {product['category_path'][-1].lower()}"
    words = [w for w in html.unescape(str((first or {}).get("title", ""))).split()
             if any(c.isalnum() for c in w)]  # raw titles may hold entities and dashes
    return "I need " + " ".join(words[:4])


def _wait(base: str, seconds: float = 180) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if requests.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    sys.exit(f"kgrec demo: the service at {base} was not ready in {seconds:.0f} s")


def _show(title: str, body: dict) -> None:
    print(title)
    for item in body["items"]:
        print(f"  {item['rank']}. {item['id']}  {item['title'][:70]!r}  score {item['score']:.3f}")
        explanation = item.get("explanation", {})
        sentences = dict.fromkeys(p["sentence"] for p in explanation.get("paths", []))
        for sentence in list(sentences)[:2]:  # two paths through different users read alike
            print(f"       because: {sentence}")
        if not explanation.get("available", True):
            print(f"       ({explanation['reason']})")


def main() -> None:
    base, data = sys.argv[1], Path(sys.argv[2])
    _wait(base)
    user, query = _sample_user(data), _sample_query(data)
    for title, payload in ((f"POST /v1/recommendations {{\"user_id\": {user!r}, \"k\": 3}}",
                            {"user_id": user, "k": 3}),
                           (f"POST /v1/recommendations {{\"query\": {query!r}, \"k\": 3}}",
                            {"query": query, "k": 3})):
        r = requests.post(f"{base}/v1/recommendations", json=payload, timeout=120)
        if r.status_code != 200:
            sys.exit(f"kgrec demo: {title} answered {r.status_code}: {r.text[:500]}")
        _show(title, r.json())
        print()


if __name__ == "__main__":
    main()
