package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code walship} launcher's class archive for {@code restore} (cli/target/restore.jsa): made
 * once per build of the jar and then used; when it cannot be made the restore still runs, without
 * it, and it is not tried again until the next build; {@code WALSHIP_CDS=off} and the user's own
 * {@code -Xshare} turn it off; other commands never use it. The launcher runs from a copy beside a
 * stand-in jar, with a {@code java} on PATH that prints its arguments and, when asked to record an
 * archive ({@code -XX:ArchiveClassesAtExit=F}), writes F unless {@code FAKE_CDS_FAIL} is set.
 */
class LauncherClassArchiveTest {
    @TempDir
    Path tmp;

    private Path root() throws Exception {
        Path root = tmp.resolve("walship-home");
        if (!Files.exists(root)) {
            Path bin = tmp.resolve("bin");
            Files.createDirectories(root.resolve("cli/target"));
            Files.createDirectories(bin);
            Files.copy(Path.of("..", "walship").toAbsolutePath().normalize(), root.resolve("walship"));
            Files.writeString(root.resolve("cli/target/jvm.flags"), "-Dflag.from.pom=1");
            Path jar = root.resolve("cli/target/walship.jar");
            Files.writeString(jar, "stand-in");
            Files.writeString(root.resolve(LauncherHeapTest.BUILD_STAMP), "");
            Files.setLastModifiedTime(root.resolve(LauncherHeapTest.BUILD_STAMP), java.nio.file.attribute.FileTime.fromMillis(
                    Files.getLastModifiedTime(jar).toMillis() + 1000));
            Files.setLastModifiedTime(jar, FileTime.from(Instant.now().minusSeconds(3600)));
            Path java = bin.resolve("java");
            Files.writeString(java, """
                    #!/bin/sh
                    for a in "$@"; do
                      case "$a" in
                        -XX:ArchiveClassesAtExit=*) [ -n "$FAKE_CDS_FAIL" ] && exit 1; printf 'jsa' > "${a#-XX:ArchiveClassesAtExit=}" ;;
                      esac
                      echo "$a"
                    done
                    """);
            Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.setPosixFilePermissions(root.resolve("walship"), PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        return root;
    }

    /** The launcher's output (stderr and the stand-in java's argument lines), after it exited 0. */
    private List<String> run(Map<String, String> env, String... args) throws Exception {
        Path root = root();
        List<String> cmd = new java.util.ArrayList<>(List.of("bash", root.resolve("walship").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("WALSHIP_JAVA_OPTS");
        pb.environment().remove("JAVA_TOOL_OPTIONS");
        pb.environment().remove("JDK_JAVA_OPTIONS");
        pb.environment().remove("WALSHIP_CDS");
        pb.environment().put("PATH", tmp.resolve("bin") + ":" + System.getenv("PATH"));
        pb.environment().put("TMPDIR", Files.createDirectories(tmp.resolve("scratch")).toString());
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the launcher did not finish");
        assertEquals(0, p.exitValue(), out);
        return out.lines().toList();
    }

    private static boolean usesArchive(List<String> out, Path archive) {
        return out.contains("-XX:SharedArchiveFile=" + archive);
    }

    private static boolean makes(List<String> out) {
        return out.stream().anyMatch(l -> l.startsWith("walship: making cli/target/restore.jsa"));
    }

    @Test
    void madeOnceThenUsedByRestoreOnly() throws Exception {
        Path archive = root().resolve("cli/target/restore.jsa");
        List<String> first = run(Map.of(), "restore", "--archive", "file:///x");
        assertTrue(makes(first), String.join("\n", first));
        assertEquals("jsa", Files.readString(archive));
        assertTrue(usesArchive(first, archive), String.join("\n", first));
        assertTrue(first.contains("restore"), "the restore itself ran: " + first);

        List<String> second = run(Map.of(), "restore", "--archive", "file:///x");
        assertFalse(makes(second), "made once per build: " + second);
        assertTrue(usesArchive(second, archive), String.join("\n", second));

        assertFalse(usesArchive(run(Map.of(), "backup", "--data", "d"), archive));
        assertFalse(usesArchive(run(Map.of("WALSHIP_CDS", "off"), "restore"), archive));
        assertFalse(usesArchive(run(Map.of("WALSHIP_JAVA_OPTS", "-Xshare:off"), "restore"), archive));

        // a new build: a newer jar, and the launcher's stamp of its success after it
        Files.setLastModifiedTime(root().resolve("cli/target/walship.jar"), FileTime.from(Instant.now().plusSeconds(5)));
        Files.setLastModifiedTime(root().resolve(LauncherHeapTest.BUILD_STAMP), FileTime.from(Instant.now().plusSeconds(6)));
        assertTrue(makes(run(Map.of(), "restore")), "a newer jar makes it again");
    }

    @Test
    void aFailureRestoresWithoutItAndIsNotRetriedUntilTheNextBuild() throws Exception {
        Path archive = root().resolve("cli/target/restore.jsa");
        List<String> first = run(Map.of("FAKE_CDS_FAIL", "1"), "restore", "--archive", "file:///x");
        assertTrue(first.stream().anyMatch(l -> l.contains("could not make the class archive")), String.join("\n", first));
        assertFalse(Files.exists(archive), "no half-made archive is installed");
        assertTrue(Files.exists(archive.resolveSibling("restore.jsa.failed")));
        assertFalse(usesArchive(first, archive));
        assertTrue(first.contains("restore"), "the restore itself still ran: " + first);

        List<String> second = run(Map.of(), "restore");
        assertFalse(makes(second), "not retried until the jar is rebuilt: " + second);
        assertFalse(usesArchive(second, archive));
    }
}
