package io.graveyard;

import java.util.Objects;

/** Options of a read of $all: {@code ReadAllOptions.forwards().from(0).limit(1000).filter(...)}. Immutable. */
public final class ReadAllOptions {
    private final Direction direction;
    private final long from;
    private final long limit;
    private final Filter filter;

    private ReadAllOptions(Direction direction, long from, long limit, Filter filter) {
        this.direction = direction;
        this.from = from;
        this.limit = limit;
        this.filter = filter;
    }

    public static ReadAllOptions forwards() {
        return new ReadAllOptions(Direction.FORWARDS, -1, -1, Filter.none());
    }

    public static ReadAllOptions backwards() {
        return new ReadAllOptions(Direction.BACKWARDS, -1, -1, Filter.none());
    }

    /** The first position to return. */
    public ReadAllOptions from(long position) {
        return new ReadAllOptions(direction, Revisions.check(position, "a position"), limit, filter);
    }

    public ReadAllOptions limit(long limit) {
        return new ReadAllOptions(direction, from, Revisions.check(limit, "a limit"), filter);
    }

    public ReadAllOptions filter(Filter filter) {
        return new ReadAllOptions(direction, from, limit, Objects.requireNonNull(filter, "filter"));
    }

    public Direction direction() {
        return direction;
    }

    /** The first position, or -1 for the start (forwards) or the end (backwards). */
    public long fromPosition() {
        return from;
    }

    /** The limit, or -1 for none. */
    public long maxCount() {
        return limit;
    }

    public Filter filter() {
        return filter;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ReadAllOptions r && r.direction == direction && r.from == from && r.limit == limit
                && r.filter.equals(filter);
    }

    @Override
    public int hashCode() {
        return Objects.hash(direction, from, limit, filter);
    }

    @Override
    public String toString() {
        return "ReadAllOptions{" + direction + ", from=" + (from < 0 ? "-" : from) + ", limit="
                + (limit < 0 ? "-" : limit) + ", " + filter + "}";
    }
}
