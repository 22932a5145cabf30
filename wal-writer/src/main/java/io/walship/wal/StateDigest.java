package io.walship.wal;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A hash of the logical content: SHA-256 over every pair in key order, each as u32 key length,
 * key, u32 value length, value. Equal digests at equal LSNs mean equal stores, whatever the page
 * layout. Immutable.
 */
public record StateDigest(long lsn, long pairs, String sha256) {

    /** Computes the digest of everything a page view holds. */
    public static StateDigest of(PageAccess pages, long lsn) {
        MessageDigest md = newSha256();
        long[] n = new long[1];
        byte[] len = new byte[4];
        new BTree(pages).scan(null, null, (k, v) -> {
            PageFormat.putInt(len, 0, k.length);
            md.update(len);
            md.update(k);
            PageFormat.putInt(len, 0, v.length);
            md.update(len);
            md.update(v);
            n[0]++;
            return true;
        });
        return new StateDigest(lsn, n[0], HexFormat.of().formatHex(md.digest()));
    }

    static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
