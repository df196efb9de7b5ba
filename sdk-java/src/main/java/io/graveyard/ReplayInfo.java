package io.graveyard;

/**
 * What {@link GraveyardClient#replayParked} did.
 *
 * @param fromRevision first revision of the parked stream handed back (inclusive)
 * @param toRevision end of the revisions handed back (exclusive); equal to {@code fromRevision} when nothing was
 * @param parked parked events still waiting for a replay
 * @param replaying parked events handed back and not yet settled
 */
public record ReplayInfo(long fromRevision, long toRevision, long parked, long replaying) {
    /** How many parked events this call handed back. */
    public long handedBack() {
        return toRevision - fromRevision;
    }
}
