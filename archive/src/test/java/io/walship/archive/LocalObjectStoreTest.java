package io.walship.archive;

import java.nio.file.Path;

import org.junit.jupiter.api.io.TempDir;

class LocalObjectStoreTest extends ObjectStoreContract {
    @TempDir
    Path tmp;

    @Override
    protected ObjectStore newStore() {
        return ObjectStores.open("file://" + tmp.resolve("archive/prefix"));
    }
}
