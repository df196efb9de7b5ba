package io.graveyard;

/** The optimistic-concurrency condition of a write. */
public final class ExpectedVersion {
    /** The kinds, each with its number at the native boundary (docs/boundary.md, "Codes"). */
    public enum Kind {
        ANY(0),
        NO_STREAM(1),
        STREAM_EXISTS(2),
        EXACT(3);

        private final int code;

        Kind(int code) {
            this.code = code;
        }

        public int code() {
            return code;
        }
    }

    private static final ExpectedVersion ANY = new ExpectedVersion(Kind.ANY, 0);
    private static final ExpectedVersion NO_STREAM = new ExpectedVersion(Kind.NO_STREAM, 0);
    private static final ExpectedVersion STREAM_EXISTS = new ExpectedVersion(Kind.STREAM_EXISTS, 0);

    private final Kind kind;
    private final long revision;

    private ExpectedVersion(Kind kind, long revision) {
        this.kind = kind;
        this.revision = revision;
    }

    /** No condition. */
    public static ExpectedVersion any() {
        return ANY;
    }

    /** The stream has no events (never written, or soft-deleted). */
    public static ExpectedVersion noStream() {
        return NO_STREAM;
    }

    /** The stream has at least one event. */
    public static ExpectedVersion streamExists() {
        return STREAM_EXISTS;
    }

    /** The stream's last revision is exactly {@code revision} (an unsigned 64-bit value, so not negative). */
    public static ExpectedVersion exact(long revision) {
        return new ExpectedVersion(Kind.EXACT, Revisions.check(revision, "an expected revision"));
    }

    public Kind kind() {
        return kind;
    }

    /** The revision of {@link #exact}; {@link IllegalStateException} for the other kinds. */
    public long revision() {
        if (kind != Kind.EXACT) {
            throw new IllegalStateException("expected version " + this + " has no revision");
        }
        return revision;
    }

    long rawRevision() {
        return revision;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ExpectedVersion other && other.kind == kind && other.revision == revision;
    }

    @Override
    public int hashCode() {
        return kind.hashCode() * 31 + Long.hashCode(revision);
    }

    @Override
    public String toString() {
        return switch (kind) {
            case ANY -> "any";
            case NO_STREAM -> "no stream";
            case STREAM_EXISTS -> "stream exists";
            case EXACT -> "revision " + revision;
        };
    }
}
