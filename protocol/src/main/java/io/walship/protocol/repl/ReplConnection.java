package io.walship.protocol.repl;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.Objects;

import javax.net.SocketFactory;

import io.walship.protocol.HostPort;
import io.walship.protocol.tls.Tls;

/**
 * One replication connection, either end: frames in and out of a socket (docs/PROTOCOL.md).
 * Sockets come from a {@link SocketFactory} (the client side) or a {@code ServerSocketFactory}
 * (the listening side), the one place where TLS wraps them ({@link Tls}): the frames are the same.
 *
 * <p>Threads: one thread reads ({@link #read}); any number may write ({@link #write} is
 * serialised, each frame is flushed whole). {@link #close} may be called from any thread and makes
 * a blocked read or write fail at once.
 */
public final class ReplConnection implements Closeable {
    private final Socket socket;
    /** The TCP socket under a TLS {@link #socket} (closed first, so that a close never waits), else the same. */
    private final Socket raw;
    private final DataInputStream in;
    private final OutputStream out;
    private final String remote;
    private volatile boolean closed;

    private ReplConnection(Socket socket, Socket raw) throws IOException {
        this.socket = socket;
        this.raw = raw;
        raw.setTcpNoDelay(true);
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 64 << 10));
        this.out = new BufferedOutputStream(socket.getOutputStream(), 64 << 10);
        SocketAddress a = raw.getRemoteSocketAddress();
        this.remote = a instanceof InetSocketAddress i
                ? new HostPort(i.getAddress() != null ? i.getAddress().getHostAddress() : i.getHostString(),
                i.getPort()).toString()
                : String.valueOf(a);
    }

    /**
     * Connects to a leader.
     *
     * @param factory        {@link SocketFactory#getDefault()} for plain TCP, {@link Tls#clientSockets}
     *                       for TLS (the handshake, within {@code connectTimeout} too, happens here)
     * @param connectTimeout how long the TCP connect may take
     */
    public static ReplConnection connect(SocketFactory factory, HostPort leader, Duration connectTimeout)
            throws IOException {
        Objects.requireNonNull(factory, "factory");
        int timeout = (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis());
        Socket s = factory instanceof Tls.ClientSockets ? SocketFactory.getDefault().createSocket() : factory.createSocket();
        try {
            s.connect(leader.resolve(), timeout);
            if (factory instanceof Tls.ClientSockets tls) {
                // handshaken and the leader's name verified before the first frame
                return new ReplConnection(tls.handshake(s, leader, timeout), s);
            }
            return new ReplConnection(s, s);
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** Wraps a socket a server accepted. */
    public static ReplConnection accepted(Socket socket) throws IOException {
        try {
            return new ReplConnection(socket, socket);
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    /**
     * Wraps a socket {@code listener} accepted: TLS over it when the listener came from
     * {@link Tls#serverSockets} (the handshake runs on the first {@link #read}), else plain.
     */
    public static ReplConnection accepted(ServerSocket listener, Socket socket) throws IOException {
        if (!(listener instanceof Tls.TlsServerSocket tls)) {
            return accepted(socket);
        }
        try {
            return new ReplConnection(tls.layer(socket), socket);
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

    /**
     * Whether bytes of a next frame have already arrived (buffered here or in the socket), so that
     * {@link #read} will not wait for the peer to send more than the rest of that frame: lets a
     * reader take every frame already received before it acts on them (one sync for all). Over
     * TLS only the bytes already decrypted count. Reader thread only.
     */
    public boolean hasBufferedInput() throws IOException {
        return in.available() > 0;
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
            // TCP first: an SSLSocket's close would wait for a writer blocked on a peer that does not read
            raw.close();
        } catch (IOException e) {
            // nothing left to do with a socket that failed to close
        }
        try {
            socket.close();
        } catch (IOException e) {
            // the TCP socket underneath is closed already
        }
    }

    @Override
    public String toString() {
        return "replication connection with " + remote;
    }
}
