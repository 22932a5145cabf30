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
        try {
            T doc = MAPPER.readValue(in, type);
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
