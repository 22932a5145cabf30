package io.walship.cli;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.SplittableRandom;

import io.walship.wal.Durability;
import io.walship.wal.PageSpace;
import io.walship.wal.Store;
import io.walship.wal.WriteBatch;

/**
 * {@code walship bench fill}: the on-disk size of the same rows in a walship store and in SQLite
 * (run as the {@code sqlite3} shell), after a load, after a delete-heavy phase, and after new rows
 * take the deleted rows' place. Rows are {@code k} + a zero-padded decimal number as key and
 * random base64 text as value, generated from one seed, so both stores get identical bytes.
 */
final class FillBench {
    private FillBench() {
    }

    /** One phase's figures; SQLite's are -1 when it was not run. */
    record Phase(String name, long rows, PageSpace walship, long walshipFileBytes, long sqlitePages,
                 long sqliteFreePages, long sqliteFileBytes) {
    }

    /** What the bench loads: {@code rows} rows, then deletes {@code deleteShare} of them and inserts as many new ones. */
    record Workload(int rows, int keySize, int valueSize, boolean random, double deleteShare, long seed) {
        byte[] key(long i) {
            String digits = Long.toString(i);
            return ("k" + "0".repeat(Math.max(0, keySize - 1 - digits.length())) + digits).getBytes(StandardCharsets.US_ASCII);
        }

        String value(long i) {
            SplittableRandom r = new SplittableRandom(seed * 1_000_003L + i);
            byte[] raw = new byte[(valueSize * 3 + 3) / 4];
            r.nextBytes(raw);
            return Base64.getEncoder().encodeToString(raw).substring(0, valueSize);
        }

        /** Row numbers in load order: 0..rows-1, shuffled when random. */
        long[] loadOrder(long from, int n) {
            long[] order = new long[n];
            for (int i = 0; i < n; i++) {
                order[i] = from + i;
            }
            if (random) {
                SplittableRandom r = new SplittableRandom(seed ^ from);
                for (int i = n - 1; i > 0; i--) {
                    int j = r.nextInt(i + 1);
                    long t = order[i];
                    order[i] = order[j];
                    order[j] = t;
                }
            }
            return order;
        }

        /** The rows the delete phase removes: a random {@code deleteShare} of 0..rows-1. */
        long[] deleted() {
            long[] all = new long[rows];
            for (int i = 0; i < rows; i++) {
                all[i] = i;
            }
            SplittableRandom r = new SplittableRandom(seed + 17);
            for (int i = rows - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                long t = all[i];
                all[i] = all[j];
                all[j] = t;
            }
            return java.util.Arrays.copyOf(all, (int) Math.round(rows * deleteShare));
        }
    }

