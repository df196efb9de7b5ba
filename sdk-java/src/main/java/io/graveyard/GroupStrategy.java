package io.graveyard;

/** How a consumer group's members share its events. */
public enum GroupStrategy {
    /** Each event goes to the next member asking for work. */
    ROUND_ROBIN(0, "round_robin"),
    /** Each stream belongs to one member, and a stream's next event waits for its previous one: per-stream order. */
    PINNED_BY_STREAM(1, "pinned_by_stream");

    private final int code;
    private final String json;

    GroupStrategy(int code, String json) {
        this.code = code;
        this.json = json;
    }

    /** Its number at the native boundary (docs/boundary.md, "Codes"). */
    public int code() {
        return code;
    }

    /** Its name in the JSON form of group settings. */
    String json() {
        return json;
    }

    /** The strategy named {@code json} in group settings; an unknown name is refused. */
    static GroupStrategy fromJson(String json) {
        for (GroupStrategy s : values()) {
            if (s.json.equals(json)) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown group strategy \"" + json + "\"");
    }
}
