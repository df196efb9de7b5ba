package io.graveyard;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SmokeTest {
    @TempDir
    Path dir;

    @Test
    void appendsAndReadsBack() {
        try (GraveyardClient client = Graveyard.open(dir)) {
            AppendResult r = client.append("order-1", ExpectedVersion.noStream(),
                    EventData.json("Placed", "{\"total\":42}"), EventData.binary("Raw", new byte[] {1, 2}));
            assertEquals(new AppendResult(0, 1, 0, 1), r);
            List<RecordedEvent> events = client.readStream("order-1");
            assertEquals(2, events.size());
            assertEquals("{\"total\":42}", events.get(0).dataAsString());
            assertEquals(2, client.readAllAsync(ReadAllOptions.forwards()).join().size());
        }
    }
}
