package io.graveyard;

/**
 * The stable, language-neutral error codes of GraveyardDB: the same names in every SDK, and the
 * same numbers ({@link #code()}) at every native boundary (docs/boundary.md). A number never
 * changes meaning; this enum's order carries none.
 */
public enum ErrorCode {
    WRONG_EXPECTED_VERSION(1),
    STREAM_DELETED(2),
    SCHEMA_VIOLATION(3),
    INVALID_SCHEMA(4),
    INVALID_ARGUMENT(5),
    NOT_FOUND(6),
    ENCRYPTION(7),
    UNAUTHENTICATED(8),
    PERMISSION_DENIED(9),
    UNAVAILABLE(10),
    CLOSED(11),
    CORRUPTION(12),
    INCOMPATIBLE_FORMAT(13),
    IO(14),
    INTERNAL(15),
    /** The operation exists, but this kind of store cannot do it (see {@link UnsupportedException}). */
    UNSUPPORTED(16);

    private final int code;

    ErrorCode(int code) {
        this.code = code;
    }

    /** The number of this code at the native boundary (docs/boundary.md, "Codes"). */
    public int code() {
        return code;
    }

    /** The code numbered {@code code}, or {@code null} for a number this SDK does not know. */
    public static ErrorCode of(int code) {
        for (ErrorCode c : values()) {
            if (c.code == code) {
                return c;
            }
        }
        return null;
    }

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
