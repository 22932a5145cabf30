package io.walship.shipper.repl;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import javax.net.SocketFactory;

import io.walship.protocol.HostPort;
import io.walship.protocol.repl.Frame;
import io.walship.protocol.repl.ReplConnection;
import io.walship.wal.EntryCodec;
import io.walship.wal.WalEntry;

/**
 * A minimal follower for tests: speaks the protocol over a real socket, verifies every entry it
 * receives (CRC and format through {@link EntryCodec}, LSN == the one expected next, never past the
 * leader's durable LSN in the same frame) and answers KEEPALIVEs with FEEDBACK when asked to.
 * Reads wait at most {@code readTimeout}; a test's deadline is then a failed read, never a hang.
 */
final class TestFollower implements AutoCloseable {
    static final Duration READ_TIMEOUT = Duration.ofSeconds(20);

    final ReplConnection conn;
    final List<WalEntry> received = new ArrayList<>();
    final List<byte[]> receivedBytes = new ArrayList<>();
    volatile long expected;
    volatile long lastEcho;
    volatile int keepalives;
    volatile boolean answerKeepalives = true;
    private volatile Throwable backgroundFailure;
    /** If set: the leader's durable LSN now; every entry must be at or below it when it arrives. */
    volatile java.util.function.LongSupplier leaderDurable;

    private TestFollower(ReplConnection conn) throws IOException {
        this.conn = conn;
        conn.readTimeout(READ_TIMEOUT);
    }

    static TestFollower connect(InetSocketAddress leader) throws IOException {
        return connect(leader, SocketFactory.getDefault());
    }

    /** Through {@code sockets} ({@code Tls.clientSockets} for a TLS leader). */
    static TestFollower connect(InetSocketAddress leader, SocketFactory sockets) throws IOException {
        return new TestFollower(ReplConnection.connect(sockets,
                new HostPort(leader.getHostString(), leader.getPort()), Duration.ofSeconds(5)));
    }

    static Frame.Hello hello(long systemId, int timeline, long startLsn, String slot, String token, String node) {
        return new Frame.Hello(Frame.VERSION, systemId, timeline, startLsn, slot, token, node);
    }

    /** Sends the HELLO and returns the answer: a WELCOME or a REFUSE. */
    Frame handshake(Frame.Hello h) throws IOException {
        conn.write(h);
        expected = h.startLsn();
        Frame f = conn.read();
        if (!(f instanceof Frame.Welcome) && !(f instanceof Frame.Refuse)) {
            throw new AssertionError("expected WELCOME or REFUSE, got " + f);
        }
        return f;
    }

    /** Reads one frame, checking and recording WAL entries and answering keepalives. */
    Frame step() throws IOException {
        Frame f = conn.read();
        if (f instanceof Frame.Wal w) {
            lastEcho = w.leaderSendMicros();
            if (w.entries().isEmpty()) {
                throw new AssertionError("an empty WAL frame");
            }
            for (Frame.Entry e : w.entries()) {
                WalEntry entry = EntryCodec.decode(e.bytes()); // CRC and format verified
                if (e.lsn() != expected || entry.lsn() != expected) {
                    throw new AssertionError("expected LSN " + expected + ", got frame LSN " + e.lsn() + " / entry LSN "
                            + entry.lsn());
                }
                if (e.lsn() > w.leaderDurableLsn()) {
                    throw new AssertionError("LSN " + e.lsn() + " sent past the leader's durable LSN "
                            + w.leaderDurableLsn());
                }
                java.util.function.LongSupplier d = leaderDurable;
                if (d != null && e.lsn() > d.getAsLong()) {
                    throw new AssertionError("LSN " + e.lsn() + " arrived before the leader had it durable ("
                            + d.getAsLong() + ")");
                }
                received.add(entry);
                receivedBytes.add(e.bytes());
                expected++;
            }
        } else if (f instanceof Frame.Keepalive k) {
            lastEcho = k.leaderSendMicros();
            keepalives++;
            if (k.replyRequested() && answerKeepalives) {
                feedback(expected - 1);
            }
        }
        return f;
    }

    /** Reads until every LSN up to {@code lsn} arrived. */
    void receiveThrough(long lsn) throws IOException {
        while (expected <= lsn) {
            step();
        }
    }

    /** Reports everything received as written, flushed and applied. */
    void feedback(long lsn) throws IOException {
        conn.write(new Frame.Feedback(lsn, lsn, lsn, System.currentTimeMillis() * 1000, lastEcho));
    }

    /** Reads until the leader closes the connection; returns the frames that came before. */
    List<Frame> readUntilClosed() throws IOException {
        List<Frame> frames = new ArrayList<>();
        long deadline = System.nanoTime() + READ_TIMEOUT.toNanos();
        while (true) {
            if (System.nanoTime() > deadline) {
                // frames keep coming (KEEPALIVEs of a session that goes on): bounded all the same
                throw new AssertionError("the leader did not close the connection within " + READ_TIMEOUT + "; "
                        + frames.size() + " frames came meanwhile");
            }
            try {
                frames.add(step());
            } catch (EOFException e) {
                return frames;
            } catch (SocketTimeoutException e) {
                throw new AssertionError("the leader did not close the connection within " + READ_TIMEOUT);
            } catch (IOException e) {
                if (e.getMessage() != null && e.getMessage().contains("reset")) {
                    return frames; // closed with unread data of ours in its buffer
                }
                throw e;
            }
        }
    }

    /** Reads on in a thread of its own (answering keepalives) until closed; see {@link #awaitReceived}. */
    TestFollower inBackground() {
        Thread t = new Thread(() -> {
            try {
                while (!conn.isClosed()) {
                    step();
                }
            } catch (Throwable e) {
                if (!conn.isClosed()) {
                    backgroundFailure = e;
                }
            }
        }, "test-follower");
        t.setDaemon(true);
        t.start();
        return this;
    }

    /** With {@link #inBackground}: waits (up to the read timeout) until every LSN up to {@code lsn} arrived. */
    void awaitReceived(long lsn) {
        long deadline = System.nanoTime() + READ_TIMEOUT.toNanos();
        while (expected <= lsn) {
            if (backgroundFailure != null) {
                throw new AssertionError("the follower's connection failed", backgroundFailure);
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("LSN " + lsn + " did not arrive within " + READ_TIMEOUT);
            }
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    /** With {@link #inBackground}: waits until {@code n} keepalives have come (and were answered). */
    void awaitKeepalives(int n) {
        long deadline = System.nanoTime() + READ_TIMEOUT.toNanos();
        while (keepalives < n) {
            if (backgroundFailure != null) {
                throw new AssertionError("the follower's connection failed", backgroundFailure);
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(n + " keepalives did not arrive within " + READ_TIMEOUT);
            }
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    @Override
    public void close() {
        conn.close();
    }
}
