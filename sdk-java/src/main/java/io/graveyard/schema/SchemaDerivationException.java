package io.graveyard.schema;

import java.util.List;

/**
 * A class that cannot be mapped to a GraveyardDB schema. Lists every problem found in the class
 * and the types it contains, each starting with its field path ({@code User.address.zip},
 * {@code User.tags[]} for the items of an array or collection), not only the first.
 */
public class SchemaDerivationException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final transient Class<?> type;
    private final List<String> problems;

    public SchemaDerivationException(Class<?> type, List<String> problems) {
        super(message(type, problems));
        this.type = type;
        this.problems = List.copyOf(problems);
    }

    private static String message(Class<?> type, List<String> problems) {
        StringBuilder out = new StringBuilder("cannot map ").append(type.getName())
            .append(" to a GraveyardDB schema: ").append(problems.size())
            .append(problems.size() == 1 ? " problem" : " problems");
        for (String problem : problems) {
            out.append("\n  - ").append(problem);
        }
        return out.toString();
    }

    /** The class passed to {@link Entities}. */
    public Class<?> getType() {
        return type;
    }

    /** Every problem, each starting with the field path it concerns. */
    public List<String> getProblems() {
        return problems;
    }
}
