package io.graveyard;

/** The stream was tombstoned: its name can never be used again. Code {@link ErrorCode#STREAM_DELETED}. */
public class StreamDeletedException extends GraveyardException {
    private static final long serialVersionUID = 1L;

    private final String stream;

    public StreamDeletedException(String message, String stream) {
        super(ErrorCode.STREAM_DELETED, message);
        this.stream = stream;
    }

    /** The tombstoned stream. */
    public String getStream() {
        return stream;
    }
}