    static List<Phase> run(Path dir, Workload w, String sqlite) throws IOException {
        Files.createDirectories(dir);
        Path storeDir = dir.resolve("walship");
        Path db = dir.resolve("sqlite.db");
        io.walship.wal.FileTrees.deleteTree(storeDir);
        Files.deleteIfExists(db);
        long[] deleted = w.deleted();
        long[] added = w.loadOrder(w.rows(), deleted.length);
        PageSpace[] ws = new PageSpace[3];
        long[] wf = new long[3];
        for (int phase = 0; phase < 3; phase++) {
            try (Store store = Store.open(storeDir)) {
                WriteBatch b = new WriteBatch();
                long[] ids = phase == 0 ? w.loadOrder(0, w.rows()) : phase == 1 ? deleted : added;
                for (long id : ids) {
                    if (phase == 1) {
                        b.delete(w.key(id));
                    } else {
                        b.put(w.key(id), w.value(id).getBytes(StandardCharsets.US_ASCII));
                    }
                    if (b.size() == 500) {
                        store.write(b, Durability.ASYNC);
                        b = new WriteBatch();
                    }
                }
                if (b.size() > 0) {
                    store.write(b, Durability.ASYNC);
                }
                store.checkpoint();
                ws[phase] = store.pageSpace();
            }
            wf[phase] = Files.size(storeDir.resolve("pages.dat"));
        }
        long[][] sq = new long[3][];
        if (sqlite != null) {
            sq[0] = sqlite(sqlite, db, out -> {
                out.write("PRAGMA page_size=4096;\nCREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT);\n");
                insert(out, w, w.loadOrder(0, w.rows()));
            });
            sq[1] = sqlite(sqlite, db, out -> {
                out.write("BEGIN;\n");
                for (int i = 0; i < deleted.length; i++) {
                    out.write("DELETE FROM kv WHERE k='" + new String(w.key(deleted[i]), StandardCharsets.US_ASCII) + "';\n");
                    if (i % 500 == 499) {
                        out.write("COMMIT;\nBEGIN;\n");
                    }
                }
                out.write("COMMIT;\n");
            });
            sq[2] = sqlite(sqlite, db, out -> insert(out, w, added));
        }
        String[] names = {"load", "delete " + Math.round(w.deleteShare() * 100) + " %", "insert as many new"};
        long[] rows = {w.rows(), w.rows() - deleted.length, w.rows()};
        List<Phase> out = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            out.add(new Phase(names[i], rows[i], ws[i], wf[i], sq[i] == null ? -1 : sq[i][0], sq[i] == null ? -1 : sq[i][1],
                    sq[i] == null ? -1 : sq[i][2]));
        }
        io.walship.wal.FileTrees.deleteTree(storeDir);
        Files.deleteIfExists(db);
        return out;
    }

    private static void insert(Writer out, Workload w, long[] ids) throws IOException {
        out.write("BEGIN;\n");
        for (int i = 0; i < ids.length; i++) {
            out.write("INSERT INTO kv(k, v) VALUES('" + new String(w.key(ids[i]), StandardCharsets.US_ASCII) + "','"
                    + w.value(ids[i]) + "');\n");
            if (i % 500 == 499) {
                out.write("COMMIT;\nBEGIN;\n");
            }
        }
        out.write("COMMIT;\n");
    }

    interface Script {
        void write(Writer out) throws IOException;
    }

    /** Runs a script in the sqlite3 shell; returns page count, free-list pages and file bytes after it. */
    private static long[] sqlite(String sqlite, Path db, Script script) throws IOException {
        Process p;
        try {
            p = new ProcessBuilder(sqlite, "-batch", "-bail", db.toString()).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new BadSqlite("cannot run " + sqlite + " (" + e.getMessage() + "); install sqlite3 or pass --no-sqlite");
        }
        List<String> lines = new ArrayList<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String l;
                while ((l = r.readLine()) != null) {
                    lines.add(l);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        reader.start();
        try (Writer out = new BufferedWriter(new OutputStreamWriter(p.getOutputStream(), StandardCharsets.UTF_8), 1 << 20)) {
            script.write(out);
            out.write("PRAGMA page_count;\nPRAGMA freelist_count;\n");
        }
        try {
            int rc = p.waitFor();
            reader.join();
            if (rc != 0 || lines.size() < 2) {
                throw new BadSqlite(sqlite + " exited with " + rc + ": " + String.join(" / ", lines));
            }
            long pages = Long.parseLong(lines.get(lines.size() - 2).trim());
            long free = Long.parseLong(lines.get(lines.size() - 1).trim());
            return new long[] {pages, free, Files.size(db)};
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted");
        } catch (NumberFormatException e) {
            throw new BadSqlite(sqlite + " printed " + String.join(" / ", lines));
        }
    }

    /** The peer could not be run: exit code 1 ({@link ExitCodes#FAILURE}). */
    private static final class BadSqlite extends RuntimeException {
        BadSqlite(String message) {
            super(message);
        }
    }

    static CliException failure(RuntimeException e) {
        return e instanceof BadSqlite ? new CliException(ExitCodes.FAILURE, e.getMessage()) : null;
    }
}
