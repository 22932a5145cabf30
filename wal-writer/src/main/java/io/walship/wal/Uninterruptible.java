package io.walship.wal;

import java.lang.reflect.Method;
import java.nio.channels.FileChannel;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes a {@code FileChannel} uninterruptible: an interrupt of a thread inside its I/O no longer
 * closes it. A {@code FileChannel} is an interruptible channel; {@code force} on a thread that is
 * (or gets) interrupted closes the channel with {@code ClosedByInterruptException}, and a WAL sync
 * that fails that way stops the store (fail-stop). The commit path syncs on committers' own
 * threads ({@link CommitPipeline}: a lone durable committer leads its own sync), which callers may
 * interrupt (a cancelled request, an executor shut down with {@code shutdownNow}).
 *
 * <p>The JDK has the switch, {@code sun.nio.ch.FileChannelImpl#setUninterruptible()}, but not as
 * API: it is reached by reflection, which needs {@code --add-opens java.base/sun.nio.ch=ALL-UNNAMED}
 * (walship's launcher and the test JVMs pass it). Without it {@link #available()} is false and the
 * commit path leaves every sync to its own sync thread, which is never interrupted.
 */
final class Uninterruptible {
    private static final Logger LOG = LoggerFactory.getLogger(Uninterruptible.class);
    private static final Class<?> IMPL;
    private static final Method SET;

    static {
        Class<?> impl = null;
        Method set = null;
        try {
            impl = Class.forName("sun.nio.ch.FileChannelImpl");
            set = impl.getMethod("setUninterruptible");
            set.setAccessible(true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.debug("FileChannelImpl.setUninterruptible is not reachable ({}); committers leave WAL syncs to the sync"
                    + " thread (add --add-opens java.base/sun.nio.ch=ALL-UNNAMED to lead them)", e.toString());
            impl = null;
            set = null;
        }
        IMPL = impl;
        SET = set;
    }

    private Uninterruptible() {
    }

    /** Whether channels can be made uninterruptible in this JVM. */
    static boolean available() {
        return SET != null;
    }

    /**
     * Makes {@code ch} uninterruptible and returns it; returns false if it could not (not a JDK
     * file channel, or the switch is not reachable): the channel is then as interruptible as before.
     */
    static boolean make(FileChannel ch) {
        if (SET == null || !IMPL.isInstance(ch)) {
            return false;
        }
        try {
            SET.invoke(ch);
            return true;
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.debug("setUninterruptible on {} failed: {}", ch, e.toString());
            return false;
        }
    }
}
