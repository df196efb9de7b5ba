package io.graveyard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graveyard.schema.GraveyardEntity;
import io.graveyard.schema.GraveyardField;
import io.graveyard.schema.SchemaDerivationException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The annotation path through the client: derive, register, append (validated by the store), read back. */
class EntityEndToEndTest {
    @GraveyardEntity("UserRegistered")
    public record User(
            @GraveyardField(required = true, minLength = 1, maxLength = 64) String name,
            @GraveyardField(required = true, regex = "[^@]+@[^@]+") String email,
            @GraveyardField(min = 0, max = 150) Integer age) {}

    /** A class the schema derivation cannot map. */
    public static class NotAnEntity {
        public Object anything;
    }

    @TempDir
    Path dir;

    @Test
    void aValidEntityIsStoredAndReadBackAnInvalidOneIsRefusedWithItsViolations() {
        try (GraveyardClient client = Graveyard.open(dir)) {
            SchemaUpsert upsert = client.upsertSchema(User.class);
            assertEquals("UserRegistered", upsert.name());
            assertEquals(1, upsert.version());
            assertTrue(upsert.changed());
            assertFalse(client.upsertSchema(User.class).changed());

            User alice = new User("alice", "alice@example.com", 30);
            AppendResult r = client.append("user-1", ExpectedVersion.noStream(), alice);
            assertEquals(0, r.lastRevision());
            RecordedEvent e = client.readStream("user-1").get(0);
            assertEquals("UserRegistered", e.type());
            assertEquals(1, e.schemaVersion().orElseThrow());
            assertEquals(alice, e.as(User.class));

            SchemaViolationException refused = assertThrows(SchemaViolationException.class,
                    () -> client.append("user-2", ExpectedVersion.any(), new User("", "not-an-email", 200)));
            assertEquals("UserRegistered", refused.getSchema());
            assertEquals(0, refused.getEventIndex());
            List<String> paths = refused.getViolations().stream().map(Violation::path).sorted().toList();
            assertEquals(List.of("age", "email", "name"), paths);
            assertThrows(NotFoundException.class, () -> client.readStream("user-2"));

            // Entities and plain events mix in one atomic append.
            client.append("user-3", ExpectedVersion.any(), new User("bob", "bob@example.com", null),
                    EventData.json("Note", "{}"));
            assertEquals(2, client.readStream("user-3").size());
            assertEquals(1, client.appendAsync("user-3", ExpectedVersion.exact(1),
                    new User("carol", "c@d", 1)).join().firstRevision() - 1);
        }
    }

    @Test
    void aClassThatCannotBeMappedIsRefusedBeforeReachingTheStore() {
        try (GraveyardClient client = Graveyard.open(dir)) {
            assertThrows(SchemaDerivationException.class, () -> client.upsertSchema(NotAnEntity.class));
            assertThrows(IllegalArgumentException.class,
                    () -> client.append("s", ExpectedVersion.any(), new NotAnEntity()));
        }
    }
}
