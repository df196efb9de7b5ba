package io.graveyard;

/**
 * The operation exists, but this kind of store cannot do it: choosing a cluster node
 * ({@link GraveyardClient#onNode}) on an embedded store, asking a cluster client whether its nodes
 * encrypt ({@link GraveyardClient#isEncrypted}). Code {@link ErrorCode#UNSUPPORTED}.
 */
public class UnsupportedException extends GraveyardException {
    private static final long serialVersionUID = 1L;

    public UnsupportedException(String message) {
        super(ErrorCode.UNSUPPORTED, message);
    }
}
