package io.walship.archive;

import java.io.IOException;
import java.io.InputStream;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/**
 * The JSON of the archive's own documents, base backup manifests and timeline histories
 * (docs/FORMAT.md): indented for people who open them, and tolerant of fields a newer walship
 * adds. This module depends on no other walship module, so it keeps this one mapper of its own
 * rather than the protocol module's. Thread-safe: configured once, never exposed.
 */
final class ArchiveJson {
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /**
     * For documents whose every byte is checked (retention watermarks): nothing after the document, no
     * coercion between JSON types (a string where a number belongs, or the other way round; a fraction for an integer), no null for a
     * number, no field given twice (the last value would win). Still tolerant of unknown fields, as {@link #MAPPER} is.
     */
    private static final ObjectMapper STRICT = com.fasterxml.jackson.databind.json.JsonMapper.builder()
            .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .disable(com.fasterxml.jackson.databind.MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .withCoercionConfig(com.fasterxml.jackson.databind.type.LogicalType.Textual, c -> c
                    .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.Integer,
                            com.fasterxml.jackson.databind.cfg.CoercionAction.Fail)
                    .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.Float,
                            com.fasterxml.jackson.databind.cfg.CoercionAction.Fail)
                    .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.Boolean,
                            com.fasterxml.jackson.databind.cfg.CoercionAction.Fail))
            .build();

    private ArchiveJson() {
    }

    static byte[] write(Object document) {
        try {
            return MAPPER.writeValueAsBytes(document);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write " + document.getClass().getSimpleName() + " as JSON", e);
        }
    }

    /**
     * Reads the document {@code what} (e.g. "manifest") from the object {@code key}.
     *
     * @throws CorruptObjectException naming the key if it is not valid JSON of that shape (or JSON null)
     */
    static <T> T read(InputStream in, Class<T> type, String key, String what) {
        return read(MAPPER, in, type, key, what);
    }

    /** As {@link #read(InputStream, Class, String, String)}, strictly (see {@link #STRICT}). */
    static <T> T readStrict(InputStream in, Class<T> type, String key, String what) {
        return read(STRICT, in, type, key, what);
    }

    private static <T> T read(ObjectMapper mapper, InputStream in, Class<T> type, String key, String what) {
        try {
            T doc = mapper.readValue(in, type);
            if (doc == null) {
                throw new CorruptObjectException(key, what + " is JSON null, not a " + what);
            }
            return doc;
        } catch (IOException e) {
            throw new CorruptObjectException(key, what + " is not valid JSON: "
                    + e.getMessage().lines().findFirst().orElse(""), e);
        }
    }
}
