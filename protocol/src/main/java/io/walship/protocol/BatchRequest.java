package io.walship.protocol;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * The body of {@code POST /batch}: operations committed together as one WAL entry, e.g.
 * {@code {"ops":[{"op":"put","key":"a","value":"1"},{"op":"delete","keyBase64":"Yg=="}]}}.
 * Keys and values are UTF-8 text ({@code key}, {@code value}) or base64 ({@code keyBase64},
 * {@code valueBase64}) for binary. The accessors that return bytes check the operation and
 * throw {@link BadInputException} with a one-line reason, which a server answers with 400.
 * Immutable.
 *
 * @param ops the operations, in order
 */
public record BatchRequest(List<Op> ops) {
    public static final String PUT = "put";
    public static final String DELETE = "delete";

    public BatchRequest {
        ops = ops == null ? null : List.copyOf(ops);
    }

    /** The operations, refusing a missing or empty list. */
    public List<Op> checkedOps() {
        if (ops == null || ops.isEmpty()) {
            throw new BadInputException("batch needs a non-empty \"ops\" array");
        }
        return ops;
    }

    /** One operation: {@code op} is {@value #PUT} or {@value #DELETE}. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Op(String op, String key, String value, String keyBase64, String valueBase64) {
        /** A put of binary key and value (base64 on the wire). */
        public static Op put(byte[] key, byte[] value) {
            Base64.Encoder b64 = Base64.getEncoder();
            return new Op(PUT, null, null, b64.encodeToString(key), b64.encodeToString(value));
        }

        /** A delete of a binary key (base64 on the wire). */
        public static Op delete(byte[] key) {
            return new Op(DELETE, null, null, Base64.getEncoder().encodeToString(key), null);
        }

        /** Whether this deletes; refuses an {@code op} other than put or delete. */
        public boolean deletes() {
            if (DELETE.equals(op)) {
                return true;
            }
            if (PUT.equals(op)) {
                return false;
            }
            throw new BadInputException("batch op must be \"put\" or \"delete\", got \"" + (op == null ? "" : op) + "\"");
        }

        public byte[] keyBytes() {
            return bytes("key", key, keyBase64);
        }

        public byte[] valueBytes() {
            return bytes("value", value, valueBase64);
        }

        private static byte[] bytes(String name, String text, String base64) {
            if (text != null) {
                return text.getBytes(StandardCharsets.UTF_8);
            }
            if (base64 != null) {
                try {
                    return Base64.getDecoder().decode(base64);
                } catch (IllegalArgumentException e) {
                    throw new BadInputException("\"" + name + "Base64\" is not base64");
                }
            }
            throw new BadInputException("batch op needs \"" + name + "\" (text) or \"" + name + "Base64\"");
        }
    }
}
