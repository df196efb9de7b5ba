package io.graveyard.schema;

import static io.graveyard.schema.JsonAssert.tree;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;

import io.graveyard.schema.fixtures.OrderPlaced;
import io.graveyard.schema.fixtures.User;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The derived schemas and the JSON of valid and invalid objects, judged by the real Rust core.
 * Runs when {@code GRAVEYARD_SCHEMA_CHECKER} names an executable that takes a directory, compiles
 * each {@code <base>.schema.json} there as a standalone schema and validates each
 * {@code <base>.data.<label>.json} against it, printing one JSON line per file:
 * {@code {"file", "ok", "error"?, "violations"?, "defaults"?}} (a small binary over
 * {@code graveyard::schema::{Schema, CompiledSchema}}; skipped without it).
 */
class CoreValidationTest {

    private final Map<String, Object> data = new LinkedHashMap<>();
    private final List<Class<?>> schemas = new ArrayList<>();

    private void schema(Class<?> type, Object... labelsAndObjects) {
        schemas.add(type);
        for (int i = 0; i < labelsAndObjects.length; i += 2) {
            data.put(base(type) + ".data." + labelsAndObjects[i] + ".json", labelsAndObjects[i + 1]);
        }
    }

    private static String base(Class<?> type) {
        return type.getName().replace('$', '_');
    }

    @Test
    void theCoreAcceptsTheSchemasAndJudgesTheData() throws Exception {
        String checker = System.getenv("GRAVEYARD_SCHEMA_CHECKER");
        Assumptions.assumeTrue(checker != null && new File(checker).canExecute(),
            "GRAVEYARD_SCHEMA_CHECKER is not set to the schema checker binary");

        RoundTripTest.All extremes = new RoundTripTest.All();
        extremes.l = Long.MIN_VALUE;
        extremes.ff = -Float.MAX_VALUE;
        RoundTripTest.All tooBig = new RoundTripTest.All();
        SchemaDerivationTest.Primitives primitives = new SchemaDerivationTest.Primitives();
        primitives.l = Long.MAX_VALUE;
        primitives.i = Integer.MIN_VALUE;
        primitives.b = Byte.MAX_VALUE;

        schema(User.class, "valid", User.valid(), "invalid", User.invalid());
        schema(OrderPlaced.class, "valid", OrderPlaced.valid(), "invalid", OrderPlaced.invalid());
        schema(RoundTripTest.All.class, "valid", new RoundTripTest.All(), "extremes", extremes);
        schema(SchemaDerivationTest.Primitives.class, "valid", primitives);
        schema(SchemaDerivationTest.Boxes.class, "empty", new SchemaDerivationTest.Boxes());
        schema(SchemaDerivationTest.Containers.class);
        schema(SchemaDerivationTest.Optionals.class);
        schema(SchemaDerivationTest.Nested.class);
        schema(SchemaDerivationTest.Generic.class);
        schema(SchemaDerivationTest.EveryElement.class);
        schema(SchemaDerivationTest.Skipped.class);
        schema(SchemaDerivationTest.RecordEntity.class);
        schema(SchemaDerivationTest.Times.class);
        schema(RoundTripTest.Rec.class);
        schema(PatternsTest.Holder.class);

        Path dir = Files.createTempDirectory("graveyard-schemas");
        for (Class<?> type : schemas) {
            Files.writeString(dir.resolve(base(type) + ".schema.json"), Entities.schemaJson(type));
        }
        for (Map.Entry<String, Object> entry : data.entrySet()) {
            Files.write(dir.resolve(entry.getKey()), Entities.toJson(entry.getValue()));
        }
        // Data written by hand, beyond what Java writes.
        String all = base(RoundTripTest.All.class);
        Files.writeString(dir.resolve(all + ".data.outOfRange.json"), new String(Entities.toJson(tooBig),
            StandardCharsets.UTF_8).replace("\"i\":3", "\"i\":2147483648").replace("\"b\":1", "\"b\":-129")
            .replace("\"c\":\"é\"", "\"c\":\"ab\"").replace("\"uuid\":\"", "\"uuid\":\"x"));
        String every = base(SchemaDerivationTest.EveryElement.class);
        Files.writeString(dir.resolve(every + ".data.empty.json"), "{\"user-name\": \"abc\"}");

        Process process = new ProcessBuilder(checker, dir.toString()).redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, process.exitValue(), output);
        Map<String, JsonNode> results = new LinkedHashMap<>();
        for (String line : output.split("\n")) {
            if (!line.isBlank()) {
                JsonNode result = tree(line);
                results.put(result.get("file").asText(), result);
            }
        }

        for (Class<?> type : schemas) {
            JsonNode result = results.get(base(type) + ".schema.json");
            assertTrue(result != null && result.get("ok").asBoolean(), type + ": " + result);
        }
        for (String file : List.of(base(User.class) + ".data.valid.json", base(OrderPlaced.class) + ".data.valid.json",
            all + ".data.valid.json", all + ".data.extremes.json",
            base(SchemaDerivationTest.Primitives.class) + ".data.valid.json",
            base(SchemaDerivationTest.Boxes.class) + ".data.empty.json")) {
            JsonNode result = results.get(file);
            assertTrue(result.get("ok").asBoolean(), file + ": " + result);
            assertEquals(0, result.get("defaults").asInt(), file + ": " + result);
        }
        assertViolations(results.get(base(User.class) + ".data.invalid.json"),
            "name min_length", "email pattern", "age max", "address.city required", "tags max_length");
        assertViolations(results.get(base(OrderPlaced.class) + ".data.invalid.json"),
            "lines min_length", "total min", "currency pattern");
        assertViolations(results.get(all + ".data.outOfRange.json"),
            "b min", "i max", "c max_length", "uuid pattern");
        JsonNode filled = results.get(every + ".data.empty.json");
        assertTrue(filled.get("ok").asBoolean(), filled.toString());
        assertEquals(tree("{\"user-name\": \"abc\", \"ratio\": 1.5, \"level\": 3, \"enabled\": true, "
            + "\"color\": \"GREEN\", \"letters\": [\"a\"], \"origin\": {\"x\": 1.0, \"y\": 2.0}, \"initial\": \"x\", "
            + "\"since\": \"2024-01-01T00:00:00Z\", \"big\": 12345678901234567890, \"price\": 1.50, \"empty\": \"\"}"),
            filled.get("data"));
        // The store's data, defaults filled, reads back.
        SchemaDerivationTest.EveryElement read = Entities.fromJson(filled.get("data").toString().getBytes(
            StandardCharsets.UTF_8), SchemaDerivationTest.EveryElement.class);
        assertEquals(3, read.level);
    }

    private static void assertViolations(JsonNode result, String... expected) {
        assertTrue(!result.get("ok").asBoolean(), result.toString());
        TreeSet<String> actual = new TreeSet<>();
        for (JsonNode violation : result.get("violations")) {
            actual.add(violation.get("path").asText() + " " + violation.get("rule").asText());
        }
        assertEquals(new TreeSet<>(List.of(expected)), actual, result.toString());
    }
}
