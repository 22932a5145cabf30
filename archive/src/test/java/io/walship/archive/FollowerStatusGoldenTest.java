package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code followers/NODE.json} as docs/FORMAT.md ("Follower status") shows it: the golden file keeps
 * reading and the record keeps writing exactly these bytes; node ids become valid keys; a follower
 * replaces its own object, and an unreadable one is skipped when all are read.
 */
class FollowerStatusGoldenTest {
    static final FollowerStatus GOLDEN = new FollowerStatus(1, "f2", 3, "00000000000A41F3", "http://10.0.0.7:7080",
            "10.0.0.7:7081", 1_780_000_004_500_000L, "auto");

    @TempDir
    Path tmp;

    private static byte[] golden() throws Exception {
        try (InputStream in = FollowerStatusGoldenTest.class.getResourceAsStream("/golden/follower-status-v1.json")) {
            return in.readAllBytes();
        }
    }

    @Test
    void theGoldenStatusReadsAndWritesTheSameBytes() throws Exception {
        byte[] bytes = golden();
        assertEquals(GOLDEN, FollowerStatus.read(bytes, "followers/f2.json"));
        assertArrayEquals(bytes, GOLDEN.toJson(), "the writer must keep producing the documented bytes:\n"
                + new String(GOLDEN.toJson(), StandardCharsets.UTF_8));
        assertEquals("followers/f2.json", FollowerStatus.key("f2"));
        assertTrue(ArchiveLayout.isMutable(FollowerStatus.key("f2")));
    }

    @Test
    void nodeIdsBecomeValidKeysOneToOne() {
        String k = FollowerStatus.key("db1.example:/srv/walship");
        assertEquals("followers/db1.example=3A=2Fsrv=2Fwalship.json", k);
        assertEquals(k, Keys.check(k));
        assertEquals("followers/=2Ehidden.json", FollowerStatus.key(".hidden"));
        assertTrue(!FollowerStatus.key("a=b").equals(FollowerStatus.key("a:b")));
        assertEquals("followers/a=3Db.json", FollowerStatus.key("a=b"));
    }

    @Test
    void aFollowerReplacesItsOwnObjectAndAnUnreadableOneIsSkipped() throws Exception {
        try (ObjectStore store = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            FollowerStatus.publish(store, GOLDEN);
            FollowerStatus later = new FollowerStatus(1, "f2", 3, "00000000000A41F4", GOLDEN.httpUrl(), GOLDEN.replUrl(),
                    GOLDEN.writtenAtMicros() + 1, FollowerStatus.MANUAL);
            FollowerStatus.publish(store, later);
            store.createReturningEtag("followers/bad.json", "{\"formatVersion\" : 9}".getBytes(StandardCharsets.UTF_8));
            List<String> skipped = new ArrayList<>();
            assertEquals(List.of(later), FollowerStatus.readAll(store, skipped));
            assertTrue(!later.candidate(), "a manual follower is no candidate");
            assertEquals(1, skipped.size(), skipped.toString());
            assertTrue(skipped.get(0).contains("followers/bad.json"), skipped.toString());
        }
    }

    @Test
    void anotherVersionOrAMissingNodeIsRefusedNamingTheKey() throws Exception {
        String text = new String(golden(), StandardCharsets.UTF_8);
        CorruptObjectException v = assertThrows(CorruptObjectException.class, () -> FollowerStatus.read(
                text.replace("\"formatVersion\" : 1", "\"formatVersion\" : 2").getBytes(), "followers/f2.json"));
        assertTrue(v.getMessage().contains("followers/f2.json") && v.getMessage().contains("version 2"), v.getMessage());
        assertThrows(CorruptObjectException.class, () -> FollowerStatus.read(
                text.replace("\"nodeId\" : \"f2\"", "\"nodeId\" : \"\"").getBytes(), "followers/f2.json"));
    }

    @Test
    void anObjectWrittenBeforeTheFailoverFieldReadsAsAnAutoFollower() throws Exception {
        String text = new String(golden(), StandardCharsets.UTF_8);
        String old = text.replace(",\n  \"failover\" : \"auto\"", "");
        assertTrue(!old.contains("failover"), old);
        FollowerStatus s = FollowerStatus.read(old.getBytes(StandardCharsets.UTF_8), "followers/f2.json");
        assertEquals(GOLDEN, s);
        assertTrue(s.candidate());
    }

    /** Each of these used to be read, then failed every election that met it (or kept itself fresh). */
    @Test
    void garbageFieldsAreRefusedNamingTheKey() throws Exception {
        String text = new String(golden(), StandardCharsets.UTF_8);
        String[][] bad = {
            {"\"00000000000A41F3\"", "\"zz\""},
            {"\"00000000000A41F3\"", "\"00000000000A41F3F\""},
            {"\"00000000000A41F3\"", "\"FFFFFFFFFFFFFFFF\""},
            {"\"00000000000A41F3\"", "\"0x41F3\""},
            {"\"00000000000A41F3\"", "17"},
            {"\"auto\"", "\"sometimes\""},
            {"\"http://10.0.0.7:7080\"", "\"not a url\""},
            {"\"http://10.0.0.7:7080\"", "\"file:///etc/passwd\""},
            {"1780000004500000", "0"},
            {"1780000004500000", "\"soon\""},
            {"\"nodeId\" : \"f2\"", "\"nodeId\" : \"f1\""},
            {"\"timeline\" : 3", "\"timeline\" : 0"},
        };
        for (String[] b : bad) {
            String json = text.replace(b[0], b[1]);
            assertTrue(!json.equals(text), b[0]);
            CorruptObjectException e = assertThrows(CorruptObjectException.class,
                    () -> FollowerStatus.read(json.getBytes(StandardCharsets.UTF_8), "followers/f2.json"), json);
            assertTrue(e.getMessage().contains("followers/f2.json"), e.getMessage());
        }
        assertEquals(0xA41F3L, FollowerStatus.read(golden(), "followers/f2.json").flushed());
    }

    @Test
    void anOversizedObjectIsSkippedUnreadAndTheOthersAreRead() throws Exception {
        try (ObjectStore store = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            FollowerStatus.publish(store, GOLDEN);
            String big = new String(GOLDEN.toJson(), StandardCharsets.UTF_8).replace("f2", "f9")
                    .replace("{", "{" + " ".repeat(FollowerStatus.MAX_BYTES));
            store.createReturningEtag(FollowerStatus.key("f9"), big.getBytes(StandardCharsets.UTF_8));
            List<String> skipped = new ArrayList<>();
            assertEquals(List.of(GOLDEN), FollowerStatus.readAll(store, skipped));
            assertEquals(1, skipped.size(), skipped.toString());
            assertTrue(skipped.get(0).contains("followers/f9.json") && skipped.get(0).contains("bytes"), skipped.toString());
            assertThrows(CorruptObjectException.class,
                    () -> FollowerStatus.read(big.getBytes(StandardCharsets.UTF_8), "followers/f9.json"));
        }
    }
}
