package io.walship.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

import io.walship.protocol.BadInputException;
import io.walship.protocol.DigestResponse;
import io.walship.protocol.Escaping;
import io.walship.protocol.Json;
import io.walship.wal.BTree;
import io.walship.wal.Lsn;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code walship kv}: read and write keys on a stopped data directory or a running leader. */
@Command(name = "kv", mixinStandardHelpOptions = true,
        description = "Read and write keys of a stopped store (--data DIR) or through a running leader (--url URL).",
        subcommands = {KvCommand.Put.class, KvCommand.Get.class, KvCommand.Del.class, KvCommand.Scan.class,
                KvCommand.Dump.class, KvCommand.Digest.class})
final class KvCommand {
    /** How scan and dump print bytes (protocol's Escaping), as a paragraph of their help. */
    private static final String ESCAPES = "%nTab, newline, carriage return and backslash are escaped as \\t \\n \\r \\\\;"
            + " other control bytes and bytes that are not UTF-8 as \\xNN.";

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** A key (and value) from the command line, checked against the store's limits: exit 2 if over. */
    private static byte[] checked(String key, String value) {
        byte[] k = utf8(key);
        try {
            BTree.checkKey(k);
            if (value != null) {
                BTree.checkValue(utf8(value));
            }
        } catch (IllegalArgumentException e) {
            throw new BadInputException(e.getMessage());
        }
        return k;
    }

    /** Shared by the subcommands: where the store is, and the output. */
    abstract static class Base implements Callable<Integer> {
        @Mixin
        TargetOptions target;
        @Spec
        CommandSpec spec;

        PrintWriter out() {
            return spec.commandLine().getOut();
        }

        @Override
        public final Integer call() {
            try (KvBackend kv = target.open(writes())) {
                return run(kv);
            }
        }

        /** Whether this command writes (and so may create a store at {@code --data}); reads never do. */
        boolean writes() {
            return false;
        }

        abstract int run(KvBackend kv);
    }

    @Command(name = "put", description = "Set KEY to VALUE and print the commit LSN.", mixinStandardHelpOptions = true)
    static final class Put extends Base {
        @Parameters(index = "0", paramLabel = "KEY", description = "The key, as UTF-8 text.")
        String key;
        @Parameters(index = "1", paramLabel = "VALUE", description = "The value, as UTF-8 text.")
        String value;

        @Override
        boolean writes() {
            return true;
        }

        @Override
        int run(KvBackend kv) {
            out().println(Lsn.format(kv.put(checked(key, value), utf8(value))));
            return ExitCodes.OK;
        }
    }

    @Command(name = "get", description = "Print KEY's value, or exit with code 1 if it is absent.",
            mixinStandardHelpOptions = true)
    static final class Get extends Base {
        @Parameters(index = "0", paramLabel = "KEY", description = "The key, as UTF-8 text.")
        String key;
        @Option(names = "--lsn", description = "Also print the LSN the read reflects (on stderr).")
        boolean showLsn;

        @Override
        int run(KvBackend kv) {
            Store.Read r = kv.get(checked(key, null));
            if (showLsn) {
                spec.commandLine().getErr().println("lsn " + Lsn.format(r.lsn()));
            }
            if (r.value() == null) {
                throw new CliException(ExitCodes.FAILURE, "key not found: " + key);
            }
            out().println(new String(r.value(), StandardCharsets.UTF_8));
            return ExitCodes.OK;
        }
    }

    @Command(name = "del", description = "Delete KEY and print the commit LSN.", mixinStandardHelpOptions = true)
    static final class Del extends Base {
        @Parameters(index = "0", paramLabel = "KEY", description = "The key, as UTF-8 text.")
        String key;

        @Override
        boolean writes() {
            return true;
        }

        @Override
        int run(KvBackend kv) {
            out().println(Lsn.format(kv.delete(checked(key, null))));
            return ExitCodes.OK;
        }
    }

    @Command(name = "scan", mixinStandardHelpOptions = true,
            description = {"Print the pairs with FROM <= key < TO as key<TAB>value lines, in key order.", ESCAPES})
    static final class Scan extends Base {
        @Option(names = "--from", paramLabel = "KEY", description = "First key (inclusive).")
        String from;
        @Option(names = "--to", paramLabel = "KEY", description = "End key (exclusive).")
        String to;
        @Option(names = "--prefix", paramLabel = "P", description = "Only keys starting with P.")
        String prefix;
        @Option(names = "--limit", paramLabel = "N", description = "At most N pairs.")
        long limit = Long.MAX_VALUE;

        @Override
        int run(KvBackend kv) {
            if (limit < 0) {
                throw new BadInputException("--limit must be >= 0, got " + limit);
            }
            byte[] f = from == null ? null : utf8(from);
            byte[] t = to == null ? null : utf8(to);
            if (prefix != null) {
                if (from != null || to != null) {
                    throw new BadInputException("--prefix cannot be combined with --from/--to");
                }
                f = utf8(prefix);
                t = prefixEnd(f);
            }
            PrintWriter out = out();
            kv.scan(f, t, limit, (k, v) -> {
                out.println(Escaping.pair(k, v));
                return true;
            });
            return ExitCodes.OK;
        }

        static byte[] prefixEnd(byte[] p) {
            byte[] end = p.clone();
            for (int i = end.length - 1; i >= 0; i--) {
                if (end[i] != (byte) 0xFF) {
                    end[i]++;
                    return java.util.Arrays.copyOf(end, i + 1);
                }
            }
            return null;
        }
    }

    @Command(name = "dump", mixinStandardHelpOptions = true,
            description = {"Print every pair as key<TAB>value, one per line, in key order.", ESCAPES})
    static final class Dump extends Base {
        @Override
        int run(KvBackend kv) {
            PrintWriter out = out();
            kv.scan(null, null, Long.MAX_VALUE, (k, v) -> {
                out.println(Escaping.pair(k, v));
                return true;
            });
            return ExitCodes.OK;
        }
    }

    @Command(name = "digest", mixinStandardHelpOptions = true,
            description = {"Print the SHA-256 of the content and the LSN it reflects.",
                    "%nEqual digests at equal LSNs mean equal stores."})
    static final class Digest extends Base {
        @Option(names = "--json", description = "Print JSON.")
        boolean json;

        @Override
        int run(KvBackend kv) {
            StateDigest d = kv.digest();
            if (json) {
                out().println(Json.write(new DigestResponse(Lsn.format(d.lsn()), d.pairs(), d.sha256())));
            } else {
                out().println(d.sha256() + "  lsn=" + Lsn.format(d.lsn()) + " pairs=" + d.pairs());
            }
            return ExitCodes.OK;
        }
    }
}
