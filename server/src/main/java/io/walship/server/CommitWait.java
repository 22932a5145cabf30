package io.walship.server;

/**
 * What one write waits for after it is durable on the leader (README, "Commit modes"): the mode it
 * asked for ({@code ?sync=}, never stronger than the leader's), as its {@code Walship-Sync} header
 * spells it, and how many followers must have flushed it.
 *
 * @param mode     {@code async}, {@code semi-sync} or {@code sync}; null on a node without commit modes
 * @param required followers whose flush the commit waits for (0: none)
 */
public record CommitWait(String mode, int required) {
    /** Waits for nothing and says nothing (a node without commit modes). */
    public static final CommitWait NONE = new CommitWait(null, 0);
}
