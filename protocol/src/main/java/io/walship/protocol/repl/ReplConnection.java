package io.walship.protocol.repl;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.Objects;

import javax.net.SocketFactory;

import io.walship.protocol.HostPort;

/**
 * One replication connection, either end: frames in and out of a socket (docs/PROTOCOL.md).
 * Sockets come from a {@link SocketFactory} (the client side) or a {@code ServerSocketFactory}
 * (the listening side), the one place where TLS will wrap them.
 *
 * <p>Threads: one thread reads ({@link #read}); any number may write ({@link #write} is
 * serialised, each frame is flushed whole). {@link #close} may be called from any thread and makes
 * a blocked read or write fail at once.
 */
public final class ReplConnection implements Closeable {
    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    private final String remote;
    private volatile boolean closed;

    private ReplConnection(Socket socket) throws IOException {
        this.socket = socket;
        socket.setTcpNoDelay(true);
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 64 << 10));
        this.out = new BufferedOutputStream(socket.getOutputStream(), 64 << 10);
        SocketAddress a = socket.getRemoteSocketAddress();
        this.remote = a instanceof InetSocketAddress i
                ? new HostPort(i.getAddress() != null ? i.getAddress().getHostAddress() : i.getHostString(),
                i.getPort()).toString()
                : String.valueOf(a);
    }

    /**
     * Connects to a leader.
     *
     * @param factory        {@link SocketFactory#getDefault()} for plain TCP
     * @param connectTimeout how long the TCP connect may take
     */
    public static ReplConnection connect(SocketFactory factory, HostPort leader, Duration connectTimeout)
            throws IOException {
        Objects.requireNonNull(factory, "factory");
        Socket s = factory.createSocket();
        try {
            s.connect(leader.resolve(), (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis()));
            return new ReplConnection(s);
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** Wraps a socket a server accepted. */
    public static ReplConnection accepted(Socket socket) throws IOException {
        try {
            return new ReplConnection(socket);
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    /**
     * How long {@link #read} waits for the next byte before it throws
     * {@link java.net.SocketTimeoutException}; zero waits for ever.
     */
    public void readTimeout(Duration timeout) throws IOException {
        socket.setSoTimeout((int) Math.max(0, Math.min(Integer.MAX_VALUE, timeout.toMillis())));
    }

    /**
     * The next frame. Reader thread only.
     *
     * @throws java.io.EOFException            the peer closed the connection
     * @throws ProtocolException               the peer sent something that is not a valid frame
     * @throws java.net.SocketTimeoutException nothing arrived within the {@link #readTimeout}
     */
    public Frame read() throws IOException {
        return FrameCodec.read(in);
    }

    /**
     * The next frame, whose length field may be at most {@code maxLength}
     * ({@link FrameCodec#read(java.io.DataInput, int)}). Reader thread only.
     */
    public Frame read(int maxLength) throws IOException {
        return FrameCodec.read(in, maxLength);
    }

    /** Sends one frame and flushes it. */
    public void write(Frame frame) throws IOException {
        byte[] bytes = FrameCodec.encode(frame);
        synchronized (out) {
            out.write(bytes);
            out.flush();
        }
    }

    /** The peer's address as {@code HOST:PORT}. */
    public String remote() {
        return remote;
    }

    public boolean isClosed() {
        return closed;
    }

    /** Closes the socket; a read or write blocked in another thread fails at once. Idempotent. */
    @Override
    public void close() {
        closed = true;
        try {
            socket.close();
        } catch (IOException e) {
            // nothing left to do with a socket that failed to close
        }
    }

    @Override
    public String toString() {
        return "replication connection with " + remote;
    }
}
