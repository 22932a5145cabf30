package io.walship.server;

import io.walship.wal.Durability;

/**
 * What one write waits for after it is durable on the leader (README, "Commit modes"): the mode it
 * asked for ({@code ?sync=}, never stronger than the leader's), as its {@code Walship-Sync} header
 * spells it, and how many followers must have flushed it. A node without commit modes decides
 * nothing ({@code mode} null) but keeps what the write asked for, so a leader this node becomes
 * while the write is under way (a promotion) can decide it after the commit.
 *
 * @param mode       {@code async}, {@code semi-sync} or {@code sync}; null when not decided (a node
 *                   without commit modes)
 * @param required   followers whose flush the commit waits for (0: none)
 * @param requested  the write's {@code ?sync=} (null if absent) when not decided; else null
 * @param durability the write's durability when not decided; else null
 */
public record CommitWait(String mode, int required, String requested, Durability durability) {
    /** Waits for nothing and says nothing (a node without commit modes; a durable write with no {@code ?sync=}). */
    public static final CommitWait NONE = new CommitWait(null, 0);

    public CommitWait(String mode, int required) {
        this(mode, required, null, null);
    }

    /** Not decided by this node: what the write asked for, for a leader to decide after the commit. */
    public static CommitWait undecided(String requested, Durability durability) {
        return new CommitWait(null, 0, requested, durability);
    }
}
