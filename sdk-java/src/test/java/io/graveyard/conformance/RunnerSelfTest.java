package io.graveyard.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The runner itself, without a store: a typo must fail a scenario, never let a step pass
 * vacuously (conformance/README.md, "Strictness"), and matching follows "Matching".
 */
class RunnerSelfTest {
    static JsonNode json(String text) throws Exception {
        return Json.MAPPER.readTree(text);
    }

    static Scenario parse(String steps) throws Exception {
        return Scenario.parse(json("{\"name\":\"t\",\"description\":\"d\",\"steps\":" + steps + "}"), new Scenario.Ids());
    }

    static void assertMalformed(String steps, String fragment) {
        Scenario.Malformed e = assertThrows(Scenario.Malformed.class, () -> parse(steps));
        assertTrue(e.getMessage().contains(fragment), "message " + e.getMessage() + " lacks " + fragment);
    }

    @Test
    void everyUnknownKeyOpOrCodeFailsTheScenario() throws Exception {
        parse("[{\"op\":\"head_position\",\"note\":\"ok\",\"expect\":{\"head_position\":0}}]");
        assertMalformed("[{\"op\":\"head_positon\"}]", "unknown op");
        assertMalformed("[{\"op\":\"head_position\",\"expect\":{\"head\":0}}]", "unknown key \"head\"");
        assertMalformed("[{\"op\":\"read_all\",\"limt\":1}]", "unknown key \"limt\"");
        assertMalformed("[{\"op\":\"append\",\"stream\":\"s\",\"events\":[{\"type\":\"T\",\"dat\":1}]}]", "unknown key \"dat\"");
        assertMalformed("[{\"op\":\"read_stream\",\"stream\":\"s\",\"expect_error\":{\"code\":\"NOT_FOUNDD\"}}]", "unknown error code");
        assertMalformed("[{\"op\":\"read_stream\",\"stream\":\"s\",\"expect_error\":{\"code\":\"NOT_FOUND\",\"stream\":\"s\"}}]",
                "unknown key \"stream\"");
        assertMalformed("[{\"op\":\"read_stream\",\"stream\":\"s\",\"expect\":{},\"expect_error\":{\"code\":\"NOT_FOUND\"}}]",
                "not both");
        assertMalformed("[{\"op\":\"read_all\",\"filter\":{\"prefixes\":[]}}]", "unknown key \"prefixes\"");
        assertMalformed("[{\"op\":\"set_stream_metadata\",\"stream\":\"s\",\"metadata\":{\"max_age\":1}}]", "unknown key \"max_age\"");
        assertMalformed("[{\"op\":\"append\",\"stream\":\"s\",\"expected_version\":{\"exactly\":1},\"events\":[]}]",
                "unknown key \"exactly\"");
        assertMalformed("[{\"op\":\"read_all\",\"direction\":\"sideways\"}]", "direction");
        assertMalformed("[{\"op\":\"read_all\",\"from\":-1}]", "non-negative");
        assertMalformed("[]", "empty");
        assertThrows(Scenario.Malformed.class,
                () -> Scenario.parse(json("{\"name\":\"t\",\"description\":\"d\",\"option\":{},\"steps\":[]}"), new Scenario.Ids()));
    }

    @Test
    void generatedStringsAndBytesExpand() throws Exception {
        assertEquals("ababab", Scenario.string(json("{\"repeat\":\"ab\",\"times\":3}"), "s"));
        assertEquals("xéé", Scenario.string(json("{\"concat\":[\"x\",{\"repeat\":\"é\",\"times\":2}]}"), "s"));
        assertArrayEquals("hi".getBytes(StandardCharsets.UTF_8), Scenario.bytes(json("{\"utf8\":\"hi\"}"), "b").bytes());
        assertArrayEquals(new byte[] {0, 1, 2, 3, 4, (byte) 255}, Scenario.bytes(json("{\"base64\":\"AAECAwT/\"}"), "b").bytes());
        assertTrue(Scenario.bytes(json("{\"json\":{\"utf8\":1}}"), "b").json());
        assertThrows(Scenario.Malformed.class, () -> Scenario.bytes(json("{\"base64\":\"Zg\"}"), "b"));
        assertThrows(Scenario.Malformed.class, () -> Scenario.bytes(json("{\"base64\":\"Z!==\"}"), "b"));
    }

    static List<String> differences(String expected, JsonNode actual) throws Exception {
        List<String> out = new ArrayList<>();
        Matcher.matches(new Scenario.Ids(), "$", null, json(expected), actual, out);
        return out;
    }

