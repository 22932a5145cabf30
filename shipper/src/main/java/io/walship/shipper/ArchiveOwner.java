package io.walship.shipper;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Optional;

import io.walship.archive.CorruptObjectException;
import io.walship.archive.EncryptionKeyException;
import io.walship.archive.ObjectNotFoundException;
import io.walship.archive.ObjectStore;
import io.walship.archive.Segment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whose WAL an archive holds, as its segments' headers say: the archive's owner for a base backup
 * or a first shipment that has no archived entry of its own to compare with. The WAL decides, not
 * base backups (a stray one must not lock the owner out). A segment that cannot say is passed
 * over for the next: written before segments carried a system id (format 1), damaged, sealed with
 * a key this run was not given (an old segment after a key rotation), or pruned since the listing.
 */
final class ArchiveOwner {
    private static final Logger LOG = LoggerFactory.getLogger(ArchiveOwner.class);
    /** Segments read at most: one answers unless the archive's oldest segments cannot say. */
    static final int PROBE = 8;

    /** A segment and the store that wrote it. */
    record Owner(String key, long systemId) {
    }

    private ArchiveOwner() {
    }

    /** The writer of the first of {@code segmentKeys} (at most {@link #PROBE} read) whose header names one. */
    static Optional<Owner> of(ObjectStore store, List<String> segmentKeys) {
        for (String key : segmentKeys.subList(0, Math.min(PROBE, segmentKeys.size()))) {
            long id;
            try (InputStream in = store.getRange(key, 0, Segment.HEADER_SIZE)) {
                id = Segment.readHeader(in, key).systemId();
            } catch (ObjectNotFoundException e) {
                continue;
            } catch (CorruptObjectException | EncryptionKeyException e) {
                LOG.warn("cannot tell from {} whose WAL the archive holds: {}", key, e.getMessage());
                continue;
            } catch (IOException e) {
                throw new UncheckedIOException("read " + key + " to check whose WAL the archive holds", e);
            }
            if (id != Segment.NO_SYSTEM_ID) {
                return Optional.of(new Owner(key, id));
            }
        }
        return Optional.empty();
    }
}
