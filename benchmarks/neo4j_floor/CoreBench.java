/*
 * The storage engine's floor for a catalogue load: products and their catalogue edges written
 * in process through Neo4j's Core API (no Bolt, no Cypher, no Python), against the same rows
 * through the loader's CREATE statement (kg/store_neo4j.py, passed in a file by run.py) run in the
 * same JVM (tx.execute). Shows how fast any
 * statement shape could be on this machine (docs/benchmarks.md, "Loading").
 *
 *   python benchmarks/neo4j_floor/run.py MODE [PRODUCTS] [BATCH]   (java CoreBench MODE N BATCH STATEMENT_FILE DB_DIR)
 *
 * MODE: core | cypher, optionally with -norels (products only) and/or -minprops (id and two
 * short properties). 2,000 brands (half-normal popularity), 3,000 categories and 5,000
 * attributes; each product: 1 brand, 3 categories, 3 attributes. Two rounds in one JVM; round 1
 * is the warm figure.
 */
import java.nio.file.*;
import java.util.*;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.dbms.api.*;
import org.neo4j.graphdb.*;
import org.neo4j.io.ByteUnit;

public class CoreBench {
    static final Label P = Label.label("Product"), B = Label.label("Brand"), C = Label.label("Category"), A = Label.label("Attribute");
    static final RelationshipType MB = RelationshipType.withName("MADE_BY"), IC = RelationshipType.withName("IN_CATEGORY"), HA = RelationshipType.withName("HAS_ATTRIBUTE");
    public static void main(String[] args) throws Exception {
        String mode = args[0]; int n = Integer.parseInt(args[1]); int batch = Integer.parseInt(args[2]);
        String cypher = Files.readString(java.nio.file.Path.of(args[3]));
        java.nio.file.Path home = java.nio.file.Path.of(args[4]);
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
            .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(128))
            .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false).build();
        GraphDatabaseService db = dbms.database("neo4j");
        for (String l : new String[]{"Product","Brand","Category","Attribute"}) {
            try (Transaction tx = db.beginTx()) { tx.execute("CREATE CONSTRAINT IF NOT EXISTS FOR (n:" + l + ") REQUIRE n.id IS UNIQUE"); tx.commit(); }
        }
        try (Transaction tx = db.beginTx()) { tx.execute("CALL db.awaitIndexes(60)"); tx.commit(); }
        int nb = 2000, nc = 3000, na = 5000;
        try (Transaction tx = db.beginTx()) {
            for (int i = 0; i < nb; i++) tx.createNode(B).setProperty("id", "brand" + i);
            for (int i = 0; i < nc; i++) tx.createNode(C).setProperty("id", "cat" + i);
            for (int i = 0; i < na; i++) tx.createNode(A).setProperty("id", "attr" + i);
            tx.commit();
        }
        Random rnd = new Random(0);
        for (int round = 0; round < 2; round++) {
          long t0 = System.nanoTime(); long rels = 0;
          for (int start = 0; start < n; start += batch) {
            List<Map<String,Object>> rows = new ArrayList<>();
            for (int i = start; i < Math.min(n, start + batch); i++) {
                Map<String,Object> props = new HashMap<>();
                props.put("id", "r" + round + "p" + i); if (!mode.contains("minprops")) props.put("title", "Product title number " + i + " with some words");
                if (!mode.contains("minprops")) props.put("description", "A longer description of the product ".repeat(5)); props.put("text_hash", Integer.toHexString(i * 7919));
                props.put("updated_at", "2026-12-04T00:00:00Z");
                Map<String,Object> row = new HashMap<>(); row.put("props", props);
                row.put("b", List.of("brand" + (int)Math.min(nb-1, Math.abs(rnd.nextGaussian()) * 200)));
                row.put("c", List.of("cat" + rnd.nextInt(nc), "cat" + rnd.nextInt(nc), "cat" + rnd.nextInt(nc)));
                row.put("a", List.of("attr" + rnd.nextInt(na), "attr" + rnd.nextInt(na), "attr" + rnd.nextInt(na)));
                rows.add(row);
            }
            try (Transaction tx = db.beginTx()) {
              if (mode.startsWith("core")) {
                Map<String, Node> cache = new HashMap<>();
                for (Map<String,Object> row : rows) {
                    Node p = tx.createNode(P);
                    for (Map.Entry<String,Object> e : ((Map<String,Object>) row.get("props")).entrySet()) p.setProperty(e.getKey(), e.getValue());
                    Object[][] spec = {{"b", B, MB}, {"c", C, IC}, {"a", A, HA}};
                    if (!mode.contains("norels")) for (Object[] s : spec) for (String id : (List<String>) row.get(s[0])) {
                        Node t = cache.computeIfAbsent(s[0] + id, k -> tx.findNode((Label) s[1], "id", id));
                        p.createRelationshipTo(t, (RelationshipType) s[2]); rels++;
                    }
                }
              } else {
                // positions, as the Python side builds them
                Map<String,Integer> bi = new LinkedHashMap<>(), ci = new LinkedHashMap<>(), ai = new LinkedHashMap<>();
                List<Map<String,Object>> prow = new ArrayList<>();
                for (Map<String,Object> row : rows) {
                    Map<String,Object> r = new HashMap<>(); r.put("props", row.get("props"));
                    r.put("b", pos(bi, (List<String>) row.get("b"))); r.put("c", pos(ci, (List<String>) row.get("c"))); r.put("a", pos(ai, (List<String>) row.get("a")));
                    rels += 7; prow.add(r);
                }
                Map<String,Object> params = new HashMap<>(); params.put("rows", prow);
                params.put("brands", new ArrayList<>(bi.keySet())); params.put("categories", new ArrayList<>(ci.keySet())); params.put("attributes", new ArrayList<>(ai.keySet()));
                tx.execute(cypher, params).resultAsString();
              }
              tx.commit();
            }
          }
          double s = (System.nanoTime() - t0) / 1e9;
          System.out.printf("%s round %d: %d products, %d rels in %.2f s: %.0f products/s%n", mode, round, n, rels, s, n / s);
        }
        dbms.shutdown();
    }
    static List<Long> pos(Map<String,Integer> index, List<String> ids) { List<Long> out = new ArrayList<>(); for (String id : ids) out.add((long) index.computeIfAbsent(id, k -> index.size())); return out; }
}
