"""Synthetic product catalogue in the canonical data layout -- FOR SCALE BENCHMARKS ONLY.

The data written here is random. It imitates the *shape* of a real catalogue (a category tree,
Zipf-popular brands spelled in several ways, attributes, prices, HTML-laden descriptions,
co-purchase links, users with category and brand affinities) so that importers, graph stores,
indexes and trainers can be timed and load-tested at 1k, 100k or 1M products. It carries no
real preference signal beyond the generator's own rules: NEVER report recommendation quality
figures (recall, NDCG, hit rate, ...) measured on it; use the real data sets for those.

Layout (see the data README): ``products.jsonl`` with one JSON object per line
(``id``, ``title``, ``description``, ``brand``, ``category_path``, ``attributes``, ``price``,
``related``), and ``interactions.csv`` with header ``user_id,item_id,timestamp,rating,kind``.

Structure generated:

* a category tree with a few roots, paths of 3-5 levels, and a number of leaves that grows with
  the catalogue (about one leaf per 20 products); names come from small word lists
  ("Hand Tools > Drills > Cordless Drills"); each product sits in one leaf
  (:mod:`.categories`);
* brands (about one per 30 products) with Zipf popularity; each brand leans towards a few
  subtrees; some brands, more often the big ones, are spelled in case/spacing/punctuation
  variants that normalise to one key ("Vex & Tron", "VEX+TRON", "Vex-Tron")
  (:mod:`.names`, :mod:`.catalogue`);
* attributes (material, color, size, voltage, pack_size, weight_kg) chosen per root category,
  log-normal prices, a short description (about 1 in 10 holds HTML tags, 1 in 10 an entity
  such as ``&amp;``), ``related.also_bought`` lists (mostly same leaf or same brand), and a title
  made of brand + adjective + leaf noun + model number (:mod:`.products`);
* users with 1-3 favourite categories and 1-2 favourite brands, who draw most interactions from
  them (Zipf item popularity inside each); about 5 interactions per user (median), about
  ``interactions_per_product`` per product on average, no repeated (user, item) pair,
  timestamps ISO 8601 UTC strictly increasing within a user, integer ratings 1-5 and a ``kind``
  of view, purchase or review. Rows are grouped by user (:mod:`.interactions`).

Output is a pure function of the arguments (same seed -> same bytes); the products depend only on
``(n_products, seed)``. Generation is vectorised with numpy and written in chunks: 1M products
and ~15M interactions take about a minute and ~1.2 GB. Both files are written under
temporary names and renamed into place only when both are complete (:mod:`.writer`).

This package only uses the standard library, numpy and (when ``progress=True``) tqdm.
"""

from .generator import SynthStats, generate
from .names import normalise_brand

__all__ = ["SynthStats", "generate", "normalise_brand"]
