package io.graveyard;

/** What to do with a delivery a member could not process. */
public enum NackAction {
    /** Deliver it again (parked once it has been retried the group's max retries). */
    RETRY(1),
    /** Move a copy to the group's parked stream and go on; see {@link GraveyardClient#replayParked}. */
    PARK(2),
    /** Settle it without processing. */
    SKIP(3);

    private final int code;

    NackAction(int code) {
        this.code = code;
    }

    /** Its number at the native boundary (docs/boundary.md, "Codes"; a nack always names its action, so 0 is none). */
    public int code() {
        return code;
    }
}
