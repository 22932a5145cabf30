package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;

import org.junit.jupiter.api.Test;

/** {@code kv --url} gives the hint {@code backup --url} gives when nothing listens there (it said "run again with --stacktrace"). */
class UnreachableLeaderHintTest {
    private static int closedPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort(); // closed again: nothing listens there (connection refused)
        }
    }

    @Test
    void kvGetAndPutHintThatNoLeaderRunsThere() throws Exception {
        String url = "http://127.0.0.1:" + closedPort();
        for (String[] args : new String[][] {{"kv", "put", "--url", url, "k", "v"}, {"kv", "get", "--url", url, "k"}}) {
            CliRunner.Result r = CliRunner.run(args);
            assertEquals(ExitCodes.FAILURE, r.exit(), r.err());
            assertTrue(r.err().contains("connection refused"), r.err());
            assertTrue(r.err().contains("hint: is 'walship leader' running at that --url?"), r.err());
        }
    }
}
