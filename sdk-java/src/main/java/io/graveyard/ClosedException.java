package io.graveyard;

/** The client, subscription or group member was closed. Code {@link ErrorCode#CLOSED}. */
public class ClosedException extends GraveyardException {
    private static final long serialVersionUID = 1L;

    public ClosedException(String message) {
        super(ErrorCode.CLOSED, message);
    }
}
