package io.graveyard;

/** What was asked for does not exist (a stream never written, a schema, a group). Code {@link ErrorCode#NOT_FOUND}. */
public class NotFoundException extends GraveyardException {
    private static final long serialVersionUID = 1L;

    public NotFoundException(String message) {
        super(ErrorCode.NOT_FOUND, message);
    }
}
