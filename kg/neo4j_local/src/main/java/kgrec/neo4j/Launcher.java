package kgrec.neo4j;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.neo4j.cli.ExecutionContext;
import org.neo4j.commandline.admin.security.SetInitialPasswordCommand;
import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Transaction;
import org.neo4j.io.ByteUnit;
import picocli.CommandLine;

/**
 * Embedded Neo4j Community server for kgrec: Bolt (and optionally HTTP + Browser) on 127.0.0.1 only.
 *
 * <pre>java ... kgrec.neo4j.Launcher HOME BOLT_PORT [HTTP_PORT] [--warmup-and-exit]</pre>
 *
 * HTTP_PORT 0 or absent: no HTTP connector (and so no Browser). On a fresh HOME (no system database yet)
 * the initial password of user 'neo4j' is read from the first line of stdin, so that it never shows on
 * the command line; stdin is not read otherwise. Data and Neo4j's own logs go under HOME. Prints
 * "READY bolt=PORT http=PORT" on stdout once the default database is available. SIGTERM (or Ctrl-C)
 * shuts the DBMS down cleanly through a shutdown hook. --warmup-and-exit: run a few typical queries
 * after READY, then shut down (used to record a class-data-sharing archive).
 */
public final class Launcher {
    private Launcher() {}

    public static void main(String[] args) throws Exception {
        boolean warmup = args.length > 0 && args[args.length - 1].equals("--warmup-and-exit");
        if (warmup) {
            args = java.util.Arrays.copyOf(args, args.length - 1);
        }
        if (args.length < 2 || args.length > 3) {
            System.err.println("usage: kgrec.neo4j.Launcher HOME BOLT_PORT [HTTP_PORT] [--warmup-and-exit]"
                    + "  (initial password on stdin)");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath().normalize();
        int boltPort = Integer.parseInt(args[1]);
        int httpPort = args.length > 2 ? Integer.parseInt(args[2]) : 0;
        Files.createDirectories(home.resolve("logs"));

        if (!Files.exists(home.resolve("data").resolve("databases").resolve("system"))) {
            setInitialPassword(home);
        }

        long t0 = System.nanoTime();
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                .setConfig(GraphDatabaseSettings.logs_directory, home.resolve("logs"))
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(128))
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", boltPort))
                .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", boltPort))
                .setConfig(HttpConnector.enabled, httpPort > 0)
                .setConfig(HttpConnector.listen_address, new SocketAddress("127.0.0.1", Math.max(httpPort, 1)))
                .setConfig(HttpConnector.advertised_address, new SocketAddress("127.0.0.1", Math.max(httpPort, 1)))
                .setConfig(HttpsConnector.enabled, false)
                // Without this Netty waits its default quiet period and shutdown takes ~12 s.
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("STOPPING");
            System.out.flush();
            dbms.shutdown();
            System.out.println("STOPPED");
            System.out.flush();
            stopped.countDown();
        }, "kgrec-neo4j-shutdown"));

        String db = dbms.listDatabases().contains(GraphDatabaseSettings.DEFAULT_DATABASE_NAME)
                ? GraphDatabaseSettings.DEFAULT_DATABASE_NAME
                : GraphDatabaseSettings.SYSTEM_DATABASE_NAME;
        if (!dbms.database(db).isAvailable(TimeUnit.MINUTES.toMillis(5))) {
            System.err.println("database '" + db + "' did not become available; see " + home.resolve("logs"));
            System.exit(1);
        }
        System.out.printf("READY bolt=%d http=%d startup_ms=%d%n", boltPort, httpPort,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
        System.out.flush();
        if (warmup) {
            warmup(dbms.database(db));
            System.exit(0); // runs the shutdown hook (and -XX:ArchiveClassesAtExit, if given)
        }
        stopped.await();
    }

    /**
     * Runs typical queries once, so that a class-data-sharing archive dumped at exit
     * (-XX:ArchiveClassesAtExit, made by kg/neo4j_local/server.py at build time) holds the
     * Cypher and index classes too.
     */
    private static void warmup(GraphDatabaseService db) {
        String[] queries = {
            "CREATE VECTOR INDEX warmup_vec IF NOT EXISTS FOR (n:Warmup) ON n.embedding "
                    + "OPTIONS {indexConfig: {`vector.dimensions`: 4, `vector.similarity_function`: 'cosine'}}",
            "CREATE CONSTRAINT warmup_id IF NOT EXISTS FOR (n:Warmup) REQUIRE n.id IS UNIQUE",
            "CALL db.awaitIndexes(60)",
            "UNWIND range(1, 20) AS i MERGE (n:Warmup {id: i}) SET n.embedding = [toFloat(i), 1.0, 0.5, 0.25], "
                    + "n.name = 'item ' + i",
            "MATCH (a:Warmup), (b:Warmup) WHERE b.id = a.id + 1 MERGE (a)-[:NEXT {w: 1.0}]->(b)",
            "MATCH (a:Warmup {id: 1})-[:NEXT*1..3]->(b) RETURN b.id, b.name ORDER BY b.id LIMIT 5",
            "CALL db.index.vector.queryNodes('warmup_vec', 3, [1.0, 1.0, 0.5, 0.25]) YIELD node, score "
                    + "RETURN node.id, score",
            "MATCH (n:Warmup) DETACH DELETE n",
            "DROP INDEX warmup_vec IF EXISTS",
            "DROP CONSTRAINT warmup_id IF EXISTS",
        };
        for (String query : queries) {
            try (Transaction tx = db.beginTx()) {
                tx.execute(query).resultAsString();
                tx.commit();
            } catch (RuntimeException e) {
                System.out.println("warmup query failed (ignored): " + e.getMessage());
            }
        }
    }

    /** What {@code neo4j-admin dbms set-initial-password} does: writes data/dbms/auth.ini for the first start. */
    private static void setInitialPassword(Path home) throws Exception {
        String password;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            password = in.readLine();
        }
        if (password == null || password.isEmpty()) {
            System.err.println("fresh home " + home + ": the initial password must be given on stdin");
            System.exit(2);
        }
        ExecutionContext ctx = new ExecutionContext(home, home.resolve("conf"));
        // "--" and no @file expansion: a password may start with "-" or "@".
        int rc = new CommandLine(new SetInitialPasswordCommand(ctx)).setExpandAtFiles(false).execute("--", password);
        if (rc != 0) {
            System.err.println("setting the initial password failed (exit code " + rc + ")");
            System.exit(2);
        }
    }
}
