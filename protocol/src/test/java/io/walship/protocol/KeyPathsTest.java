package io.walship.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

class KeyPathsTest {
    @Test
    void encodesEveryByteOutsideTheUnreservedSet() {
        assertEquals("user%2F1", KeyPaths.encode("user/1".getBytes(StandardCharsets.UTF_8)));
        assertEquals("a-b.c_d~e%20%25%2B", KeyPaths.encode("a-b.c_d~e %+".getBytes(StandardCharsets.UTF_8)));
        assertEquals("%00%FF", KeyPaths.encode(new byte[] {0, (byte) 0xFF}));
    }

    @Test
    void decodeReversesEncodeAndKeepsPlus() {
        byte[] all = new byte[256];
        for (int i = 0; i < all.length; i++) {
            all[i] = (byte) i;
        }
        assertArrayEquals(all, KeyPaths.decode(KeyPaths.encode(all)));
        assertArrayEquals("a+b/c".getBytes(StandardCharsets.UTF_8), KeyPaths.decode("a+b%2fc"));
        for (String bad : new String[] {"%", "a%4", "%zz", "%4g"}) {
            assertThrows(IllegalArgumentException.class, () -> KeyPaths.decode(bad), bad);
        }
    }
}
