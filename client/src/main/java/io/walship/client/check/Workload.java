package io.walship.client.check;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import io.walship.client.Batch;
import io.walship.client.GetResult;
import io.walship.client.ScanResult;
import io.walship.client.Session;
import io.walship.client.WalshipClient;
import io.walship.client.WalshipException;
import io.walship.client.check.History.Op;

/**
 * Concurrent sessions doing random reads and writes on a small key space through a
 * {@link WalshipClient}, each carrying its own {@link Session}, recording everything in a
 * {@link History} for the {@link ConsistencyChecker}.
 *
 * <p>Each session is one thread with its own {@link Random} seeded from the run's seed and its
 * number, so a run is reproduced (up to the interleaving) by its seed. Its operations: put 40%,
 * delete 5%, batch of 2–4 puts and deletes 5%, get 45%, scan of up to 8 consecutive keys 5%.
 * Keys are {@code <prefix>k0000}… (fixed width, so key order is number order); every value is unique
 * ({@code s<session>-<op>[-<i>]}), as the checker needs. A write that fails with a 4xx was not
 * applied and is dropped; any other failure leaves its outcome unknown and is recorded so. A
 * failed read is recorded as failed. Thread-safe: {@link #run} may be called concurrently.
 */
public final class Workload {
    /**
     * @param sessions concurrent sessions (threads)
     * @param ops      operations in all, shared out evenly
     * @param keys     size of the key space
     * @param seed     the run's seed
     * @param prefix   what every key starts with ("" for none): a prefix no earlier run used lets
     *                 the check run against a store that already holds data
     */
    public record Config(int sessions, int ops, int keys, long seed, String prefix) {
        public Config {
            if (sessions < 1 || ops < sessions || keys < 1 || keys > 10_000) {
                throw new IllegalArgumentException("need 1 ≤ sessions ≤ ops and 1 ≤ keys ≤ 10000, got sessions="
                        + sessions + " ops=" + ops + " keys=" + keys);
            }
            if (prefix == null || prefix.length() > 200) {
                throw new IllegalArgumentException("key prefix must be at most 200 characters");
            }
        }

        public Config(int sessions, int ops, int keys, long seed) {
            this(sessions, ops, keys, seed, "");
        }

        /** The key numbered {@code i}: the prefix, then {@code k} and four digits. */
        public String key(int i) {
            return prefix + String.format("k%04d", i);
        }
    }

    private Workload() {
    }

    /** Runs the sessions to the end and returns what they did and saw. */
    public static History run(WalshipClient client, Config config) throws InterruptedException {
        History history = new History();
        ExecutorService pool = Executors.newFixedThreadPool(config.sessions(), r -> {
            Thread t = new Thread(r, "walship-check-session");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> running = new ArrayList<>();
            for (int s = 0; s < config.sessions(); s++) {
                int id = s;
                int ops = config.ops() / config.sessions() + (s < config.ops() % config.sessions() ? 1 : 0);
                History.SessionLog log = history.session(id);
                running.add(pool.submit(() -> session(client, config, id, ops, log)));
            }
            for (Future<?> f : running) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    throw new IllegalStateException("a session failed: " + e.getCause(), e.getCause());
                }
            }
        } finally {
            pool.shutdownNow();
        }
        return history;
    }

    private static void session(WalshipClient client, Config config, int id, int ops, History.SessionLog log) {
        Random random = new Random(config.seed() * 1_000_003L + id);
        Session session = new Session();
        for (int n = 0; n < ops; n++) {
            int dice = random.nextInt(100);
            String value = "s" + id + "-" + n;
            if (dice < 40) {
                write(log, List.of(Op.put(config.key(random.nextInt(config.keys())), value)),
                        ops1 -> client.put(session, ops1.get(0).key(), ops1.get(0).value()));
            } else if (dice < 45) {
                write(log, List.of(Op.delete(config.key(random.nextInt(config.keys())))),
                        ops1 -> client.delete(session, ops1.get(0).key()));
            } else if (dice < 50) {
                int size = 2 + random.nextInt(3);
                List<Op> batch = new ArrayList<>();
                for (int i = 0; i < size; i++) {
                    String k = config.key(random.nextInt(config.keys()));
                    batch.add(random.nextInt(4) == 0 ? Op.delete(k) : Op.put(k, value + "-" + i));
                }
                write(log, batch, list -> {
                    Batch b = new Batch();
                    list.forEach(op -> {
                        if (op.value() == null) {
                            b.delete(op.key());
                        } else {
                            b.put(op.key(), op.value());
                        }
                    });
                    return client.batch(session, b);
                });
            } else if (dice < 95) {
                String k = config.key(random.nextInt(config.keys()));
                long token = session.lsn();
                try {
                    GetResult r = client.get(session, k);
                    log.read(k, r.valueString(), token, r.lsn(), r.node().toString());
                } catch (WalshipException e) {
                    log.readFailed(k, e.getMessage());
                }
            } else {
                int from = random.nextInt(config.keys());
                int to = Math.min(config.keys(), from + 1 + random.nextInt(8));
                long token = session.lsn();
                try {
                    ScanResult r = client.scan(session, config.key(from), config.key(to), 0);
                    int next = 0;
                    List<ScanResult.Entry> entries = r.entries();
                    for (int i = from; i < to; i++) {
                        String k = config.key(i);
                        String v = null;
                        if (next < entries.size() && entries.get(next).keyString().equals(k)) {
                            v = entries.get(next++).valueString();
                        }
                        log.read(k, v, token, r.lsn(), r.node().toString());
                    }
                    if (next != entries.size()) {
                        throw new IllegalStateException("scan [" + config.key(from) + ", " + config.key(to) + ") at LSN " + r.lsn()
                                + " answered keys outside its range or out of order: " + entries.stream()
                                        .map(ScanResult.Entry::keyString).toList());
                    }
                } catch (WalshipException e) {
                    log.readFailed(config.key(from), e.getMessage());
                }
            }
        }
    }

    @FunctionalInterface
    private interface Commit {
        long commit(List<Op> ops);
    }

    private static void write(History.SessionLog log, List<Op> ops, Commit commit) {
        try {
            log.wrote(ops, commit.commit(ops));
        } catch (WalshipException e) {
            if (e.status() >= 400 && e.status() < 500) {
                return; // refused: not applied
            }
            log.wroteUnknown(ops, e.getMessage());
        }
    }
}
