package io.graveyard;

/** The direction of a read. */
public enum Direction {
    FORWARDS(0),
    BACKWARDS(1);

    private final int code;

    Direction(int code) {
        this.code = code;
    }

    /** Its number at the native boundary (docs/boundary.md, "Codes"). */
    public int code() {
        return code;
    }
}
