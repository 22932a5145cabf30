package io.walship.protocol.repl;

import java.io.IOException;

/**
 * The peer broke the replication protocol (docs/PROTOCOL.md): a frame length of 0 or over
 * {@link FrameCodec#MAX_FRAME_LENGTH}, an unknown frame type or refusal code, a payload that is
 * shorter or longer than its fields, a string that is not UTF-8, or a frame that is not allowed at
 * this point of the conversation. The connection is no longer usable: close it. A stream that
 * ends (cleanly between frames or in the middle of one) is an {@link java.io.EOFException}
 * instead, never this.
 */
public class ProtocolException extends IOException {
    private static final long serialVersionUID = 1L;

    public ProtocolException(String message) {
        super(message);
    }
}
