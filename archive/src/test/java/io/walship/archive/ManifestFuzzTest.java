package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

/**
 * Fuzzes the base backup manifest decoder: arbitrary bytes, and valid manifests with mutated
 * text or fields swapped for other JSON values, either decode or fail with
 * {@link CorruptObjectException} — never a NullPointerException or another surprise.
 */
class ManifestFuzzTest {
    static final BackupManifest VALID = new BackupManifest(1, 1, "00000000000000A0", 2, "0123456789abcdef",
            "2026-01-01T00:00:00Z", 1_767_225_600_000_000L, 12, "backups/00000002-00000000000000A0/image-1a2b3c4d.zst",
            "zstd", 49_152, 1_000, "a".repeat(64), "b".repeat(64), 7, "2026-01-01T00:00:01Z");

    static BackupManifest readStrict(byte[] data) {
        return BackupManifest.read(new ByteArrayInputStream(data), "backups/00000002-00000000000000A0/manifest.json");
    }

    static void decode(byte[] data) {
        try {
            BackupManifest.read(new ByteArrayInputStream(data), "backups/00000002-00000000000000A0/manifest.json");
        } catch (CorruptObjectException expected) {
            // the documented failure
        }
    }

    @Property(tries = 2_000)
    void arbitraryBytesOnlyEverFailAsCorruptObjects(@ForAll @Size(max = 300) byte[] data) {
        decode(data);
    }

    @Property(tries = 1_000)
    void arbitraryTextOnlyEverFailsAsCorruptObjects(@ForAll @Size(max = 200) String text) {
        decode(text.getBytes(StandardCharsets.UTF_8));
    }

    @Provide
    Arbitrary<String> jsonValues() {
        return Arbitraries.of("null", "0", "-1", "1", "2147483648", "9223372036854775808", "1e400", "\"\"", "\"x\"",
                "\"00000000000000A0\"", "\"zzzz\"", "[]", "{}", "true", "[[[[[]]]]]", "\"../../etc/passwd\"");
    }

    @Property(tries = 2_000, edgeCases = EdgeCasesMode.NONE)
    void manifestsWithAFieldReplacedOnlyEverFailAsCorruptObjects(
            @ForAll("fields") String field, @ForAll("jsonValues") String value) {
        String json = new String(VALID.toJson(), StandardCharsets.UTF_8);
        String replaced = json.replaceFirst("(\"" + field + "\" : )(\"[^\"]*\"|[-0-9]+)", "$1" + java.util.regex.Matcher.quoteReplacement(value));
        decode(replaced.getBytes(StandardCharsets.UTF_8));
    }

    @Provide
    Arbitrary<String> fields() {
        return Arbitraries.of("formatVersion", "imageFormat", "lsn", "timeline", "systemId", "commitTime",
                "commitTimeMicros", "pageCount", "imageKey", "codec", "imageBytes", "objectBytes", "imageSha256",
                "digestSha256", "digestPairs", "createdAt");
    }

    @Property(tries = 2_000, edgeCases = EdgeCasesMode.NONE)
    void mutatedManifestsOnlyEverFailAsCorruptObjects(@ForAll("positions") int pos, @ForAll byte value, @ForAll boolean cut) {
        byte[] b = VALID.toJson();
        int at = pos % b.length;
        if (cut) {
            b = java.util.Arrays.copyOf(b, at);
        } else {
            b[at] = value;
        }
        decode(b);
    }

    @Provide
    Arbitrary<Integer> positions() {
        return Arbitraries.integers().between(0, 100_000);
    }

    @Property(tries = 10)
    void theValidManifestDecodes(@ForAll boolean unused) {
        assertEquals(VALID, BackupManifest.read(new ByteArrayInputStream(VALID.toJson()), "k"));
    }

    /** Found by this fuzzer: JSON documents that are not objects ("null" decoded to no object at all). */
    @net.jqwik.api.Example
    void jsonThatIsNotAnObjectIsCorrupt() {
        for (String doc : new String[] {"null", "[]", "1", "\"text\"", "true", "{}", ""}) {
            org.junit.jupiter.api.Assertions.assertThrows(CorruptObjectException.class,
                    () -> readStrict(doc.getBytes(StandardCharsets.UTF_8)), doc);
        }
    }

    /** The field replacement really changes the document (so the property tests what it says). */
    @net.jqwik.api.Example
    void fieldReplacementChangesTheDocument() {
        String json = new String(VALID.toJson(), StandardCharsets.UTF_8);
        for (String f : new String[] {"timeline", "lsn"}) {
            String replaced = json.replaceFirst("(\"" + f + "\" : )(\"[^\"]*\"|[-0-9]+)", "$1null");
            org.junit.jupiter.api.Assertions.assertNotEquals(json, replaced, f);
        }
    }
}
