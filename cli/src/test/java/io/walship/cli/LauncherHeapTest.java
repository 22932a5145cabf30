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
    @TempDir
    Path tmp;

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
