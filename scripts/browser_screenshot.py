"""Make docs/img/neo4j-browser.png: Neo4j Browser drawing the saved query `why_recommended`.

What it does, all on this machine (no network):

1. starts a throw-away local Neo4j with Neo4j Browser (kg/neo4j_local, a temp home);
2. loads a catalogue in the canonical layout (default: ../shared/data/amazon-industrial-scientific);
3. writes back the current model bundle's product embeddings and, for a sample of users, the
   top-10 lists the service would serve them (``service.refresh.recommendations_for``: the
   kgrec ranker, the same call the refresh job makes), as RECOMMENDED edges;
4. picks a recommended pair with at least two evidence paths over several relationship types
   (a cold product, one nobody interacted with, when the catalogue has any), and prints it;
5. opens Browser in headless Chromium, logs in, sets ``:params``, runs `why_recommended` and saves
   a screenshot of the window.

The bundle must have been trained on the same catalogue (``make demo`` does both), else its ids
do not match the store's. Usage::

    $(bash scripts/venv.sh)/bin/python scripts/browser_screenshot.py [--data DIR] [--bundle DIR]
        [--out docs/img/neo4j-browser.png] [--users 300] [--keep-server]

About 2-3 minutes on 2 CPU cores, most of it loading the catalogue into Neo4j.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kg.browser_queries import load_queries  # noqa: E402
from tests.browser import open_chromium  # noqa: E402
from tests.kg.test_browser_queries import (  # noqa: E402
    browser_url,
    connect_browser,
    run_in_browser,
    set_params,
)

# Browser's graph style (GraSS), set with `:style`: bigger product circles captioned by title.
STYLE = """:style
node { diameter: 50px; font-size: 10px; }
node.Product { diameter: 90px; caption: '{title}'; font-size: 10px; }
node.User { diameter: 60px; caption: '{id}'; }
node.Brand { diameter: 70px; caption: '{name}'; }
node.Category { diameter: 70px; caption: '{name}'; }
relationship { font-size: 9px; }"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pick_pair(store, bundle, users: list[str], version: str, fixed: tuple[str, str] | None = None):
    """(user, product, why_recommended rows): a recommended pair with varied evidence.

    Cold products (nobody interacted with them) come first when the catalogue has any; among
    the rest, pairs with at least two evidence paths using the most relationship types win.
    ``fixed`` (user, product) skips the choice (the user must be in ``users``).
    """
    from kg.writeback import replace_recommendations
    from service.refresh import recommendations_for

    recs = recommendations_for(bundle, users, 10)
    replace_recommendations(store, recs, version)
    records, _, _ = store.driver.execute_query(
        "MATCH (u:User)-[r:RECOMMENDED]->(p:Product) WHERE r.rank <= 3 "
        "RETURN u.id AS user, p.id AS product, r.rank AS rank, "
        "NOT EXISTS { (p)<-[:INTERACTED]-(:User) } AS cold "
        "ORDER BY cold DESC, r.rank, u.id LIMIT 300",
        database_=store.database)
    why = load_queries()["why_recommended"]
    if fixed is not None:
        rows, _, _ = store.driver.execute_query(why.cypher, user=fixed[0], product=fixed[1],
                                                database_=store.database)
        if not rows:
            raise SystemExit(f"{fixed[1]} is not in the top 10 of {fixed[0]}")
        return fixed[0], fixed[1], rows
    best = None
    for rec in records:
        rows, _, _ = store.driver.execute_query(
            why.cypher, user=rec["user"], product=rec["product"], database_=store.database)
        paths = [r for r in rows if r["evidence"] is not None]
        kinds = {rel.type for r in paths for rel in r["evidence"].relationships}
        key = (rec["cold"], len(paths) >= 2, len(kinds), -rec["rank"])
        if paths and (best is None or key > best[0]):
            best = (key, rec["user"], rec["product"], rows)
    if best is None:
        raise SystemExit("no sampled recommendation has an evidence path; try more --users")
    return best[1], best[2], best[3]


