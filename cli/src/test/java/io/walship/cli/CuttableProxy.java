package io.walship.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP proxy in the test's JVM that the test can cut: once {@link #cut()} has returned, not one
 * byte read after that goes through in either direction, every connection is closed and new ones
 * are closed at once. Stands between a follower and its leader when the test needs the follower to
 * receive nothing more: stopping the follower's process (SIGSTOP) is not enough, the kernel keeps
 * acknowledging and queueing the leader's frames in its socket, and it applies them on SIGCONT.
 */
final class CuttableProxy implements AutoCloseable {
    private final InetSocketAddress target;
    private final ServerSocket server;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private volatile boolean cut;

    /** Listens on a loopback port of its own and forwards every connection to {@code host:port}. */
    CuttableProxy(String host, int port) throws IOException {
        this.target = new InetSocketAddress(host, port);
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(this::accept, "proxy-accept-" + server.getLocalPort());
        t.setDaemon(true);
        t.start();
    }

    /** {@code 127.0.0.1:PORT}, where it listens. */
    String address() {
        return "127.0.0.1:" + server.getLocalPort();
    }

    /** From now on nothing goes through, and every connection through it is closed. */
    void cut() {
        cut = true;
        sockets.forEach(CuttableProxy::closeQuietly);
    }

    @Override
    public void close() throws IOException {
        cut();
        server.close();
    }

    private void accept() {
        while (true) {
            Socket in;
            try {
                in = server.accept();
            } catch (IOException e) {
                return; // closed
            }
            sockets.add(in);
            if (cut) {
                closeQuietly(in);
                continue;
            }
            Socket out = new Socket();
            sockets.add(out);
            try {
                out.connect(target, 10_000);
            } catch (IOException e) {
                closeQuietly(in);
                closeQuietly(out);
                continue;
            }
            pump(in, out);
            pump(out, in);
        }
    }

    private void pump(Socket from, Socket to) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[64 * 1024];
            try {
                InputStream i = from.getInputStream();
                OutputStream o = to.getOutputStream();
                int n;
                // the flag is read after every read and before its write: bytes read after cut() are dropped
                while ((n = i.read(buf)) >= 0 && !cut) {
                    o.write(buf, 0, n);
                    o.flush();
                }
            } catch (IOException e) {
                // one side went away, or cut() closed them
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        }, "proxy-pump-" + from.getPort() + "-" + to.getPort());
        t.setDaemon(true);
        t.start();
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // closing anyway
        }
    }
}