    @Test
    void matchingIsPartialForObjectsAndWholeForBytesAndArrays() throws Exception {
        com.fasterxml.jackson.databind.node.ObjectNode actual = Json.object();
        actual.put("count", 2);
        actual.set("data", Json.bytes("{\"b\": 2, \"a\": 1.0}".getBytes(StandardCharsets.UTF_8)));
        actual.putNull("unset");
        actual.set("list", json("[1, 2]"));
        assertTrue(differences("{\"count\": 2}", actual).isEmpty());
        assertTrue(differences("{\"count\": 2.0}", actual).isEmpty(), "numbers compare by value");
        assertTrue(differences("{\"data\": {\"a\": 1, \"b\": 2}}", actual).isEmpty(), "JSON bytes compare as JSON");
        assertFalse(differences("{\"data\": {\"a\": 1}}", actual).isEmpty(), "bytes are never compared partially");
        assertFalse(differences("{\"data\": {\"utf8\": \"{}\"}}", actual).isEmpty());
        assertTrue(differences("{\"unset\": null}", actual).isEmpty());
        assertFalse(differences("{\"cuont\": 2}", actual).isEmpty(), "a key the result lacks is a difference");
        assertFalse(differences("{\"list\": [1]}", actual).isEmpty(), "arrays must have the same length");
        assertFalse(differences("{\"count\": 3}", actual).isEmpty());
    }

    @Test
    void idsResolvePlaceholdersAndVersions() throws Exception {
        Scenario.Ids ids = new Scenario.Ids();
        String id = ids.resolve("$id:a").toString();
        com.fasterxml.jackson.databind.node.ObjectNode actual = Json.object();
        actual.put("id", id);
        List<String> out = new ArrayList<>();
        Matcher.matches(ids, "$", null, json("{\"id\": \"$id:a\"}"), actual, out);
        assertTrue(out.isEmpty(), out.toString());
        Matcher.matches(ids, "$", null, json("{\"id\": \"$id:b\"}"), actual, out);
        assertEquals(1, out.size(), "another placeholder is another id");
        out.clear();
        Matcher.matches(ids, "$", null, json("{\"id\": {\"uuid_version\": 4}}"), actual, out);
        assertTrue(out.isEmpty(), "placeholders are random (v4) UUIDs");
        Matcher.matches(ids, "$", null, json("{\"id\": {\"uuid_version\": 7}}"), actual, out);
        assertEquals(1, out.size());
        assertThrows(Scenario.Malformed.class, () -> ids.resolve("$id:"));
        assertThrows(Scenario.Malformed.class, () -> ids.resolve("1-2-3-4-5"));
    }

    @Test
    void checkNamesWhatDiffers() throws Exception {
        Scenario scenario = parse("[{\"op\":\"head_position\",\"expect\":{\"head_position\":1}}]");
        Scenario.Step step = scenario.steps.get(0);
        com.fasterxml.jackson.databind.node.ObjectNode actual = Json.object();
        actual.put("head_position", 0);
        String problem = Matcher.check(step, Matcher.Outcome.success(actual), new Scenario.Ids());
        assertNotNull(problem);
        assertTrue(problem.contains("at $.head_position: expected 1, actual 0"), problem);
        actual.put("head_position", 1);
        assertNull(Matcher.check(step, Matcher.Outcome.success(actual), new Scenario.Ids()));
        com.fasterxml.jackson.databind.node.ObjectNode error = Json.object();
        error.put("code", "CLOSED");
        assertNotNull(Matcher.check(step, Matcher.Outcome.error(error, "closed", null), new Scenario.Ids()),
                "an error where success was expected is a failure");
    }

    @Test
    void theScenarioFolderHoldsScenariosAndEveryOneParses() throws Exception {
        List<java.nio.file.Path> files = ConformanceTest.scenarioFiles();
        assertFalse(files.isEmpty(), "no scenario in " + ConformanceTest.scenarioDir());
        for (java.nio.file.Path file : files) {
            com.fasterxml.jackson.databind.JsonNode scenario = Json.MAPPER.readTree(file.toFile());
            // Scenarios with session ops are not this runner's yet (ConformanceTest skips them by name).
            boolean sessions = false;
            for (com.fasterxml.jackson.databind.JsonNode step : scenario.path("steps")) {
                sessions |= ConformanceTest.SESSION_OPS.contains(step.path("op").asText());
            }
            if (!sessions) {
                Scenario.parse(scenario, new Scenario.Ids());
            }
        }
    }
}
