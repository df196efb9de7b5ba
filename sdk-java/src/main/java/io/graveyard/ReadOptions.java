package io.graveyard;

import java.util.Objects;

/** Options of a stream read: {@code ReadOptions.forwards().from(0).limit(100)}. Immutable. */
public final class ReadOptions {
    private final Direction direction;
    private final long from;
    private final long limit;

    private ReadOptions(Direction direction, long from, long limit) {
        this.direction = direction;
        this.from = from;
        this.limit = limit;
    }

    /** From the first revision, every event. */
    public static ReadOptions forwards() {
        return new ReadOptions(Direction.FORWARDS, -1, -1);
    }

    /** From the last revision, towards the first. */
    public static ReadOptions backwards() {
        return new ReadOptions(Direction.BACKWARDS, -1, -1);
    }

    /** The first revision to return. */
    public ReadOptions from(long revision) {
        return new ReadOptions(direction, Revisions.check(revision, "a revision"), limit);
    }

    /** The most events to return. */
    public ReadOptions limit(long limit) {
        return new ReadOptions(direction, from, Revisions.check(limit, "a limit"));
    }

    public Direction direction() {
        return direction;
    }

    /** The first revision, or -1 for the start (forwards) or the end (backwards). */
    public long fromRevision() {
        return from;
    }

    /** The limit, or -1 for none. */
    public long maxCount() {
        return limit;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ReadOptions r && r.direction == direction && r.from == from && r.limit == limit;
    }

    @Override
    public int hashCode() {
        return Objects.hash(direction, from, limit);
    }

    @Override
    public String toString() {
        return "ReadOptions{" + direction + ", from=" + (from < 0 ? "-" : from) + ", limit="
                + (limit < 0 ? "-" : limit) + "}";
    }
}
