package io.graveyard;

/** An input/output failure of the store (disk full, map size reached...). Code {@link ErrorCode#IO}. */
public class GraveyardIoException extends GraveyardException {
    private static final long serialVersionUID = 1L;

    public GraveyardIoException(String message) {
        super(ErrorCode.IO, message);
    }
}
