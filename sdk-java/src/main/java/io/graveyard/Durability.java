package io.graveyard;

/** When an embedded store acknowledges a write. */
public enum Durability {
    /** After the commit is on disk (fsync). Survives power loss. The default. */
    FSYNC,
    /** Once the commit is in the operating system's buffers: survives a crash of the process, not of the machine. For tests and throwaway data only. */
    NO_FSYNC_UNSAFE
}
