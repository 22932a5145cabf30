package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;

import org.junit.jupiter.api.Test;

/** {@code walship --help} names every exit code {@link ExitCodes} defines, not only the first four. */
class HelpExitCodesTest {
    @Test
    void theTopLevelHelpNamesEveryExitCode() throws IllegalAccessException {
        CliRunner.Result r = CliRunner.run("--help");
        assertEquals(0, r.exit(), r.err());
        String help = r.out().replaceAll("\\s+", " ");
        int codes = 0;
        for (Field f : ExitCodes.class.getDeclaredFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == int.class) {
                int code = f.getInt(null);
                String listed = (code == 0 ? "Exit codes: " : ", ") + code + " ";
                assertTrue(help.contains(listed), "--help does not list exit code " + code + " (" + f.getName() + "): " + help);
                codes++;
            }
        }
        assertEquals(8, codes, "ExitCodes changed: update Main's description and this test");
    }
}
