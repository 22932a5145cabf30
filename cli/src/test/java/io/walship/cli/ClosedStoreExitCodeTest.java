package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of standby6: README's exit-code table (6: "refuses writes now — closed, a standby, the archive too far
 * behind") and {@link ExitCodes#UNAVAILABLE}'s javadoc name a closed store beside the standby and the archive lag.
 * standby6 moved the standby and the lag refusals to {@code WritesRefusedException} (exit 6), but a write to a
 * closed store still throws a plain {@code WalshipException} ("store … is closed"), exit 1; over HTTP it is 503
 * like the other two. Either the closed store's refusal is a WritesRefusedException too, or the docs drop "closed".
 */
class ClosedStoreExitCodeTest {
    @TempDir
    Path tmp;

    @Test
    void aWriteToAClosedStoreIsUnavailableAsTheTableSays() throws Exception {
        Store store = Store.open(tmp.resolve("data"));
        store.close();
        RuntimeException e = assertThrows(RuntimeException.class,
                () -> store.put("k".getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8)));
        assertEquals(ExitCodes.UNAVAILABLE, ErrorReporter.exitCode(e),
                "README: a closed store's refusal is exit 6 (as HTTP 503), got " + e.getClass().getSimpleName() + ": "
                        + e.getMessage());
    }
}
