package io.graveyard;

import java.time.Duration;
import java.util.Objects;

/**
 * Settings of a consumer group: {@code GroupSettings.defaults().maxRetries(3).ackTimeout(Duration.ofSeconds(10))}.
 * Defaults: 10 retries, 30 s ack timeout, 256 in flight, round robin. Immutable.
 */
public final class GroupSettings {
    private final int maxRetries;
    private final Duration ackTimeout;
    private final int maxInFlight;
    private final GroupStrategy strategy;

    public GroupSettings(int maxRetries, Duration ackTimeout, int maxInFlight, GroupStrategy strategy) {
        if (maxRetries < 0) {
            throw new IllegalArgumentException("maxRetries cannot be negative: " + maxRetries);
        }
        if (maxInFlight < 0) {
            throw new IllegalArgumentException("maxInFlight cannot be negative: " + maxInFlight);
        }
        Objects.requireNonNull(ackTimeout, "ackTimeout");
        if (ackTimeout.isNegative()) {
            throw new IllegalArgumentException("ackTimeout cannot be negative: " + ackTimeout);
        }
        this.maxRetries = maxRetries;
        this.ackTimeout = ackTimeout;
        this.maxInFlight = maxInFlight;
        this.strategy = Objects.requireNonNull(strategy, "strategy");
    }

    public static GroupSettings defaults() {
        return new GroupSettings(10, Duration.ofSeconds(30), 256, GroupStrategy.ROUND_ROBIN);
    }

    /** Deliveries after the first before an event is parked. */
    public GroupSettings maxRetries(int maxRetries) {
        return new GroupSettings(maxRetries, ackTimeout, maxInFlight, strategy);
    }

    /** An event not settled this long after delivery is delivered again (whole milliseconds, rounded up). */
    public GroupSettings ackTimeout(Duration ackTimeout) {
        return new GroupSettings(maxRetries, ackTimeout, maxInFlight, strategy);
    }

    /** Most events read ahead and in flight at once. */
    public GroupSettings maxInFlight(int maxInFlight) {
        return new GroupSettings(maxRetries, ackTimeout, maxInFlight, strategy);
    }

    public GroupSettings strategy(GroupStrategy strategy) {
        return new GroupSettings(maxRetries, ackTimeout, maxInFlight, strategy);
    }

    public int maxRetries() {
        return maxRetries;
    }

    public Duration ackTimeout() {
        return ackTimeout;
    }

    public int maxInFlight() {
        return maxInFlight;
    }

    public GroupStrategy strategy() {
        return strategy;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GroupSettings s && s.maxRetries == maxRetries && s.ackTimeout.equals(ackTimeout)
                && s.maxInFlight == maxInFlight && s.strategy == strategy;
    }

    @Override
    public int hashCode() {
        return Objects.hash(maxRetries, ackTimeout, maxInFlight, strategy);
    }

    @Override
    public String toString() {
        return "GroupSettings{maxRetries=" + maxRetries + ", ackTimeout=" + ackTimeout + ", maxInFlight="
                + maxInFlight + ", " + strategy + "}";
    }
}
