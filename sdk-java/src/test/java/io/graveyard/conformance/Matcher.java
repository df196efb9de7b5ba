package io.graveyard.conformance;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Matching an outcome against a step's expectation (conformance/README.md, "Matching"), the same
 * rules as the reference runner's {@code check} and {@code matches}.
 */
final class Matcher {
    private Matcher() {}

    /** An outcome: a result (success) or an error as JSON with the exception's message. */
    record Outcome(boolean ok, JsonNode value, String message, String sdkProblem) {
        static Outcome success(JsonNode value) {
            return new Outcome(true, value, null, null);
        }

        /** {@code sdkProblem}: what is wrong with the exception itself (its class), or null. */
        static Outcome error(JsonNode value, String message, String sdkProblem) {
            return new Outcome(false, value, message, sdkProblem);
        }
    }

    /** Null when the outcome is as expected, else what differs. */
    static String check(Scenario.Step step, Outcome outcome, Scenario.Ids ids) {
        String wanted = step.expectKind() == Scenario.ExpectKind.ERROR ? "error" : "success";
        String got = outcome.ok() ? "success" : "error";
        JsonNode expected = step.expected();
        String expectedText = expected == null ? "(success, result not compared)" : Json.text(expected);
        String actualText = got + " " + Json.display(outcome.value())
                + (outcome.message() == null ? "" : "  (message: " + outcome.message() + ")");
        if (!wanted.equals(got)) {
            return "expected: " + wanted + " " + expectedText + "\n  actual:   " + actualText;
        }
        List<String> differences = new ArrayList<>();
        if (expected != null) {
            matches(ids, "$", null, expected, outcome.value(), differences);
        }
        if (outcome.sdkProblem() != null) {
            differences.add(outcome.sdkProblem());
        }
        if (differences.isEmpty()) {
            return null;
        }
        return "expected: " + wanted + " " + expectedText + "\n  actual:   " + actualText
                + "\n  differences:\n    " + String.join("\n    ", differences);
    }

    /** Partial match of {@code expected} against {@code actual}; appends each difference. */
    static void matches(Scenario.Ids ids, String path, String key, JsonNode expected, JsonNode actual, List<String> out) {
        // Bytes: compared whole, in the form the expectation uses.
        if (actual.isObject() && actual.has(Json.BYTES_MARKER)) {
            JsonNode inner = actual.get(Json.BYTES_MARKER);
            byte[] actualBytes = Json.markerBytes(inner);
            boolean equal;
            try {
                Scenario.Bytes wanted = Scenario.bytes(expected, path);
                if (wanted.json()) {
                    JsonNode wantedValue = Json.parseOrNull(wanted.bytes());
                    JsonNode gotValue = Json.parseOrNull(actualBytes);
                    equal = gotValue != null && jsonEqual(wantedValue, gotValue);
                } else {
                    equal = Arrays.equals(wanted.bytes(), actualBytes);
                }
            } catch (Scenario.Malformed e) {
                out.add("at " + path + ": bad bytes expectation: " + e.getMessage());
                return;
            }
            if (!equal) {
                out.add("at " + path + ": expected bytes " + Json.text(expected) + ", actual " + Json.display(inner));
            }
            return;
        }
        if ("id".equals(key) && actual.isTextual()) {
            if (expected.isObject() && expected.has("uuid_version")) {
                boolean ok = false;
                if (expected.size() == 1) {
                    try {
                        UUID id = Scenario.parseUuid(actual.textValue());
                        JsonNode version = expected.get("uuid_version");
                        ok = version.isIntegralNumber() && version.longValue() == id.version();
                    } catch (Scenario.Malformed e) {
                        ok = false;
                    }
                }
                if (!ok) {
                    out.add("at " + path + ": expected a UUID matching " + Json.text(expected) + ", actual " + Json.text(actual));
                }
                return;
            }
            if (expected.isTextual()) {
                try {
                    UUID id = ids.resolve(expected.textValue());
                    if (!id.toString().equals(actual.textValue())) {
                        out.add("at " + path + ": expected id " + expected.textValue() + " = " + id + ", actual " + actual.textValue());
                    }
                } catch (Scenario.Malformed e) {
                    out.add("at " + path + ": " + e.getMessage());
                }
                return;
            }
        }
        if (actual.isTextual()) {
            String got = actual.textValue();
            try {
                String wanted = Scenario.string(expected, path);
                if (!wanted.equals(got)) {
                    out.add("at " + path + ": expected " + Json.quote(Json.shorten(wanted)) + ", actual " + Json.quote(Json.shorten(got)));
                }
            } catch (Scenario.Malformed e) {
                out.add("at " + path + ": expected " + Json.text(expected) + ", actual " + Json.text(actual));
            }
            return;
        }
        if (expected.isObject() && actual.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = expected.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> entry = it.next();
                String k = entry.getKey();
                String sub = path + "." + k;
                JsonNode got = actual.get(k);
                if (got != null) {
                    matches(ids, sub, k, entry.getValue(), got, out);
                } else {
                    List<String> has = new ArrayList<>();
                    actual.fieldNames().forEachRemaining(has::add);
                    out.add("at " + sub + ": the result has no " + Json.quote(k) + " (it has: " + String.join(", ", has) + ")");
                }
            }
            return;
        }
        if (expected.isArray() && actual.isArray()) {
            if (expected.size() != actual.size()) {
                out.add("at " + path + ": expected " + expected.size() + " element(s), actual " + actual.size());
            }
            for (int i = 0; i < Math.min(expected.size(), actual.size()); i++) {
                matches(ids, path + "[" + i + "]", null, expected.get(i), actual.get(i), out);
            }
            return;
        }
        if (!jsonEqual(expected, actual)) {
            out.add("at " + path + ": expected " + Json.text(expected) + ", actual " + Json.display(actual));
        }
    }

    /** Deep equality; numbers compare by value, object key order does not matter. */
    static boolean jsonEqual(JsonNode a, JsonNode b) {
        if (a.isNumber() && b.isNumber()) {
            if (a.isIntegralNumber() && b.isIntegralNumber()) {
                return a.bigIntegerValue().equals(b.bigIntegerValue());
            }
            return a.doubleValue() == b.doubleValue();
        }
        if (a.isArray() && b.isArray()) {
            if (a.size() != b.size()) {
                return false;
            }
            for (int i = 0; i < a.size(); i++) {
                if (!jsonEqual(a.get(i), b.get(i))) {
                    return false;
                }
            }
            return true;
        }
        if (a.isObject() && b.isObject()) {
            if (a.size() != b.size()) {
                return false;
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = a.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> entry = it.next();
                JsonNode other = b.get(entry.getKey());
                if (other == null || !jsonEqual(entry.getValue(), other)) {
                    return false;
                }
            }
            return true;
        }
        return a.equals(b);
    }
}
