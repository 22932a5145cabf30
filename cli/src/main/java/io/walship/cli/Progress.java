package io.walship.cli;

import java.util.function.LongConsumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Progress of a long transfer: on a terminal a line rewritten in place, otherwise a log line
 * every few seconds — bytes, rate, ETA. Thread-safe enough for one producer.
 */
final class Progress implements LongConsumer {
    private static final Logger LOG = LoggerFactory.getLogger(Progress.class);
    private final String what;
    private final long total;
    private final boolean terminal = System.console() != null;
    private final long start = System.nanoTime();
    private long lastPrint;

    Progress(String what, long total) {
        this.what = what;
        this.total = total;
    }

    @Override
    public synchronized void accept(long done) {
        long now = System.nanoTime();
        if (done == 0 || now - lastPrint < (terminal ? 200_000_000L : 5_000_000_000L) && done < total) {
            return;
        }
        lastPrint = now;
        double secs = Math.max(1e-3, (now - start) / 1e9);
        double rate = done / secs;
        String eta = total > 0 && rate > 0 ? String.format("%.0f s", (total - done) / rate) : "?";
        String line = String.format("%s: %.1f of %.1f MiB (%.1f MiB/s, ETA %s)", what, done / 1048576.0,
                total / 1048576.0, rate / 1048576.0, eta);
        if (terminal) {
            System.err.print("\r" + line + (done >= total ? "\n" : ""));
            System.err.flush();
        } else {
            LOG.info(line);
        }
    }
}
