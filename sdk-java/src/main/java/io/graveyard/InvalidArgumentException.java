package io.graveyard;

/** A request was malformed (a bad stream name, an event too large, a negative revision...). Code {@link ErrorCode#INVALID_ARGUMENT}. */
public class InvalidArgumentException extends GraveyardException {
    private static final long serialVersionUID = 1L;

    public InvalidArgumentException(String message) {
        super(ErrorCode.INVALID_ARGUMENT, message);
    }
}
