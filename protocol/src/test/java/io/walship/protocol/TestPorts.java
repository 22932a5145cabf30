package io.walship.protocol;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Ports for servers that a test starts in another process, where the test must name the port before
 * the process binds it.
 *
 * <p>Binding port 0 and closing the socket gives a port from the kernel's ephemeral range, and any
 * outgoing connection on the machine may take that same port as its local port before the child
 * binds it ("Address already in use": the Jepsen harness hit it in CI, and it reuses a node's ports
 * after every restart, which widens the window to whole rounds). The ports given here lie below the
 * ephemeral range, which outgoing connections never use, and are never given twice in one JVM.
 */
public final class TestPorts {
    private static final Set<Integer> GIVEN = ConcurrentHashMap.newKeySet();
    private static final int SPAN = 12_000;

    private TestPorts() {
    }

    /** A loopback port that nothing listens on now, outside the ephemeral range, not given before by this JVM. */
    public static int free() {
        int top = ephemeralLow();
        int bottom = Math.max(1024, top - SPAN);
        for (int attempt = 0; attempt < 1000; attempt++) {
            int port = bottom + ThreadLocalRandom.current().nextInt(top - bottom);
            if (!GIVEN.add(port)) {
                continue;
            }
            try (ServerSocket s = new ServerSocket()) {
                s.setReuseAddress(false);
                s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
                return port;
            } catch (IOException taken) {
                // someone listens there (or it lingers): try another
            }
        }
        throw new IllegalStateException("no free loopback port found in " + bottom + ".." + (top - 1));
    }

    /** The lowest ephemeral port (Linux's ip_local_port_range; 32768, its default, elsewhere). */
    static int ephemeralLow() {
        Path range = Path.of("/proc/sys/net/ipv4/ip_local_port_range");
        try {
            if (Files.isReadable(range)) {
                int low = Integer.parseInt(Files.readString(range).trim().split("\\s+")[0]);
                if (low > 1024 + 1000) {
                    return low;
                }
            }
        } catch (IOException | RuntimeException unreadable) {
            // fall back to the default
        }
        return 32768;
    }
}
