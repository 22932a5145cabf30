package io.walship.shipper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;

import io.walship.archive.Codec;
import io.walship.archive.ForwardingObjectStore;
import io.walship.archive.StorageException;
import io.walship.wal.IntegrityException;
import io.walship.wal.WalCorruptionTest;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.wal.Durability;
import io.walship.wal.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Review of ship-fast: the lease gate's timing and what an idle run allocates. */
class ShipFastReviewTest {
    @TempDir
    Path tmp;

    /** Whether some thread is inside Segment.Builder.build (a segment being compressed) now. */
    private static boolean compressing() {
        for (Map.Entry<Thread, StackTraceElement[]> t : Thread.getAllStackTraces().entrySet()) {
            for (StackTraceElement f : t.getValue()) {
                if (f.getClassName().equals("io.walship.archive.Segment$Builder") && f.getMethodName().equals("build")) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * The gate (a leader's lease) is documented as asked "right before each upload" so that "a
     * lease that lapsed while this segment was built stops it"; it must therefore not be asked
     * while the segment it guards is still being compressed. One segment only, so any compression
     * running when the gate is asked is that segment's own.
     */
    @Test
    void theGateIsAskedOnlyOnceTheSegmentIsBuilt() throws Exception {
        long seed = 42;
        System.out.println("seed " + seed);
        Random rnd = new Random(seed);
        Path data = tmp.resolve("data");
        try (Store store = Store.open(data); ObjectStore archive = new LocalObjectStore(tmp.resolve("archive"))) {
            byte[] v = new byte[1000];
            for (int i = 0; i < 12_000; i++) {
                rnd.nextBytes(v); // incompressible: compressing 12 MB takes a while
                store.put(("k" + i).getBytes(StandardCharsets.UTF_8), v, Durability.ASYNC);
            }
            store.put("sync".getBytes(StandardCharsets.UTF_8), new byte[1]);
            List<Boolean> askedWhileCompressing = new CopyOnWriteArrayList<>();
            try (WalShipper shipper = new WalShipper(data, archive, new WalShipper.Options(Codec.ZSTD, 1L << 30))) {
                WalShipper.Result r = shipper.shipOnce(() -> {
                    askedWhileCompressing.add(compressing());
                    return null;
                });
                assertEquals(1, r.segments(), r.toString());
            }
            assertEquals(List.of(false), askedWhileCompressing,
                    "the gate was asked while its segment was still being compressed: a lease lapsing during the"
                            + " compression does not stop the upload");
        }
    }

    /**
     * A run that finds nothing new (every tick of an idle leader) should not allocate a segment
     * body: main allocated one only once an entry was read.
     */
    @Test
    void anIdleRunAllocatesNoSegmentBody() throws Exception {
        Path data = tmp.resolve("data");
        try (Store store = Store.open(data); ObjectStore archive = new LocalObjectStore(tmp.resolve("archive"))) {
            for (int i = 0; i < 100; i++) {
                store.put(("k" + i).getBytes(StandardCharsets.UTF_8), new byte[100], Durability.ASYNC);
            }
            store.put("sync".getBytes(StandardCharsets.UTF_8), new byte[1]);
            try (WalShipper shipper = new WalShipper(data, archive, WalShipper.Options.defaults())) {
                assertEquals(1, shipper.shipOnce().segments());
                for (int i = 0; i < 5; i++) {
                    long before = io.walship.archive.Segment.Builder.bodyBytesAllocated();
                    assertEquals(0, shipper.shipOnce().segments());
                    long body = io.walship.archive.Segment.Builder.bodyBytesAllocated() - before;
                    assertEquals(0, body, "an idle run allocated a segment body of " + body + " bytes (1 MiB per tick)");
                }
            }
        }
    }

    /** Whether {@code t} is in the pipeline's finish (the reading loop ended, by an exception here). */
    private static boolean finishing(Thread t) {
        for (StackTraceElement f : t.getStackTrace()) {
            if (f.getClassName().endsWith("WalShipper$Uploads") && f.getMethodName().equals("finish")) {
                return true;
            }
        }
        return false;
    }

    /**
     * A corrupt WAL entry (exit 3, "never skip a corrupt entry") found while an earlier segment's
     * upload is still under way must not be replaced by that upload's failure: the caller (and
     * ShipLoop, which treats a GateClosedException as a mere pause) must learn of the corruption.
     */
    @Test
    void aCorruptEntryIsNotMaskedByAFailingUploadInFlight() throws Exception {
        Path data = tmp.resolve("data");
        long victim;
        try (Store store = Store.open(data)) {
            for (int i = 0; i < 300; i++) {
                store.put(("k" + i).getBytes(StandardCharsets.UTF_8), new byte[200], Durability.ASYNC);
            }
            store.put("sync".getBytes(StandardCharsets.UTF_8), new byte[1]);
            victim = 60; // in the second segment of 8 KiB
        }
        WalCorruptionTest.flipByteInEntry(data, victim);
        Thread caller = Thread.currentThread();
        try (ObjectStore local = new LocalObjectStore(tmp.resolve("archive"))) {
            ObjectStore archive = new ForwardingObjectStore(local) {
                @Override
                public void create(String key, java.io.InputStream content) {
                    if (key.startsWith("wal/")) {
                        long deadline = System.nanoTime() + 20_000_000_000L;
                        while (!finishing(caller) && System.nanoTime() < deadline) {
                            Thread.onSpinWait();
                        }
                        throw new StorageException("injected: the upload of " + key + " failed");
                    }
                    super.create(key, content);
                }
            };
            try (WalShipper shipper = new WalShipper(data, archive, new WalShipper.Options(Codec.ZSTD, 8 << 10))) {
                RuntimeException e = assertThrows(RuntimeException.class, shipper::shipOnce);
                boolean told = e instanceof IntegrityException;
                for (Throwable s : e.getSuppressed()) {
                    told |= s instanceof IntegrityException;
                }
                assertTrue(told, "the corrupt entry at LSN " + victim + " was lost behind: " + e);
            }
        }
    }
}
