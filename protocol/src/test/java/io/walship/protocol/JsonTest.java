package io.walship.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The DTOs' JSON as clients of earlier versions read and write it. */
class JsonTest {
    @Test
    void answersKeepTheirDocumentedShape() {
        assertEquals("{\"lsn\":\"000000000000002A\"}", Json.write(new WriteResponse("000000000000002A")));
        assertEquals("{\"lsn\":\"0000000000000005\",\"pairs\":2,\"sha256\":\"ab\"}",
                Json.write(new DigestResponse("0000000000000005", 2, "ab")));
        StatusResponse.PageCache cache = new StatusResponse.PageCache(1 << 20, 8192, 1, 3, 1, 0.75, 0);
        StatusResponse plain = new StatusResponse("leader", "1f", 1, "0000000000000002", "0000000000000002",
                "0000000000000001", "/d", new StatusResponse.ArchiveLag(0, 0, null), null, cache, false, null);
        assertEquals("{\"role\":\"leader\",\"systemId\":\"1f\",\"timeline\":1,\"lastLsn\":\"0000000000000002\","
                + "\"durableLsn\":\"0000000000000002\",\"checkpointLsn\":\"0000000000000001\",\"dataDir\":\"/d\","
                + "\"archiveLag\":{\"bytes\":0,\"lsns\":0},\"pageCache\":{\"capacityBytes\":1048576,\"usedBytes\":8192,"
                + "\"dirtyPages\":1,\"hits\":3,\"misses\":1,\"hitRatio\":0.75,\"evictions\":0},\"failed\":false}",
                Json.write(plain));
        StatusResponse shipping = new StatusResponse("leader", "1f", 1, "", "", "", "/d",
                new StatusResponse.ArchiveLag(10, 2, 1.5), new StatusResponse.Archive("file:///a", null, null), cache,
                true, "WAL sync failed");
        String json = Json.write(shipping);
        assertTrue(json.contains("\"archiveLag\":{\"bytes\":10,\"lsns\":2,\"seconds\":1.5},"
                + "\"archive\":{\"archive\":\"file:///a\",\"archivedUpTo\":null,\"lastError\":null}"), json);
        assertTrue(json.endsWith("\"failed\":true,\"failure\":\"WAL sync failed\"}"), json);
    }

    @Test
    void batchOpsReadTextOrBase64AndWriteOnlyWhatIsSet() throws IOException {
        BatchRequest b = Json.read("{\"ops\":[{\"op\":\"put\",\"key\":\"a\",\"value\":\"1\",\"extra\":true},"
                + "{\"op\":\"delete\",\"keyBase64\":\"Yg==\"}]}", BatchRequest.class);
        assertEquals(2, b.checkedOps().size());
        assertFalse(b.ops().get(0).deletes());
        assertArrayEquals("1".getBytes(StandardCharsets.UTF_8), b.ops().get(0).valueBytes());
        assertTrue(b.ops().get(1).deletes());
        assertArrayEquals("b".getBytes(StandardCharsets.UTF_8), b.ops().get(1).keyBytes());
        assertEquals("{\"ops\":[{\"op\":\"put\",\"keyBase64\":\"AA==\",\"valueBase64\":\"\"},"
                        + "{\"op\":\"delete\",\"keyBase64\":\"AQ==\"}]}",
                Json.write(new BatchRequest(List.of(BatchRequest.Op.put(new byte[] {0}, new byte[0]),
                        BatchRequest.Op.delete(new byte[] {1})))));
    }

    @Test
    void badBatchesSayWhatIsWrong() throws IOException {
        assertThrows(IllegalArgumentException.class, () -> new BatchRequest(List.of()).checkedOps());
        assertNull(Json.read("{}", BatchRequest.class).ops());
        assertThrows(IllegalArgumentException.class, () -> new BatchRequest.Op("upsert", "a", null, null, null).deletes());
        IllegalArgumentException noValue = assertThrows(IllegalArgumentException.class,
                () -> new BatchRequest.Op("put", "a", null, null, null).valueBytes());
        assertEquals("batch op needs \"value\" (text) or \"valueBase64\"", noValue.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new BatchRequest.Op("put", null, null, "%%", null).keyBytes());
        assertThrows(IOException.class, () -> Json.read("not json", BatchRequest.class));
    }
}
