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
 * Fuzzes the timeline history decoder: arbitrary bytes and mutated or field-swapped histories
 * either decode or fail with {@link CorruptObjectException}; a decoded one always has a parent
 * below it and a fork LSN that parses.
 */
class TimelineHistoryFuzzTest {
    static final String KEY = "timelines/00000003.history";
    static final TimelineHistory VALID = new TimelineHistory(1, 3, 2, "0000000000000033", "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:01Z", "restore --promote");

    static TimelineHistory readStrict(byte[] data) {
        return TimelineHistory.read(new ByteArrayInputStream(data), KEY);
    }

    static void decode(byte[] data) {
        TimelineHistory h;
        try {
            h = TimelineHistory.read(new ByteArrayInputStream(data), KEY);
        } catch (CorruptObjectException expected) {
            return;
        }
        assertEquals(3, h.timeline());
        if (h.parent() < 1 || h.parent() >= h.timeline()) {
            throw new AssertionError("decoded a history with parent " + h.parent());
        }
        h.forkLsnValue();
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
    Arbitrary<String> fields() {
        return Arbitraries.of("formatVersion", "timeline", "parent", "forkLsn", "forkTime", "createdAt", "reason");
    }

    @Provide
    Arbitrary<String> jsonValues() {
        return Arbitraries.of("null", "0", "-1", "1", "3", "4", "2147483648", "1e400", "\"\"", "\"FFFFFFFFFFFFFFFF\"",
                "\"ffffffffffffffff\"", "\"0000000000000033 \"", "[]", "{}", "true");
    }

    @Property(tries = 1_000, edgeCases = EdgeCasesMode.NONE)
    void historiesWithAFieldReplacedOnlyEverFailAsCorruptObjects(@ForAll("fields") String field,
                                                               @ForAll("jsonValues") String value) {
        String json = new String(VALID.toJson(), StandardCharsets.UTF_8);
        decode(json.replaceFirst("(\"" + field + "\" : )(\"[^\"]*\"|[-0-9]+)",
                "$1" + java.util.regex.Matcher.quoteReplacement(value)).getBytes(StandardCharsets.UTF_8));
    }

    @Property(tries = 2_000, edgeCases = EdgeCasesMode.NONE)
    void mutatedHistoriesOnlyEverFailAsCorruptObjects(@ForAll("positions") int pos, @ForAll byte value, @ForAll boolean cut) {
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
    void theValidHistoryDecodes(@ForAll boolean unused) {
        assertEquals(VALID, TimelineHistory.read(new ByteArrayInputStream(VALID.toJson()), KEY));
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
        for (String f : new String[] {"timeline", "forkLsn"}) {
            String replaced = json.replaceFirst("(\"" + f + "\" : )(\"[^\"]*\"|[-0-9]+)", "$1null");
            org.junit.jupiter.api.Assertions.assertNotEquals(json, replaced, f);
        }
    }
}
