package io.graveyard;

import java.util.Objects;

/**
 * Every failure reported by GraveyardDB. Unchecked; one subclass per {@link ErrorCode}, so callers
 * can catch exactly what they handle. Map failures by class or by {@link #getCode()}, never by
 * message text (messages are for people and may change).
 */
public class GraveyardException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final ErrorCode code;

    public GraveyardException(ErrorCode code, String message) {
        super(message);
        this.code = Objects.requireNonNull(code, "code");
    }

    public GraveyardException(ErrorCode code, String message, Throwable cause) {
        super(message, cause);
        this.code = Objects.requireNonNull(code, "code");
    }

    public ErrorCode getCode() {
        return code;
    }
}
