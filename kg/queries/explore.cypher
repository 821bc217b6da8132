// kgrec: saved Cypher queries for exploring the graph in Neo4j Browser (Neo4j 5.26).
//
// One query per block. A block starts with `// name: <name>`, then a description, then the
// `:param` lines to run in Browser first (each sets one parameter; the values are examples from
// the four-topic test catalogue, replace them with ids from your data), then the query, ending
// with a semicolon. Values reach the queries only as parameters ($user, $product, $brand, $k).
// docs/neo4j-browser.md explains how to start Browser and run these; kg/browser_queries.py
// parses this file and tests/kg/test_browser_queries.py runs every query against a real server.
// Graph model: README.md "Graph model"; RECOMMENDED edges and Product.embedding are written by
// kg/writeback.py.

// name: why_recommended
// Why was product $product recommended to user $user: the RECOMMENDED edge (score, rank,
// model_version) and up to three shortest evidence paths (at most four hops) from the user to
// the product. A path starts with something the user interacted with and continues over
// catalogue edges only (brand, categories, attributes, also-bought/viewed links): never through
// other users, never through RECOMMENDED. No evidence path (evidence is null) means the score
// comes from text and embeddings alone.
// :param user => 'U002'
// :param product => 'P900'
MATCH (u:User {id: $user})-[rec:RECOMMENDED]->(p:Product {id: $product})
OPTIONAL MATCH evidence = SHORTEST 3 (u)-[:INTERACTED]->(:Product)
      -[:MADE_BY|IN_CATEGORY|SUBCATEGORY_OF|HAS_ATTRIBUTE|ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER]-{0,3}(p)
RETURN u, rec, p, evidence,
       rec.rank AS rank, rec.score AS score, rec.model_version AS model_version,
       length(evidence) AS hops,
       [n IN nodes(evidence) | coalesce(n.title, n.name, n.id)] AS via
ORDER BY hops;

// name: similar_products
// The $k products nearest to product $product in the model's embedding space, through the
// vector index `product_embedding` (cosine; approximate), with their brand and whether anyone
// interacted with them. Needs embeddings written back (kg.writeback.write_embeddings).
// :param product => 'P010'
// :param k => 10
MATCH (p:Product {id: $product})
CALL db.index.vector.queryNodes('product_embedding', $k + 1, p.embedding) YIELD node, score
WITH p, node AS similar, score
WHERE similar <> p
RETURN p, similar, score, similar.id AS id, similar.title AS title,
       [(similar)-[:MADE_BY]->(b:Brand) | b.name] AS brand,
       COUNT { (similar)<-[:INTERACTED]-(:User) } AS interactions
ORDER BY score DESC
LIMIT $k;

// name: brand_neighbourhood
// A brand's neighbourhood: the brand (matched by its normalised id, its name or any raw
// spelling), its 25 most interacted-with products, their categories, and for each product up to
// five users who interacted with it most recently.
// :param brand => 'Bosch'
MATCH (b:Brand)
WHERE b.id = $brand OR b.name = $brand OR $brand IN b.aliases
MATCH made = (b)<-[:MADE_BY]-(p:Product)
WITH b, made, p, COUNT { (p)<-[:INTERACTED]-(:User) } AS interactions
ORDER BY interactions DESC, p.id
LIMIT 25
CALL (p) {
  OPTIONAL MATCH category = (p)-[:IN_CATEGORY]->(:Category)
  RETURN collect(category) AS categories
}
CALL (p) {
  OPTIONAL MATCH buyer = (:User)-[i:INTERACTED]->(p)
  WITH buyer, i
  ORDER BY i.ts DESC
  LIMIT 5
  RETURN collect(buyer) AS users
}
RETURN b, made, categories, users, p.id AS product, p.title AS title, interactions
ORDER BY interactions DESC, product;

// name: cold_products
// Cold products (nobody interacted with them) and where their signal comes from: each catalogue
// link (brand, category, attribute, also-bought/viewed product) with how many warm products share
// it, the three warm products nearest in embedding space (vector index; empty without
// embeddings), and the users it is recommended to (RECOMMENDED edges, best rank first).
// Recommended cold products come first.
MATCH (p:Product)
WHERE NOT EXISTS { (p)<-[:INTERACTED]-(:User) }
WITH p, COUNT { (p)<-[:RECOMMENDED]-(:User) } AS recommended
ORDER BY recommended DESC, p.id
LIMIT 10
CALL (p) {
  OPTIONAL MATCH link = (p)-[r:MADE_BY|IN_CATEGORY|HAS_ATTRIBUTE|ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER]-(x)
  RETURN collect(link) AS links,
         collect(CASE WHEN r IS NOT NULL THEN {
           via: type(r), node: coalesce(x.name, x.title, x.id),
           warm_products: CASE WHEN x:Product
             THEN CASE WHEN EXISTS { (x)<-[:INTERACTED]-(:User) } THEN 1 ELSE 0 END
             ELSE COUNT { (x)<-[:MADE_BY|IN_CATEGORY|HAS_ATTRIBUTE]-(q:Product)
                          WHERE q <> p AND EXISTS { (q)<-[:INTERACTED]-(:User) } }
           END } END) AS signal
}
CALL (p) {
  WITH p
  WHERE p.embedding IS NOT NULL
  CALL db.index.vector.queryNodes('product_embedding', 20, p.embedding) YIELD node, score
  WITH p, node, score
  WHERE node <> p AND EXISTS { (node)<-[:INTERACTED]-(:User) }
  ORDER BY score DESC
  LIMIT 3
  RETURN collect({id: node.id, title: node.title, score: score}) AS nearest_warm
}
CALL (p) {
  OPTIONAL MATCH rec = (:User)-[r:RECOMMENDED]->(p)
  WITH rec, r
  ORDER BY r.rank, r.score DESC
  LIMIT 10
  RETURN collect(rec) AS recommended_to
}
RETURN p, links, recommended_to, p.id AS product, p.title AS title, recommended, signal,
       nearest_warm
ORDER BY recommended DESC, product;

// name: user_recommendations
// User $user's recommendation list (RECOMMENDED edges, best first) with each product's brand
// and whether it is cold (never interacted with), next to what the user interacted with.
// :param user => 'U002'
MATCH rec = (u:User {id: $user})-[r:RECOMMENDED]->(p:Product)
RETURN rec, r.rank AS rank, r.score AS score, r.model_version AS model_version,
       p.id AS product, p.title AS title,
       [(p)-[:MADE_BY]->(b:Brand) | b.name] AS brand,
       NOT EXISTS { (p)<-[:INTERACTED]-(:User) } AS cold,
       COLLECT { MATCH (u)-[:INTERACTED]->(h:Product) RETURN h.title } AS history
ORDER BY rank;
