package io.walship.archive;

/**
 * A {@link ObjectStore#createResuming} found a pending upload of its key whose parts are not the
 * content it was given (another image, another part size, a part it could not check): the pending
 * upload was aborted, nothing was created, and the caller starts over with fresh content.
 */
public final class ResumeMismatchException extends StorageException {
    public ResumeMismatchException(String key, String why) {
        super("the interrupted upload of " + key + " does not match this attempt's bytes (" + why
                + "); it was discarded: start over");
    }
}
