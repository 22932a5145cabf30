package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code walship} launcher's heap caps: {@code restore} and {@code backup} run with a bounded
 * heap of their own (their memory does not grow with the store, and a JVM left to its sizing grows
 * toward a quarter of the RAM), other commands with the JVM's default, and a heap the user sets
 * wins. The launcher is run from a copy beside a stand-in jar, with a {@code java} on PATH that
 * prints the arguments it was given.
 */
class LauncherHeapTest {
    /** What the launcher touches once a build of the jar has succeeded. */
    static final String BUILD_STAMP = "cli/target/walship.jar.built";

    @TempDir
    Path tmp;

    private long builds() throws Exception {
        Path calls = tmp.resolve("bin/mvn-calls");
        return Files.exists(calls) ? Files.readAllLines(calls).size() : 0;
    }

    /**
     * A build killed half-way (Ctrl-C during the first {@code ./walship demo}) leaves a jar newer
     * than the sources but broken ("no main manifest attribute"): the launcher builds again while
     * the jar is newer than its last successful build, instead of running the broken jar for good.
     */
    @Test
    void aJarWrittenAfterTheLastSuccessfulBuildIsBuiltAgain() throws Exception {
        javaArgs(Map.of(), "kv", "get", "--data", "/x", "k");
        assertEquals(0, builds(), "an intact build is not built again");
        Path root = tmp.resolve("walship-home");
        Path jar = root.resolve("cli/target/walship.jar");
        Files.setLastModifiedTime(jar, java.nio.file.attribute.FileTime.fromMillis(
                System.currentTimeMillis() - 10_000)); // after the stamp: an interrupted build wrote it
        javaArgs(Map.of(), "kv", "get", "--data", "/x", "k");
        assertEquals(1, builds(), "the launcher builds again after an interrupted build");
        javaArgs(Map.of(), "kv", "get", "--data", "/x", "k");
        assertEquals(1, builds(), "and only once: the successful build is stamped");
    }

    private List<String> javaArgs(Map<String, String> env, String... args) throws Exception {
        Path root = tmp.resolve("walship-home");
        Path bin = tmp.resolve("bin");
        if (!Files.exists(root)) {
            Files.createDirectories(root.resolve("cli/target"));
            Files.createDirectories(bin);
            Path launcher = Path.of("..", "walship").toAbsolutePath().normalize();
            Files.copy(launcher, root.resolve("walship"));
            Files.writeString(root.resolve("cli/target/jvm.flags"), "-Dflag.from.pom=1");
            Files.writeString(root.resolve("cli/target/walship.jar"), "stand-in");
            Files.writeString(root.resolve(BUILD_STAMP), "");
            long now = System.currentTimeMillis(); // a build a minute ago, stamped half a minute later
            Files.setLastModifiedTime(root.resolve("cli/target/walship.jar"), java.nio.file.attribute.FileTime.fromMillis(now - 60_000));
            Files.setLastModifiedTime(root.resolve(BUILD_STAMP), java.nio.file.attribute.FileTime.fromMillis(now - 30_000));
            Path mvn = bin.resolve("mvn"); // a build: counts itself and leaves the stand-in jar as it was
            Files.writeString(mvn, "#!/bin/sh\necho build >> \"$(dirname \"$0\")/mvn-calls\"\n");
            Files.setPosixFilePermissions(mvn, PosixFilePermissions.fromString("rwxr-xr-x"));
            Path java = bin.resolve("java");
            Files.writeString(java, "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done\n");
            Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.setPosixFilePermissions(root.resolve("walship"), PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        List<String> cmd = new java.util.ArrayList<>(List.of("bash", root.resolve("walship").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("WALSHIP_JAVA_OPTS");
        pb.environment().remove("JAVA_TOOL_OPTIONS");
        pb.environment().remove("JDK_JAVA_OPTIONS");
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the launcher did not finish");
        assertEquals(0, p.exitValue(), out);
        return out.lines().toList();
    }

    private static List<String> heapFlags(List<String> javaArgs) {
        return javaArgs.stream().filter(a -> a.startsWith("-Xmx") || a.startsWith("-Xms")).toList();
    }

    @Test
    void backupAndRestoreRunWithTheirHeapCaps() throws Exception {
        List<String> backup = javaArgs(Map.of(), "backup", "--data", "/nowhere", "--archive", "file:///nowhere");
        assertEquals(List.of("-Xmx128m"), heapFlags(backup), backup.toString());
        assertTrue(backup.contains("-Dflag.from.pom=1"), backup.toString());
        assertEquals(List.of("backup", "--data", "/nowhere", "--archive", "file:///nowhere"),
                backup.subList(backup.size() - 5, backup.size()), "the command's own arguments come last, unchanged");
        assertEquals(List.of("-Xmx128m"), heapFlags(javaArgs(Map.of(), "--stacktrace", "backup", "--data", "/x")));
        assertEquals(List.of("-Xmx320m"), heapFlags(javaArgs(Map.of(), "restore", "--archive", "file:///x")));
    }

    @Test
    void otherCommandsKeepTheJvmsSizingAndTheUsersHeapWins() throws Exception {
        assertEquals(List.of(), heapFlags(javaArgs(Map.of(), "leader", "--data", "/x")));
        assertEquals(List.of("-Xmx1g"), heapFlags(javaArgs(Map.of("WALSHIP_JAVA_OPTS", "-Xmx1g"), "backup", "--data", "/x")));
        assertEquals(List.of(), heapFlags(javaArgs(Map.of("JAVA_TOOL_OPTIONS", "-XX:MaxHeapSize=1g"), "backup", "--data", "/x")));
        assertEquals(List.of(), heapFlags(javaArgs(Map.of("JDK_JAVA_OPTIONS", "-Xms512m"), "restore"))); // the JVM reads it itself
    }
}
