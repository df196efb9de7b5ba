package io.graveyard;

/** When an embedded store acknowledges a write. */
public enum Durability {
    /** After the commit is on disk (fsync). Survives power loss. The default. */
    FSYNC(0),
    /** Once the commit is in the operating system's buffers: survives a crash of the process, not of the machine. For tests and throwaway data only. */
    NO_FSYNC_UNSAFE(1);

    private final int code;

    Durability(int code) {
        this.code = code;
    }

    /** Its number at the native boundary (docs/boundary.md, "Codes"). */
    int code() {
        return code;
    }
}
