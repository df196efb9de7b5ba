package io.graveyard;

import java.util.Objects;

/**
 * What a subscription delivers: an event, or the one-time notice that history has been delivered
 * and live events follow ({@link #isCaughtUp()}).
 */
public final class SubscriptionMessage {
    private static final SubscriptionMessage CAUGHT_UP = new SubscriptionMessage(null);

    private final RecordedEvent event;

    private SubscriptionMessage(RecordedEvent event) {
        this.event = event;
    }

    public static SubscriptionMessage caughtUp() {
        return CAUGHT_UP;
    }

    public static SubscriptionMessage event(RecordedEvent event) {
        return new SubscriptionMessage(Objects.requireNonNull(event, "event"));
    }

    public boolean isEvent() {
        return event != null;
    }

    public boolean isCaughtUp() {
        return event == null;
    }

    /** The event; {@link IllegalStateException} for the caught-up notice. */
    public RecordedEvent getEvent() {
        if (event == null) {
            throw new IllegalStateException("a caught-up notice carries no event");
        }
        return event;
    }

    @Override
    public String toString() {
        return event == null ? "CaughtUp" : "Event(" + event + ")";
    }
}
