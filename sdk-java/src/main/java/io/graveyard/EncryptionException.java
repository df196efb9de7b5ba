package io.graveyard;

/** A wrong or missing key, or data that fails its authentication tag. Code {@link ErrorCode#ENCRYPTION}. */
public class EncryptionException extends GraveyardException {
    private static final long serialVersionUID = 1L;

    public EncryptionException(String message) {
        super(ErrorCode.ENCRYPTION, message);
    }
}
