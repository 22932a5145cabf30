package io.walship.wal;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Starts a test main class in a child JVM with the project's JVM flags (from the parent pom). */
public final class ChildJvm {
    private ChildJvm() {
    }

    public static Process start(Class<?> main, List<String> args, Path stderr) throws IOException {
        return start(main, List.of(), args, stderr);
    }

    /**
     * As {@link #start(Class, List, Path)}, with the child's stdout going to a file: unlike a pipe
     * read by another thread, a file keeps every line the child wrote before it was killed (the
     * JDK drains a dead child's pipe into a buffer concurrently with readers, and lines can be lost).
     */
    public static Process startToFile(Class<?> main, List<String> args, Path stdout, Path stderr) throws IOException {
        return startToFile(main, List.of(), args, stdout, stderr);
    }

    /** As {@link #startToFile(Class, List, Path, Path)} with extra JVM options (system properties) before the class. */
    public static Process startToFile(Class<?> main, List<String> jvmOptions, List<String> args, Path stdout, Path stderr)
            throws IOException {
        return builder(main, jvmOptions, args, stderr).redirectOutput(stdout.toFile()).start();
    }

    /** As {@link #start(Class, List, Path)} with extra JVM options (system properties) before the class. */
    public static Process start(Class<?> main, List<String> jvmOptions, List<String> args, Path stderr) throws IOException {
        return builder(main, jvmOptions, args, stderr).start();
    }

    private static ProcessBuilder builder(Class<?> main, List<String> jvmOptions, List<String> args, Path stderr) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        String flags = System.getProperty("walship.jvm.flags", "");
        if (!flags.isBlank()) {
            cmd.addAll(Arrays.asList(flags.trim().split("\\s+")));
        }
        cmd.add("-Xmx512m");
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"))
                .replace(' ', File.pathSeparatorChar).replace(File.pathSeparator + File.pathSeparator, File.pathSeparator));
        cmd.add(main.getName());
        cmd.addAll(args);
        return new ProcessBuilder(cmd).redirectError(stderr.toFile());
    }
}
