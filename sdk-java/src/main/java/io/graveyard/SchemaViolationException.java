package io.graveyard;

import java.util.List;

/**
 * The data of an event broke the schema named by its type; nothing was written. Code
 * {@link ErrorCode#SCHEMA_VIOLATION}.
 */
public class SchemaViolationException extends GraveyardException {
    private static final long serialVersionUID = 1L;

    private final String schema;
    private final int version;
    private final int eventIndex;
    private final List<Violation> violations;

    public SchemaViolationException(String message, String schema, int version, int eventIndex,
            List<Violation> violations) {
        super(ErrorCode.SCHEMA_VIOLATION, message);
        this.schema = schema;
        this.version = version;
        this.eventIndex = eventIndex;
        this.violations = List.copyOf(violations);
    }

    /** The schema's name (the event's type). */
    public String getSchema() {
        return schema;
    }

    /** The version of the schema the data was checked against. */
    public int getVersion() {
        return version;
    }

    /** The index, in the append, of the event refused (an append stops at the first one). */
    public int getEventIndex() {
        return eventIndex;
    }

    /** Every problem found (bounded by the core). */
    public List<Violation> getViolations() {
        return violations;
    }
}
