package io.walship.wal;

import static io.walship.wal.PageFormat.getInt;
import static io.walship.wal.PageFormat.getLong;
import static io.walship.wal.PageFormat.putInt;
import static io.walship.wal.PageFormat.putLong;

/**
 * Page 0: the tree root and the page count (see docs/FORMAT.md, "Meta page"). Changing either is
 * an ordinary page change, so it travels in the WAL like any other.
 *
 * <pre>
 * 32 u32 magic 'WSPM'
 * 36 u32 root page
 * 40 u32 page count (pages 0..count-1 exist)
 * 44 u32 free list head: first free page (0 = none); each free page links to the next
 * 48 u64 system id
 * 56 u32 free page count
 * </pre>
 *
 * Stores written before the free list have 0 in both fields: an empty free list.
 */
final class MetaPage {
    public static final int PAGE_NO = 0;
    public static final int MAGIC = 0x5753504D;
    private static final int OFF_MAGIC = 32;
    private static final int OFF_ROOT = 36;
    private static final int OFF_COUNT = 40;
    private static final int OFF_FREE_HEAD = 44;
    private static final int OFF_SYSTEM_ID = 48;
    private static final int OFF_FREE_COUNT = 56;

    private MetaPage() {
    }

    public static void init(byte[] p, long systemId, int root, int pageCount) {
        PageFormat.init(p, PageFormat.TYPE_META);
        putInt(p, OFF_MAGIC, MAGIC);
        putInt(p, OFF_ROOT, root);
        putInt(p, OFF_COUNT, pageCount);
        putLong(p, OFF_SYSTEM_ID, systemId);
    }

    public static void check(byte[] p) {
        if (PageFormat.type(p) != PageFormat.TYPE_META || getInt(p, OFF_MAGIC) != MAGIC) {
            throw new IntegrityException("page 0 is not a walship meta page");
        }
    }

    public static int root(byte[] p) {
        return getInt(p, OFF_ROOT);
    }

    public static void setRoot(byte[] p, int root) {
        putInt(p, OFF_ROOT, root);
    }

    public static int pageCount(byte[] p) {
        return getInt(p, OFF_COUNT);
    }

    public static void setPageCount(byte[] p, int count) {
        putInt(p, OFF_COUNT, count);
    }

    public static int freeHead(byte[] p) {
        return getInt(p, OFF_FREE_HEAD);
    }

    public static int freeCount(byte[] p) {
        return getInt(p, OFF_FREE_COUNT);
    }

    static void setFreeList(byte[] p, int head, int count) {
        putInt(p, OFF_FREE_HEAD, head);
        putInt(p, OFF_FREE_COUNT, count);
    }

    public static long systemId(byte[] p) {
        return getLong(p, OFF_SYSTEM_ID);
    }
}
