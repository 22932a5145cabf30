package io.walship.wal;

/**
 * Pages given back by the B+tree (docs/FORMAT.md, "Free list"): a chain of type-0 pages whose
 * header link is the next free page, headed and counted in the meta page. Pushing and popping
 * are ordinary page changes made through the transaction's {@link PageAccess}, so they are
 * WAL-logged, redone by recovery and carried by snapshots like every other change.
 */
final class FreeList {
    private FreeList() {
    }

    /** Takes a free page and makes it an empty node of {@code type}; 0 if the list is empty. */
    static int pop(PageAccess pages, byte type) {
        byte[] meta = pages.write(MetaPage.PAGE_NO);
        int head = MetaPage.freeHead(meta);
        if (head == 0) {
            return 0;
        }
        int count = MetaPage.freeCount(meta);
        if (head >= MetaPage.pageCount(meta) || count <= 0) {
            throw new IntegrityException("free list head " + head + " (count " + count + ") lies outside the "
                    + MetaPage.pageCount(meta) + " pages of the store");
        }
        byte[] p = pages.write(head);
        if (PageFormat.type(p) != PageFormat.TYPE_FREE) {
            throw new IntegrityException("page " + head + " is on the free list but has type " + PageFormat.type(p));
        }
        MetaPage.setFreeList(meta, PageFormat.getInt(p, PageFormat.OFF_LINK), count - 1);
        PageFormat.init(p, type);
        return head;
    }

    /** Gives {@code pageNo} back: it becomes an empty free page at the head of the list. */
    static void push(PageAccess pages, int pageNo) {
        if (pageNo == MetaPage.PAGE_NO) {
            throw new IllegalArgumentException("the meta page cannot be freed");
        }
        byte[] meta = pages.write(MetaPage.PAGE_NO);
        byte[] p = pages.write(pageNo);
        PageFormat.init(p, PageFormat.TYPE_FREE);
        PageFormat.putInt(p, PageFormat.OFF_LINK, MetaPage.freeHead(meta));
        MetaPage.setFreeList(meta, pageNo, MetaPage.freeCount(meta) + 1);
    }
}
