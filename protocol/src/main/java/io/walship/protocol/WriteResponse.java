package io.walship.protocol;

import java.util.Objects;

/**
 * The answer to a write ({@code PUT}/{@code DELETE /kv/{key}}, {@code POST /batch}):
 * {@code {"lsn":"000000000000002A"}}, the commit's LSN, also in the {@link Headers#LSN} header.
 * Immutable.
 *
 * @param lsn the commit LSN, 16 hex digits
 */
public record WriteResponse(String lsn) {
    public WriteResponse {
        Objects.requireNonNull(lsn, "lsn");
    }
}
