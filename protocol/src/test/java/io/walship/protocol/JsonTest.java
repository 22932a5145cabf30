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
        StatusResponse plain = new StatusResponse("leader", "1f", 1, "0000000000000002", "0000000000000002",
                "0000000000000001", "/d", 0, 0, null);
        assertEquals("{\"role\":\"leader\",\"systemId\":\"1f\",\"timeline\":1,\"lastLsn\":\"0000000000000002\","
                + "\"durableLsn\":\"0000000000000002\",\"checkpointLsn\":\"0000000000000001\",\"dataDir\":\"/d\","
                + "\"archiveLagBytes\":0,\"archiveLagLsns\":0}", Json.write(plain));
        StatusResponse shipping = new StatusResponse("leader", "1f", 1, "", "", "", "/d", 0, 0,
                new StatusResponse.Archive("file:///a", null, -1, -1, null));
        assertTrue(Json.write(shipping).endsWith("\"archive\":{\"archive\":\"file:///a\",\"archivedUpTo\":null,"
                + "\"lagLsns\":-1,\"lagSeconds\":-1.0,\"lastError\":null}}"), Json.write(shipping));
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
