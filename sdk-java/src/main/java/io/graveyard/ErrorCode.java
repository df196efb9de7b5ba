package io.graveyard;

/** The stable, language-neutral error codes of GraveyardDB (the same strings in every SDK). */
public enum ErrorCode {
    WRONG_EXPECTED_VERSION,
    STREAM_DELETED,
    SCHEMA_VIOLATION,
    INVALID_SCHEMA,
    INVALID_ARGUMENT,
    NOT_FOUND,
    ENCRYPTION,
    UNAUTHENTICATED,
    PERMISSION_DENIED,
    UNAVAILABLE,
    CLOSED,
    CORRUPTION,
    INCOMPATIBLE_FORMAT,
    IO,
    INTERNAL;

    /** The code named {@code code}, or {@link #INTERNAL} for a code this SDK does not know. */
    public static ErrorCode parse(String code) {
        for (ErrorCode c : values()) {
            if (c.name().equals(code)) {
                return c;
            }
        }
        return INTERNAL;
    }
}
