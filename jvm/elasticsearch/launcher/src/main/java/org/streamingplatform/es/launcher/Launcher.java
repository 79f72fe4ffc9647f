package org.streamingplatform.es.launcher;

import org.elasticsearch.bootstrap.ServerArgs;
import org.elasticsearch.common.io.stream.OutputStreamStreamOutput;
import org.elasticsearch.common.settings.KeyStoreWrapper;
import org.elasticsearch.common.settings.Settings;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Runs one Elasticsearch node in the foreground, doing what the distribution's server-cli does
 * (the CLI is not published to Maven Central):
 *
 * <ol>
 *   <li>builds the node's JVM command line (SystemJvmOptions + the default jvm.options + heap ergonomics),
 *   <li>serialises {@link ServerArgs} to the node's stdin - the node reads its settings from there, not
 *       from its arguments - and keeps stdin open, because the node exits as soon as stdin closes,
 *   <li>on SIGTERM/SIGINT sends the shutdown marker on stdin (a graceful stop, as {@code ServerProcess.stop})
 *       and exits with the node's exit code.
 * </ol>
 *
 * <p>Usage: {@code java -cp launcher.jar:HOME/lib/* ...Launcher --es-home HOME --config DIR --tmp DIR
 * --heap 512m [--jvm-option OPT]... [--dry-run]}. Paths under {@code path.data}/{@code path.logs} come from
 * {@code DIR/elasticsearch.yml}.
 */
public final class Launcher {
    // BootstrapInfo.SERVER_READY_MARKER / SERVER_SHUTDOWN_MARKER (not public API, but the wire protocol).
    private static final int READY_MARKER = '\u0018';
    private static final int SHUTDOWN_MARKER = '\u001b';
    private static final long STOP_TIMEOUT_SECONDS = 120;

    private Launcher() {}

    public static void main(String[] argv) throws Exception {
        Path home = null, config = null, tmp = null;
        String heap = "512m";
        boolean dryRun = false;
        List<String> extra = new ArrayList<>();
        for (int i = 0; i < argv.length; i++) {
            switch (argv[i]) {
                case "--es-home" -> home = Path.of(argv[++i]).toAbsolutePath().normalize();
                case "--config" -> config = Path.of(argv[++i]).toAbsolutePath().normalize();
                case "--tmp" -> tmp = Path.of(argv[++i]).toAbsolutePath().normalize();
                case "--heap" -> heap = argv[++i];
                case "--jvm-option" -> extra.add(argv[++i]);
                case "--dry-run" -> dryRun = true;
                default -> throw new IllegalArgumentException("unknown argument " + argv[i]);
            }
        }
        if (home == null || config == null || tmp == null) {
            throw new IllegalArgumentException("--es-home, --config and --tmp are required");
        }

        // The node gets fully resolved settings, as from the official CLI; the yml is the single source.
        Settings settings = Settings.builder()
            .loadFromPath(config.resolve("elasticsearch.yml"))
            .replacePropertyPlaceholders()
            .put("path.home", home.toString())
            .build();
        Path logs = Path.of(settings.get("path.logs", home.resolve("logs").toString())).toAbsolutePath();
        Path data = Path.of(settings.getAsList("path.data", List.of(home.resolve("data").toString())).get(0)).toAbsolutePath();

        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions(home, tmp, logs, data, heap));
        command.addAll(extra);
        command.addAll(List.of(
            "--module-path", home.resolve("lib").toString(),
            "--add-modules=jdk.net",            // the node sets extended socket options reflectively
            "--add-modules=ALL-MODULE-PATH",
            "-m", "org.elasticsearch.server/org.elasticsearch.bootstrap.Elasticsearch"));
        if (dryRun) {
            command.forEach(System.out::println);
            return;
        }

        ProcessBuilder pb = new ProcessBuilder(command).directory(home.toFile());
        pb.environment().putIfAbsent("LIBFFI_TMPDIR", tmp.toString()); // libffi closures need an exec-able tmp
        pb.environment().remove("ES_JAVA_OPTS");
        pb.redirectOutput(ProcessBuilder.Redirect.INHERIT);
        Process node = pb.start();

        Thread pump = new Thread(() -> pumpStderr(node.getErrorStream(), System.err), "node-stderr");
        pump.setDaemon(true);
        pump.start();

        OutputStream stdin = node.getOutputStream();
        ServerArgs args = new ServerArgs(false, false, null, KeyStoreWrapper.create(), settings, config, logs);
        try {
            OutputStreamStreamOutput out = new OutputStreamStreamOutput(stdin);
            args.writeTo(out);
            out.flush(); // never close: closing stdin tells the node to exit
        } catch (IOException e) {
            // The node died before reading its arguments; its stderr (pumped) says why.
        }

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            // Runs on SIGTERM/SIGINT and on normal exit. Stop the node the way the official CLI does and
            // leave with its exit code, so a supervisor sees how the node ended, not how we were asked to.
            boolean stopping = node.isAlive();
            if (stopping) {
                try {
                    stdin.write(SHUTDOWN_MARKER);
                    stdin.flush();
                } catch (IOException ignored) {
                    // already exiting
                }
                try {
                    if (node.waitFor(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS) == false) {
                        System.err.println("[launcher] node did not stop in " + STOP_TIMEOUT_SECONDS + "s, killing it");
                        node.destroyForcibly().waitFor();
                    }
                } catch (InterruptedException e) {
                    node.destroyForcibly();
                }
            }
            joinQuietly(pump);
            int code = node.isAlive() ? 1 : node.exitValue();
            // When the whole process group got the signal, the node stopped through its own shutdown hook
            // (just as graceful) and the JVM reports 128+signal; we were asked to stop, so that is success.
            if (stopping && (code == 128 + 15 || code == 128 + 2)) {
                code = 0;
            }
            Runtime.getRuntime().halt(code);
        }, "node-stopper"));

        int code = node.waitFor();
        joinQuietly(pump);
        System.exit(code);
    }

    /** The options the distribution would give this node on this JVM, for a small embedded heap. */
    static List<String> jvmOptions(Path home, Path tmp, Path logs, Path data, String heap) throws IOException {
        int feature = Runtime.version().feature();
        List<String> o = new ArrayList<>(List.of(
            // --- SystemJvmOptions
            "-Des.networkaddress.cache.ttl=60",
            "-Des.networkaddress.cache.negative.ttl=10",
            "-Xss1m",
            "-Djava.awt.headless=true",
            "-Dfile.encoding=UTF-8",
            "-Djna.nosys=true",
            "-XX:-OmitStackTraceInFastThrow",
            "-Dio.netty.noUnsafe=true",
            "-Dio.netty.noKeySetOptimization=true",
            "-Dio.netty.recycler.maxCapacityPerThread=0",
            "-Dlog4j.shutdownHookEnabled=false",
            "-Dlog4j2.disable.jmx=true",
            "-Dlog4j2.formatMsgNoLookups=true",
            "-Djava.locale.providers=CLDR",
            "-Des.path.home=" + home,
            "-Des.distribution.type=tar",
            "-Des.java.type=" + (System.getenv("ES_JAVA_HOME") != null ? "user JDK [ES_JAVA_HOME]" : "system JDK"),
            "-XX:ReplayDataFile=" + logs.resolve("replay_pid%p.log"),
            // 8.19 still expects the security manager to be installable; JDK 24+ refuses this flag.
            "-Djava.security.manager=allow",
            // --- entitlements: the node self-attaches lib/entitlement-agent and the bridge must be in java.base
            "-Djdk.attach.allowAttachSelf=true",
            "--patch-module=java.base=" + single(home.resolve("lib/entitlement-bridge")),
            "--add-exports=java.base/org.elasticsearch.entitlement.bridge=org.elasticsearch.entitlement,"
                + "java.logging,java.net.http,java.naming,jdk.net",
            // --- the distribution's default jvm.options
            "-XX:+UseG1GC",
            "-Djava.io.tmpdir=" + tmp,
            "-XX:+HeapDumpOnOutOfMemoryError",
            "-XX:+ExitOnOutOfMemoryError",
            "-XX:HeapDumpPath=" + data,
            "-XX:ErrorFile=" + logs.resolve("hs_err_pid%p.log"),
            // smaller than the distribution's 32 x 64 MB: this is a development node
            "-Xlog:gc*,gc+age=trace,safepoint:file=" + logs.resolve("gc.log") + ":utctime,level,pid,tags:filecount=4,filesize=16m",
            // --- heap (MachineDependentHeap/JvmErgonomics for an explicit heap). No -XX:+AlwaysPreTouch:
            // the distribution touches the whole heap up front; an embedded node should only use what it needs.
            "-Xms" + heap,
            "-Xmx" + heap,
            "-XX:MaxDirectMemorySize=" + bytes(heap) / 2,
            "-XX:G1HeapRegionSize=4m",
            "-XX:InitiatingHeapOccupancyPercent=30",
            "-XX:G1ReservePercent=15"));
        if (feature >= 21) {
            o.add("--enable-native-access=org.elasticsearch.nativeaccess,org.apache.lucene.core");
            o.add("--enable-native-access=ALL-UNNAMED");
            o.add("-XX:+EnableDynamicAgentLoading"); // unknown (fatal) before 21
        }
        return o;
    }

    private static String single(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            List<Path> jars = s.filter(p -> p.toString().endsWith(".jar")).toList();
            if (jars.size() != 1) {
                throw new IllegalStateException("expected one jar in " + dir + ", found " + jars);
            }
            return jars.get(0).toString();
        }
    }

    static long bytes(String size) {
        String s = size.trim().toLowerCase(Locale.ROOT);
        long unit = switch (s.charAt(s.length() - 1)) {
            case 'k' -> 1L << 10;
            case 'm' -> 1L << 20;
            case 'g' -> 1L << 30;
            default -> 1L;
        };
        return Long.parseLong(unit == 1 ? s : s.substring(0, s.length() - 1)) * unit;
    }

    /** Copies the node's stderr, dropping the one-byte ready marker the node writes for its CLI. */
    private static void pumpStderr(InputStream in, PrintStream out) {
        byte[] buf = new byte[8192];
        boolean afterMarker = false;
        try {
            int n;
            while ((n = in.read(buf)) != -1) {
                int start = 0;
                for (int i = 0; i < n; i++) {
                    if (buf[i] == READY_MARKER) { // a control byte, never part of a UTF-8 sequence
                        out.write(buf, start, i - start);
                        out.println("[launcher] node started");
                        start = i + 1;
                        afterMarker = true;
                    } else if (afterMarker) {
                        afterMarker = false;
                        if (buf[i] == '\n') { // the node ends its marker with a newline; we already did
                            start = i + 1;
                        }
                    }
                }
                out.write(buf, start, n - start);
                out.flush();
            }
        } catch (IOException e) {
            // the node is gone
        }
    }

    private static void joinQuietly(Thread t) {
        try {
            t.join(5000);
        } catch (InterruptedException ignored) {
            Thread.currentThread().interrupt();
        }
    }
}
