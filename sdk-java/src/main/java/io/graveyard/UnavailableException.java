package io.graveyard;

/** A node (or every node) could not be reached, or a subscription or group session dropped. Code {@link ErrorCode#UNAVAILABLE}. */
public class UnavailableException extends GraveyardException {
    private static final long serialVersionUID = 1L;

    public UnavailableException(String message) {
        super(ErrorCode.UNAVAILABLE, message);
    }
}
