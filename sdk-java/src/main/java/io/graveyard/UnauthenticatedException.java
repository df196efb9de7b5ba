package io.graveyard;

/** A request without valid credentials (a node configured with a token). Code {@link ErrorCode#UNAUTHENTICATED}. */
public class UnauthenticatedException extends GraveyardException {
    private static final long serialVersionUID = 1L;

    public UnauthenticatedException(String message) {
        super(ErrorCode.UNAUTHENTICATED, message);
    }
}
