package io.graveyard;

/** The store's data is damaged. Code {@link ErrorCode#CORRUPTION}. */
public class CorruptionException extends GraveyardException {
    private static final long serialVersionUID = 1L;

    public CorruptionException(String message) {
        super(ErrorCode.CORRUPTION, message);
    }
}
