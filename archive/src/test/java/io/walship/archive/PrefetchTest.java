package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrefetchTest {
    @TempDir
    Path tmp;

    @Test
    void resultsComeInTaskOrderWhateverOrderTheyFinishIn() {
        Random rnd = new Random(3);
        List<Supplier<Integer>> tasks = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            int n = i;
            int sleep = rnd.nextInt(5);
            tasks.add(() -> {
                try {
                    Thread.sleep(sleep);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                return n;
            });
        }
        try (Prefetch<Integer> p = new Prefetch<>("t", 4, 6, tasks)) {
            for (int i = 0; i < 50; i++) {
                assertEquals(i, p.next());
            }
            assertFalse(p.hasNext());
        }
    }

    @Test
    void aFailureIsRethrownForeverNothingAfterItIsHandedOut() {
        RuntimeException boom = new StorageException("boom");
        List<Supplier<Integer>> tasks = List.of(() -> 1, () -> { throw boom; }, () -> 3);
        try (Prefetch<Integer> p = new Prefetch<>("t", 2, 3, tasks)) {
            assertEquals(1, p.next());
            assertSame(boom, assertThrows(StorageException.class, p::next));
            assertSame(boom, assertThrows(StorageException.class, p::next));
        }
    }

    @Test
    void parallelGetReassemblesAnObjectFromRanges() throws Exception {
        byte[] data = new byte[1_000_003];
        new Random(1).nextBytes(data);
        try (ObjectStore s = new LocalObjectStore(tmp)) {
            s.create("big", new ByteArrayInputStream(data));
            for (int parallel : new int[] {1, 3}) {
                try (InputStream in = new ParallelGet(s, "big", data.length, parallel, 65_536)) {
                    assertEquals(java.util.Arrays.hashCode(data), java.util.Arrays.hashCode(in.readAllBytes()));
                }
            }
            // a listing that promises more than the object holds is a corrupt object, never a short read
            try (InputStream in = new ParallelGet(s, "big", data.length + 10, 2, 65_536)) {
                assertThrows(CorruptObjectException.class, in::readAllBytes);
            }
        }
    }
}
