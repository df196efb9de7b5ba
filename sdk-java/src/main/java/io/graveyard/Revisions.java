package io.graveyard;

/** Checks of the unsigned 64-bit numbers (revisions, positions, limits) Java holds in a long. */
final class Revisions {
    private Revisions() {}

    static long check(long value, String what) {
        if (value < 0) {
            throw new IllegalArgumentException(what + " cannot be negative: " + value);
        }
        return value;
    }
}
