package io.graveyard;

/** A request the credentials do not allow. Code {@link ErrorCode#PERMISSION_DENIED}. */
public class PermissionDeniedException extends GraveyardException {
    private static final long serialVersionUID = 1L;

    public PermissionDeniedException(String message) {
        super(ErrorCode.PERMISSION_DENIED, message);
    }
}
