package io.walship.shipper;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The interrupted image uploads of resumable base backups (docs/OPERATIONS.md "Resumable base
 * backups"): which one a backup resumes, and which ones will never be resumed and are discarded.
 * Stateless.
 */
final class PendingImages {
    private static final Logger LOG = LoggerFactory.getLogger(PendingImages.class);
    /** A pending upload this old is abandoned (a store that never came back to that LSN) and aborted. */
    static final Duration STALE_AGE = Duration.ofDays(7);
    private static final Pattern IMAGE = Pattern.compile("image-[0-9a-f]{8}\\.[a-z0-9]+");

    private PendingImages() {
    }

    /** The image key of the newest interrupted upload of this backup with this codec, if any. */
    static Optional<String> resumable(ObjectStore store, ArchiveLayout.BackupName name, Codec codec) {
        List<ObjectStore.PendingUpload> pending = store.pendingUploads(name.dir());
        for (int i = pending.size() - 1; i >= 0; i--) {
            String key = pending.get(i).key();
            String file = key.substring(name.dir().length());
            if (IMAGE.matcher(file).matches() && file.endsWith("." + codec.extension())) {
                return Optional.of(key);
            }
        }
        return Optional.empty();
    }

    /**
     * Aborts every pending upload of backup {@code name} (after one of them did not match the image: the
     * others were of other bytes too, or of another codec, so that one mismatch does not leave the next
     * stale one for the retry, and the next run, to trip over).
     */
    static void discardAll(ObjectStore store, ArchiveLayout.BackupName name) {
        for (ObjectStore.PendingUpload p : store.pendingUploads(name.dir())) {
            LOG.info("discarding the interrupted upload of {} (started {}): another upload of this backup did not"
                    + " match its image", p.key(), p.initiated());
            store.abortPending(p.key());
        }
    }

    /**
     * Aborts the pending image uploads under {@code backups/} that will never complete: those of a
     * backup that has a manifest (it was finished by another attempt), except {@code keep}, and those
     * older than {@link #STALE_AGE} (an upload record left without its upload among them). On S3 one
     * LIST of the pending uploads and one of the upload records, plus a HEAD per backup with a pending upload.
     */
    static void abortStale(ObjectStore store, Instant now, String keep) {
        List<ObjectStore.PendingUpload> pending = store.pendingUploads(ArchiveLayout.BACKUPS);
        java.util.Map<String, Boolean> finished = new java.util.HashMap<>();
        for (ObjectStore.PendingUpload p : pending) {
            if (p.key().equals(keep)) {
                continue;
            }
            Optional<ArchiveLayout.BackupName> b = ArchiveLayout.parseBackup(p.key());
            boolean done = b.isPresent() && finished.computeIfAbsent(b.get().dir(),
                    d -> store.head(b.get().manifestKey()).isPresent());
            boolean old = p.initiated().isBefore(now.minus(STALE_AGE));
            if (done || old) {
                LOG.info("discarding the interrupted upload of {} (started {}): {}", p.key(), p.initiated(),
                        done ? "its backup was finished by another attempt" : "older than " + STALE_AGE.toDays() + " days");
                store.abortPending(p.key());
            }
        }
    }
}
