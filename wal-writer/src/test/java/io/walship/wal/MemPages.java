package io.walship.wal;

import java.util.HashMap;
import java.util.Map;

/** Pages in a map, for B+tree tests without a store. */
final class MemPages implements PageAccess {
    final Map<Integer, byte[]> pages = new HashMap<>();

    MemPages() {
        byte[] meta = new byte[PageFormat.PAGE_SIZE];
        MetaPage.init(meta, 1, 1, 2);
        pages.put(0, meta);
        byte[] root = new byte[PageFormat.PAGE_SIZE];
        PageFormat.init(root, PageFormat.TYPE_LEAF);
        pages.put(1, root);
    }

    @Override
    public byte[] read(int pageNo) {
        return pages.get(pageNo);
    }

    @Override
    public byte[] write(int pageNo) {
        return pages.get(pageNo);
    }

    @Override
    public int allocate(byte type) {
        int reused = FreeList.pop(this, type);
        if (reused != 0) {
            return reused;
        }
        byte[] meta = pages.get(0);
        int n = MetaPage.pageCount(meta);
        MetaPage.setPageCount(meta, n + 1);
        byte[] p = new byte[PageFormat.PAGE_SIZE];
        PageFormat.init(p, type);
        pages.put(n, p);
        return n;
    }
}
