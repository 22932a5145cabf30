package io.walship.protocol;

/**
 * The answer to {@code POST /promote}: the node now takes writes on {@code timeline}, forked from
 * {@code previousTimeline} after {@code forkLsn} (16 hex digits). {@code fetchedEntries} entries were
 * fetched from {@code fetchedFrom} (a peer's URL; null if none was ahead) before the claim.
 */
public record PromoteResponse(int timeline, int previousTimeline, String forkLsn, String fetchedFrom,
                              long fetchedEntries) {
}
