package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Help texts are sentences: every command's summary (its header, or else its first description
 * string: what {@code --help} lists) is one whole sentence, and a description is paragraphs, one string each,
 * that picocli wraps; {@code %n} only opens a paragraph, never breaks a sentence.
 */
class HelpTextTest {
    private static List<CommandLine> allCommands(CommandLine cl) {
        List<CommandLine> all = new ArrayList<>();
        all.add(cl);
        for (CommandLine sub : cl.getSubcommands().values()) {
            all.addAll(allCommands(sub));
        }
        return all;
    }

    private static boolean endsASentence(String text) {
        return text.endsWith(".") || text.endsWith("?") || text.endsWith("!");
    }

    /** The paragraph without a {@code %n} that opens or closes it; refuses a line break anywhere else. */
    private static String paragraph(String where, String raw, boolean first) {
        String p = first ? raw : raw.replaceFirst("^%n", "").replaceFirst("%n$", "");
        assertFalse(p.contains("%n") || p.contains("\n") || p.contains("\r"),
                where + ": a hard line break inside a paragraph: \"" + raw + "\"");
        assertTrue(endsASentence(p.strip()), where + ": does not end a sentence, so the next string breaks it: \"" + raw + "\"");
        return p;
    }

    @Test
    void everySummaryIsOneWholeSentenceAndDescriptionsAreParagraphs() {
        for (CommandLine cl : allCommands(Main.commandLine())) {
            CommandSpec spec = cl.getCommandSpec();
            String name = spec.qualifiedName();
            // the summary is the header if there is one (picocli's own help command), else the first description string
            String[] header = spec.usageMessage().header();
            String[] description = spec.usageMessage().description();
            assertTrue(header.length <= 1, name + ": a one-line header");
            assertTrue(header.length + description.length > 0, name + " has no description");
            String summary = paragraph(name + " summary", header.length == 1 ? header[0] : description[0], true);
            assertTrue(Character.isUpperCase(summary.charAt(0)), name + ": the summary starts a sentence: " + summary);
            for (int i = header.length == 1 ? 0 : 1; i < description.length; i++) {
                paragraph(name + " description[" + i + "]", description[i], false);
            }
            for (ArgSpec arg : spec.args()) {
                String[] d = arg.description();
                String argName = name + " " + arg.paramLabel();
                assertTrue(d.length <= 1, argName + ": one string per option description");
                if (d.length == 1) {
                    paragraph(argName, d[0], true);
                }
            }
        }
    }

    /** What a user sees: in every command list, each summary ends its sentence (wrapped lines joined). */
    @Test
    void commandListsShowWholeSentences() {
        for (CommandLine cl : allCommands(Main.commandLine())) {
            if (cl.getSubcommands().isEmpty()) {
                continue;
            }
            String usage = cl.getUsageMessage(CommandLine.Help.Ansi.OFF);
            String list = usage.substring(usage.indexOf("Commands:") + "Commands:".length());
            List<String> entries = new ArrayList<>();
            for (String line : list.split("\\R")) {
                if (line.isBlank()) {
                    continue;
                }
                if (line.matches("  \\S.*")) {
                    entries.add(line.strip());
                } else {
                    entries.set(entries.size() - 1, entries.get(entries.size() - 1) + " " + line.strip());
                }
            }
            assertEquals(cl.getSubcommands().size(), entries.size(), usage);
            for (String e : entries) {
                assertTrue(endsASentence(e), cl.getCommandName() + " --help cuts a summary: \"" + e + "\"");
            }
        }
    }
}
