package io.graveyard;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Retention rules of a stream, honoured by stream reads (events hidden by them stay in $all).
 * {@code StreamMetadata.builder().maxCount(100).maxAge(Duration.ofDays(7)).build()}. Immutable.
 */
public final class StreamMetadata {
    private static final StreamMetadata NONE = new StreamMetadata(null, null, null);

    private final Long maxCount;
    private final Duration maxAge;
    private final Long truncateBefore;

    private StreamMetadata(Long maxCount, Duration maxAge, Long truncateBefore) {
        this.maxCount = maxCount;
        this.maxAge = maxAge;
        this.truncateBefore = truncateBefore;
    }

    /** No rules. */
    public static StreamMetadata none() {
        return NONE;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Only the last {@code maxCount} events are visible. */
    public OptionalLong maxCount() {
        return maxCount == null ? OptionalLong.empty() : OptionalLong.of(maxCount);
    }

    /**
     * Events older than this are not visible. Stored in whole milliseconds, rounded up: the unit of
     * every duration that crosses to the core.
     */
    public Optional<Duration> maxAge() {
        return Optional.ofNullable(maxAge);
    }

    /** Events below this revision are not visible. */
    public OptionalLong truncateBefore() {
        return truncateBefore == null ? OptionalLong.empty() : OptionalLong.of(truncateBefore);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof StreamMetadata m && Objects.equals(m.maxCount, maxCount) && Objects.equals(m.maxAge, maxAge)
                && Objects.equals(m.truncateBefore, truncateBefore);
    }

    @Override
    public int hashCode() {
        return Objects.hash(maxCount, maxAge, truncateBefore);
    }

    @Override
    public String toString() {
        return "StreamMetadata{maxCount=" + maxCount + ", maxAge=" + maxAge + ", truncateBefore=" + truncateBefore
                + "}";
    }

    public static final class Builder {
        private Long maxCount;
        private Duration maxAge;
        private Long truncateBefore;

        private Builder() {}

        public Builder maxCount(long maxCount) {
            this.maxCount = Revisions.check(maxCount, "maxCount");
            return this;
        }

        public Builder maxAge(Duration maxAge) {
            Objects.requireNonNull(maxAge, "maxAge");
            if (maxAge.isNegative()) {
                throw new IllegalArgumentException("maxAge cannot be negative: " + maxAge);
            }
            this.maxAge = maxAge;
            return this;
        }

        public Builder truncateBefore(long revision) {
            this.truncateBefore = Revisions.check(revision, "truncateBefore");
            return this;
        }

        public StreamMetadata build() {
            return new StreamMetadata(maxCount, maxAge, truncateBefore);
        }
    }
}
