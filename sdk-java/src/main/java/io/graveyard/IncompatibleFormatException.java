package io.graveyard;

/** The directory holds something this build cannot open (not a store, or a newer on-disk format). Code {@link ErrorCode#INCOMPATIBLE_FORMAT}. */
public class IncompatibleFormatException extends GraveyardException {
    private static final long serialVersionUID = 1L;

    public IncompatibleFormatException(String message) {
        super(ErrorCode.INCOMPATIBLE_FORMAT, message);
    }
}
