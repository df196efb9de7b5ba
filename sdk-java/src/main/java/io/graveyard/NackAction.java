package io.graveyard;

/** What to do with a delivery a member could not process. */
public enum NackAction {
    /** Deliver it again (parked once it has been retried the group's max retries). */
    RETRY,
    /** Move a copy to the group's parked stream and go on; see {@link GraveyardClient#replayParked}. */
    PARK,
    /** Settle it without processing. */
    SKIP
}
