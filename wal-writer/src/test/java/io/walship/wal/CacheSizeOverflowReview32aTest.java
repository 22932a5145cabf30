package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/**
 * review32a: {@link StoreOptions#parseCacheSize} says a size above 8 TiB is refused, and every {@code --cache-size}
 * (leader, restore; env WALSHIP_CACHE_SIZE) goes through it. {@link Units#bytes} shifts the number by its unit
 * without an overflow check, so a size far above 8 TiB wraps around to a small positive one and is accepted as
 * that: 17179869185GiB (2^34 GiB + 1 GiB) is taken as 1 GiB, 17179869440GiB as 256 GiB, 18014398509482240KiB
 * (2^54 KiB + 256 KiB) as 256 KiB; a leader given the first runs with a 1 GiB cache, a restore replays with it.
 * (A size that wraps to a negative one is refused as "below the minimum", which it is not.)
 */
class CacheSizeOverflowReview32aTest {
    @Test
    void aSizeThatOverflowsIsRefusedNotWrappedAround() {
        for (String size : new String[] {"17179869185GiB", "17179869440GiB", "18014398509482240KiB"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> System.out.println(size + " -> " + StoreOptions.parseCacheSize(size) + " bytes"), size);
            org.junit.jupiter.api.Assertions.assertFalse(e.getMessage().contains("below the minimum"),
                    size + ": a size far above the maximum is called below the minimum: " + e.getMessage());
        }
    }
}
