package io.walship.protocol;

import java.io.IOException;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/**
 * The one JSON mapper of walship's HTTP answers, client reads and command output. Readers are
 * tolerant (unknown fields are ignored, so a newer node can add fields); writers are compact.
 * The archive's own documents (manifests, timeline histories) have their mapper in the archive
 * module, which does not depend on this one. Thread-safe: the mapper is configured once here and
 * never exposed for reconfiguration.
 */
public final class Json {
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private Json() {
    }

    /** Compact JSON of {@code value} (records, maps, lists, DTOs of this package). */
    public static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + value.getClass().getSimpleName() + " as JSON", e);
        }
    }

    /** Same as {@link #write}, as UTF-8 bytes. */
    public static byte[] writeBytes(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + value.getClass().getSimpleName() + " as JSON", e);
        }
    }

    /** Reads one {@code type} from JSON text or UTF-8 bytes; malformed input is an {@link IOException}. */
    public static <T> T read(byte[] json, Class<T> type) throws IOException {
        return MAPPER.readValue(json, type);
    }

    public static <T> T read(String json, Class<T> type) throws IOException {
        return MAPPER.readValue(json, type);
    }

    /** The JSON as a tree, for answers read field by field. */
    public static JsonNode tree(String json) throws IOException {
        return MAPPER.readTree(json);
    }
}
