package io.walship.restorer.follow;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

import io.walship.archive.ObjectStore;
import io.walship.protocol.BadInputException;
import io.walship.restorer.Restore;
import io.walship.shipper.LeaderClient;
import io.walship.wal.AtomicFiles;
import io.walship.wal.ControlFile;
import io.walship.wal.DirectoryLock;
import io.walship.wal.IntegrityException;
import io.walship.wal.Lsn;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.StateDigest;
import io.walship.wal.Store;
import io.walship.wal.StoreOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes a follower's data directory ready to open: a directory that already holds a store (a
 * follower restarting, even after kill -9) is left alone — nothing is downloaded again; an empty
 * directory, or one an interrupted bootstrap left marked {@link Store#RESTORE_MARKER}, is filled
 * from the newest base backup in the archive (the archive's WAL is replayed later, on the open
 * store, by {@link ArchiveCatchUp}), or without an archive from the leader's {@code GET /snapshot}
 * over HTTP (pg_basebackup). Either way the result is a standby that takes WAL only through
 * {@link Store#applyAll}.
 */
public final class Bootstrap {
    private static final Logger LOG = LoggerFactory.getLogger(Bootstrap.class);

    /** How the directory came to be ready. */
    public enum Kind { RESUMED, FROM_ARCHIVE, FROM_LEADER }

    private Bootstrap() {
    }

    /** Whether {@code dir} holds a complete store already (a restart). */
    public static boolean holdsStore(Path dir) {
        return ControlFile.exists(dir) && !Files.exists(dir.resolve(Store.RESTORE_MARKER));
    }

    /**
     * @param archive   the archive to restore from, or null to ask the leader
     * @param leaderUrl the leader's HTTP URL (needed without an archive)
     */
    public static Kind prepare(Path dir, ObjectStore archive, String leaderUrl) throws IOException, InterruptedException {
        return prepare(dir, archive, leaderUrl, null);
    }

    /**
     * @param archive   the archive to restore from, or null to ask the leader
     * @param leaderUrl the leader's HTTP URL (needed without an archive), http:// or https://
     * @param tls       verifies an https:// leader URL ({@code --leader-tls-ca}); null: the JVM's default trust store
     */
    public static Kind prepare(Path dir, ObjectStore archive, String leaderUrl, javax.net.ssl.SSLContext tls)
            throws IOException, InterruptedException {
        return prepare(dir, archive, leaderUrl, tls, null);
    }

    /**
     * @param authToken the leader's write token ({@code --auth-token-file}, the one HELLO carries),
     *                  sent with the {@code GET /snapshot?for=follower} of a bootstrap from the
     *                  leader; null if the leader has none
     */
    public static Kind prepare(Path dir, ObjectStore archive, String leaderUrl, javax.net.ssl.SSLContext tls,
                               String authToken) throws IOException, InterruptedException {
        return prepare(dir, archive, leaderUrl, tls, authToken, 0);
    }

    /**
     * As {@link #prepare(Path, ObjectStore, String, javax.net.ssl.SSLContext, String)}, restoring from
     * the archive along {@code timeline} (0: the archive's newest), e.g. the leader's when a rejoin
     * re-clones a store.
     */
    public static Kind prepare(Path dir, ObjectStore archive, String leaderUrl, javax.net.ssl.SSLContext tls,
                               String authToken, int timeline) throws IOException, InterruptedException {
        if (holdsStore(dir)) {
            ControlFile c = ControlFile.read(dir);
            if (!c.standby()) {
                throw new BadInputException(dir + " holds a store that takes writes (not a standby); a follower"
                        + " needs an empty directory or one it created");
            }
            LOG.info("{} holds a follower at checkpoint LSN {} (timeline {}); resuming from its own state",
                    dir, Lsn.format(c.checkpointLsn()), c.timeline());
            return Kind.RESUMED;
        }
        if (archive != null) {
            // the newest base backup and all the archive's WAL after it, replayed straight into the pages
            Restore.Options o = timeline > 0 ? Restore.Options.defaults().withTimeline(timeline) : Restore.Options.defaults();
            Restore.Result r = Restore.run(archive, dir, o, new Restore.Listener() {
            });
            LOG.info("bootstrapped {} from base backup {} at LSN {}", dir, r.backupKey(), Lsn.format(r.lsn()));
            return Kind.FROM_ARCHIVE;
        }
        if (leaderUrl == null || leaderUrl.isBlank()) {
            throw new BadInputException(dir + " is empty: without --archive a follower needs --leader-url to"
                    + " copy the leader's snapshot");
        }
        fromLeader(dir, leaderUrl, tls, authToken);
        return Kind.FROM_LEADER;
    }

    /** Loads the leader's current snapshot, checks its digest, and leaves a standby at its LSN. */
    static void fromLeader(Path dir, String leaderUrl, javax.net.ssl.SSLContext tls, String authToken)
            throws IOException, InterruptedException {
        Path target = dir.toAbsolutePath();
        StateDigest said;
        try (DirectoryLock lock = Restore.prepare(target, false)) {
            // ?for=follower: as new as the WAL stream, not held back until followers acknowledged it
            // (with block and too few followers, this follower's acks may be what commits wait for)
            said = new LeaderClient(leaderUrl, tls).followerSnapshot(authToken, (image, digest, size) -> {
                LOG.info("copying the leader's snapshot at LSN {} ({} bytes) from {}", Lsn.format(digest.lsn()), size, leaderUrl);
                SnapshotLoader.load(image, target);
                return digest;
            });
            ControlFile.read(target).asStandby().write(target);
            Files.delete(target.resolve(Store.RESTORE_MARKER));
            AtomicFiles.fsyncDirectory(target);
        } catch (UncheckedIOException e) {
            // reading the answer (cut off) or writing the pages failed: a failure, not corruption (an image that
            // fails its checksums, or a digest that differs below, is an IntegrityException)
            throw new IOException("copying the leader's snapshot into " + target + " failed: " + e.getMessage(),
                    e.getCause());
        }
        // the page checksums held; the content must also be what the leader had at that LSN
        StateDigest got;
        try (Store s = Store.open(target, StoreOptions.defaults())) {
            got = s.digest();
        }
        if (!got.equals(said)) {
            Files.write(target.resolve(Store.RESTORE_MARKER), new byte[0]); // never opens as a store; the next start redoes it
            AtomicFiles.fsyncDirectory(target);
            throw new IntegrityException("the leader's snapshot loaded into " + target + " has digest " + got
                    + ", the leader said " + said);
        }
        LOG.info("bootstrapped {} from the leader's snapshot at LSN {}", target, Lsn.format(said.lsn()));
    }
}