def main(argv=None) -> int:
    from gnn.bundle import load_bundle, resolve
    from kg.ingest import load_dir
    from kg.neo4j_local import server
    from kg.store_neo4j import Neo4jStore
    from kg.writeback import write_embeddings
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    from service.config import load_config

    config = load_config()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=REPO.parent / "shared" / "data" / "amazon-industrial-scientific")
    parser.add_argument("--bundle", type=Path, default=config.bundle_root,
                        help="a bundle folder or a root holding CURRENT (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "neo4j-browser.png")
    parser.add_argument("--users", type=int, default=300, help="users given RECOMMENDED edges")
    parser.add_argument("--user", help="use this user (with --product) instead of picking one")
    parser.add_argument("--product")
    parser.add_argument("--keep-server", action="store_true",
                        help="leave the server running (prints its Browser URL and home)")
    args = parser.parse_args(argv)
    # the saved queries name relationship types a catalogue may lack (ALSO_VIEWED, ...): Neo4j
    # warns about each, which is noise here
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)

    t0 = time.monotonic()
    bundle = load_bundle(resolve(args.bundle))
    log(f"bundle {bundle.version}: {len(bundle.node_ids['Product'])} products")
    home = Path(tempfile.mkdtemp(prefix="kgrec-browser-shot-"))
    info = server.start(home, cache_root=config.build_cache, browser=True, timeout=180)
    log(f"Neo4j with Browser at {info.browser_url} (home {home})")
    try:
        store = Neo4jStore(info.uri, info.user, info.password)
        store.ensure_schema()
        report = load_dir(store, args.data, progress=True)
        log(f"loaded {args.data} in {time.monotonic() - t0:.0f} s: {report}")
        write_embeddings(store, bundle.node_ids["Product"], bundle.product_emb, bundle.version,
                         progress=True)
        store.driver.execute_query("CALL db.awaitIndexes(300)", database_=store.database)
        users = bundle.node_ids["User"][: args.users]
        fixed = None
        if args.user:
            if not args.product:
                parser.error("--user needs --product")
            users, fixed = sorted(set(users) | {args.user}), (args.user, args.product)
        user, product, rows = pick_pair(store, bundle, users, bundle.version, fixed)
        log(f"why_recommended: user {user}, product {product}")
        for r in rows:
            via = " / ".join(r["via"] or [])
            log(f"  rank {r['rank']} score {r['score']:.4f} hops {r['hops']}: {via}")
        store.close()

        profile = Path(tempfile.mkdtemp(prefix="kgrec-chromium-"))
        driver = open_chromium("/usr/bin/chromium", "/usr/bin/chromedriver", profile / "profile",
                               profile / "chromedriver.log", window="1400,900")
        try:
            wait = WebDriverWait(driver, 60)
            driver.get(browser_url(info))
            wait.until(lambda d: "Neo4j Browser" in d.title)
            connect_browser(driver, info, wait)
            welcome = "[data-testid='frame'] button[title='Close']"
            for close in driver.find_elements(By.CSS_SELECTOR, welcome):
                close.click()  # the welcome frames
            banner = (By.XPATH, "//*[contains(text(), 'collect information on product usage')]"
                                "/following-sibling::span[1]")  # the usage-data banner's close
            try:
                WebDriverWait(driver, 15).until(EC.element_to_be_clickable(banner)).click()
            except TimeoutException:
                pass  # no banner this time
            run_in_browser(driver, STYLE, wait)
            time.sleep(1)
            set_params(driver, {"user": user, "product": product}, wait)
            run_in_browser(driver, load_queries()["why_recommended"].browser_text(), wait)
            wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "svg g.node")) >= 3)
            time.sleep(6)  # let the force layout settle
            args.out.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(args.out))
            log(f"wrote {args.out} ({time.monotonic() - t0:.0f} s in all)")
        finally:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)
        print(json.dumps({"user": user, "product": product, "bundle": bundle.version,
                          "data": str(args.data), "out": str(args.out)}))
    finally:
        if args.keep_server:
            log(f"server left running: {info.browser_url} (home {home}; password in server.json)")
        else:
            server.stop(home)
            shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
