package io.graveyard;

import java.util.Objects;

/** What a stream holds now, as reported by a version conflict: no events, or a last revision. */
public final class CurrentRevision {
    private static final CurrentRevision NO_STREAM = new CurrentRevision(-1);

    private final long revision;

    private CurrentRevision(long revision) {
        this.revision = revision;
    }

    /** The stream has no events (never written, or soft-deleted and not written since). */
    public static CurrentRevision noStream() {
        return NO_STREAM;
    }

    /** The stream's last event has revision {@code revision}. */
    public static CurrentRevision of(long revision) {
        if (revision < 0) {
            throw new IllegalArgumentException("a revision cannot be negative: " + revision);
        }
        return new CurrentRevision(revision);
    }

    public boolean isNoStream() {
        return revision < 0;
    }

    /** The revision of the stream's last event; {@link IllegalStateException} when there is none. */
    public long revision() {
        if (revision < 0) {
            throw new IllegalStateException("the stream has no events");
        }
        return revision;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CurrentRevision other && other.revision == revision;
    }

    @Override
    public int hashCode() {
        return Objects.hashCode(revision);
    }

    @Override
    public String toString() {
        return revision < 0 ? "no stream" : "revision " + revision;
    }
}
