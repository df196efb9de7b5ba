package io.graveyard;

/**
 * Where a subscription or a consumer group starts: the first event, the end (only what is
 * committed later), or after a checkpoint (a position of $all, or a revision of a stream).
 */
public final class StartPosition {
    /** The kinds, each with its number at the native boundary (docs/boundary.md, "Codes"). */
    public enum Kind {
        START(0),
        END(1),
        AFTER(2);

        private final int code;

        Kind(int code) {
            this.code = code;
        }

        public int code() {
            return code;
        }
    }

    private static final StartPosition START = new StartPosition(Kind.START, 0);
    private static final StartPosition END = new StartPosition(Kind.END, 0);

    private final Kind kind;
    private final long after;

    private StartPosition(Kind kind, long after) {
        this.kind = kind;
        this.after = after;
    }

    public static StartPosition start() {
        return START;
    }

    public static StartPosition end() {
        return END;
    }

    /** After this checkpoint: the position (or revision) of the last event already processed. */
    public static StartPosition after(long checkpoint) {
        return new StartPosition(Kind.AFTER, Revisions.check(checkpoint, "a checkpoint"));
    }

    public Kind kind() {
        return kind;
    }

    /** The checkpoint of {@link #after}; 0 for the other kinds. */
    public long checkpoint() {
        return after;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof StartPosition s && s.kind == kind && s.after == after;
    }

    @Override
    public int hashCode() {
        return kind.hashCode() * 31 + Long.hashCode(after);
    }

    @Override
    public String toString() {
        return kind == Kind.AFTER ? "after " + after : kind.name().toLowerCase(java.util.Locale.ROOT);
    }
}
