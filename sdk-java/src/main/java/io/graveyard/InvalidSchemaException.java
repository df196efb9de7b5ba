package io.graveyard;

import java.util.List;

/**
 * A schema definition was refused: invalid, or breaking the compatibility mode of the version it
 * would replace. Code {@link ErrorCode#INVALID_SCHEMA}.
 */
public class InvalidSchemaException extends GraveyardException {
    private static final long serialVersionUID = 1L;

    private final String schema;
    private final List<String> problems;

    public InvalidSchemaException(String message, String schema, List<String> problems) {
        super(ErrorCode.INVALID_SCHEMA, message);
        this.schema = schema;
        this.problems = List.copyOf(problems);
    }

    public String getSchema() {
        return schema;
    }

    /** Every problem found. */
    public List<String> getProblems() {
        return problems;
    }
}
