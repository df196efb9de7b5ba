package io.graveyard;

import java.util.Objects;

/**
 * One way an event's data broke its schema.
 *
 * @param path where: {@code address.zip}, {@code items[2].qty}; empty for the data itself
 * @param rule the rule broken: {@code required}, {@code type}, {@code min}, {@code pattern}...
 * @param value the offending value as JSON text, or {@code null} when the value is absent
 * @param message for people; not stable
 */
public record Violation(String path, String rule, String value, String message) {
    public Violation {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(rule, "rule");
        Objects.requireNonNull(message, "message");
    }
}
