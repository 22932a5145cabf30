package io.walship.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class HostPortTest {
    @Test
    void ipv4NameAndBracketedIpv6() {
        assertEquals(new HostPort("127.0.0.1", 7070), HostPort.parse("127.0.0.1:7070"));
        assertEquals(new HostPort("::1", 7070), HostPort.parse("[::1]:7070"));
        assertEquals(new HostPort("localhost", 0), HostPort.parse("localhost:0"));
        assertEquals(new HostPort("db-1.example.com", 65535), HostPort.parse("db-1.example.com:65535"));
    }

    @Test
    void printsWhatItParses() {
        for (String s : new String[] {"127.0.0.1:7070", "[::1]:7070", "localhost:0", "[fe80::1%eth0]:80"}) {
            assertEquals(s, HostPort.parse(s).toString());
        }
    }

    @Test
    void resolvesOnlyWhenAsked() {
        assertEquals(7070, HostPort.parse("[::1]:7070").resolve().getPort());
        assertTrue(HostPort.parse("127.0.0.1:0").resolve().getAddress().isLoopbackAddress());
        // parsing a name that does not resolve is fine; it is a config check, not a lookup
        assertEquals("no-such-host.invalid", HostPort.parse("no-such-host.invalid:1").host());
    }

    @Test
    void badPortsAndShapesAreRefusedNamingTheText() {
        for (String bad : new String[] {"127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:http",
                "127.0.0.1:", "127.0.0.1", ":7070", "127.0.0.1:99999999999", "::1:7070", "[::1]7070", "[]:7070",
                "[::1:7070", ""}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HostPort.parse(bad), bad);
            assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new HostPort("h", 70000));
    }
}
