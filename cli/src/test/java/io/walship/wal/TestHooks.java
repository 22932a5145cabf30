package io.walship.wal;

/** Reaches the store's package-private crash hook from the cli tests. */
public final class TestHooks {
    private TestHooks() {
    }

    public static void abandon(Store store) {
        store.abandonForTesting();
    }
}
