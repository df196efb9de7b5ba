package io.graveyard;

import java.util.OptionalLong;

/**
 * One stream of a listing ({@link GraveyardClient#listStreams}): tombstoned, deleted and shredded
 * streams included, with their state.
 *
 * @param name the stream's name
 * @param nextRevision the revision the next appended event will get
 * @param lastPosition the position of its last event in $all; empty when it never had one
 * @param deleted soft-deleted and not written since
 * @param deletedBefore revisions below this were hidden by its last soft delete (0 when never deleted)
 * @param tombstoned deleted for good
 * @param shredded its data key was destroyed
 */
public record StreamSummary(String name, long nextRevision, OptionalLong lastPosition, boolean deleted,
        long deletedBefore, boolean tombstoned, boolean shredded) {}
