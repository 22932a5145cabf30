package io.walship.server;

/**
 * A request the node refuses in its present role or state, answered 409 with a one-line reason:
 * {@code POST /promote} on a leader, on a follower already promoting, or a promotion that would lose
 * what a peer holds or whose timeline someone else claimed first.
 */
public final class ConflictException extends RuntimeException {
    public ConflictException(String message) {
        super(message);
    }
}
