package io.graveyard;

/** A bug: in GraveyardDB or in this SDK (a Rust panic is reported as this). Code {@link ErrorCode#INTERNAL}. */
public class InternalException extends GraveyardException {
    private static final long serialVersionUID = 1L;

    public InternalException(String message) {
        super(ErrorCode.INTERNAL, message);
    }
}
