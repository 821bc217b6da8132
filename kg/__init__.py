"""Knowledge-graph layer: schema, stores (Neo4j and embedded networkx), ingest, snapshot, paths."""
