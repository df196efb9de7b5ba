package io.graveyard;

import java.util.List;

/**
 * The state of a consumer group.
 *
 * @param name the group's name
 * @param target what it consumes
 * @param settings its settings
 * @param checkpoint every cursor below this is settled (durably)
 * @param lag events committed to the target beyond the checkpoint
 * @param members members connected (in the process, or on the node, that owns the group)
 * @param inFlight events delivered and not yet settled
 * @param buffered events read ahead, waiting for a member
 * @param parkedStream the stream parked events are copied to
 * @param parked parked events waiting for a replay
 * @param replaying parked events handed back by a replay and not yet settled again
 */
public record GroupInfo(String name, GroupTarget target, GroupSettings settings, long checkpoint, long lag,
        List<String> members, long inFlight, long buffered, String parkedStream, long parked, long replaying) {
    public GroupInfo {
        members = List.copyOf(members);
    }
}
