package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A blank {@code walship follow --archive ""} means no archive, as it always did (it overrode
 * WALSHIP_ARCHIVE: the option's default came from the environment only when the flag was absent).
 * In a child JVM, since the test sets WALSHIP_ARCHIVE.
 */
class FollowBlankArchiveEnvTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(120)
    void aBlankArchiveOverridesWalshipArchive() throws Exception {
        Path envArchive = tmp.resolve("env-archive");
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        String flags = System.getProperty("walship.jvm.flags", "");
        if (!flags.isBlank()) {
            cmd.addAll(Arrays.asList(flags.trim().split("\\s+")));
        }
        cmd.add("-Xmx256m");
        cmd.add("-cp");
        cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"))
                .replace(' ', File.pathSeparatorChar).replace(File.pathSeparator + File.pathSeparator, File.pathSeparator));
        cmd.add(Main.class.getName());
        cmd.addAll(List.of("follow", "--data", tmp.resolve("f").toString(), "--leader", "127.0.0.1:1",
                "--http", "127.0.0.1:0", "--archive", "", "--failover", "auto"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(tmp.resolve("err").toFile())
                .redirectOutput(tmp.resolve("out").toFile());
        pb.environment().put("WALSHIP_ARCHIVE", "file://" + envArchive);
        Process p = pb.start();
        try {
            assertTrue(p.waitFor(90, TimeUnit.SECONDS), "the follower did not exit");
            String err = Files.readString(tmp.resolve("err"));
            assertEquals(ExitCodes.USAGE, p.exitValue(), err);
            assertTrue(err.contains("--failover auto needs --archive"), err);
            assertFalse(Files.exists(envArchive), "a blank --archive used WALSHIP_ARCHIVE");
        } finally {
            p.destroyForcibly();
        }
    }
}
