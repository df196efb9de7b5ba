package io.graveyard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Encryption at rest, crypto-shredding and master-key rotation on an embedded store. */
class EncryptionTest {
    static byte[] key(int seed) {
        byte[] key = new byte[32];
        Arrays.fill(key, (byte) seed);
        key[0] = (byte) (seed * 7 + 1);
        return key;
    }

    @TempDir
    Path dir;

    GraveyardClient open(byte[] key) {
        return Graveyard.open(dir, OpenOptions.defaults().masterKey(key));
    }

    static boolean filesContain(Path dir, String text) throws Exception {
        byte[] needle = text.getBytes(StandardCharsets.UTF_8);
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                byte[] bytes = Files.readAllBytes(file);
                outer:
                for (int i = 0; i + needle.length <= bytes.length; i++) {
                    for (int j = 0; j < needle.length; j++) {
                        if (bytes[i + j] != needle[j]) {
                            continue outer;
                        }
                    }
                    return true;
                }
            }
        }
        return false;
    }

    @Test
    void dataIsEncryptedAtRestAndShreddedStreamsReadBackEmpty() throws Exception {
        try (GraveyardClient client = open(key(1))) {
            client.append("user-42", ExpectedVersion.noStream(),
                    EventData.json("Registered", "{\"email\":\"secret-alice@example.com\"}").withMetadata("meta-secret"));
            client.append("user-43", ExpectedVersion.noStream(), EventData.json("Registered", "{\"email\":\"bob\"}"));
            assertEquals("{\"email\":\"secret-alice@example.com\"}", client.readStream("user-42").get(0).dataAsString());
            client.saveSnapshot("user-42", 0, "snap".getBytes(StandardCharsets.UTF_8));
        }
        assertFalse(filesContain(dir, "secret-alice"), "plaintext found on disk");

        try (GraveyardClient client = open(key(1))) {
            client.shredStream("user-42");
            client.shredStream("user-42"); // twice is not an error
            RecordedEvent shredded = client.readStream("user-42").get(0);
            assertTrue(shredded.shredded());
            assertEquals(0, shredded.data().length);
            assertEquals(0, shredded.metadata().length);
            assertEquals("Registered", shredded.type());
            assertEquals(0, shredded.revision());
            assertThrows(StreamDeletedException.class, () -> client.append("user-42", ExpectedVersion.any(),
                    EventData.json("Registered", "{}")));
            assertTrue(client.getSnapshot("user-42").isEmpty());
            assertTrue(client.streamInfo("user-42").shredded());
            assertFalse(client.streamInfo("user-43").shredded());
            assertFalse(client.readStream("user-43").get(0).shredded());
            List<RecordedEvent> all = client.readAll();
            assertTrue(all.get(0).shredded());
            assertFalse(all.get(1).shredded());
            assertThrows(NotFoundException.class, () -> client.shredStream("never-written"));
            client.shredStreamAsync("user-43").join();
            assertTrue(client.readStream("user-43").get(0).shredded());
        }
    }

    @Test
    void aWrongKeyIsRefusedAndRotationSwitchesKeys() {
        try (GraveyardClient client = open(key(1))) {
            client.append("s", ExpectedVersion.any(), EventData.json("E", "{\"v\":1}"));
        }
        EncryptionException wrong = assertThrows(EncryptionException.class, () -> open(key(2)));
        assertEquals(ErrorCode.ENCRYPTION, wrong.getCode());
        GraveyardException noKey = assertThrows(GraveyardException.class, () -> Graveyard.open(dir));
        assertTrue(noKey.getCode() == ErrorCode.ENCRYPTION || noKey.getCode() == ErrorCode.INVALID_ARGUMENT,
                noKey.toString());

        try (GraveyardClient client = open(key(1))) {
            client.rotateMasterKey(key(3));
            assertEquals("{\"v\":1}", client.readStream("s").get(0).dataAsString());
            client.rotateMasterKeyAsync(key(4)).join();
        }
        assertThrows(EncryptionException.class, () -> open(key(1)));
        try (GraveyardClient client = open(key(4))) {
            assertArrayEquals("{\"v\":1}".getBytes(StandardCharsets.UTF_8), client.readStream("s").get(0).data());
        }
    }

    @Test
    void aMasterKeyProviderIsAskedAtEachOpenAndWhatItGaveIsWiped(@TempDir Path plain) {
        List<byte[]> handedOut = new ArrayList<>();
        OpenOptions options = OpenOptions.defaults().masterKeyProvider(() -> {
            byte[] key = key(7);
            handedOut.add(key);
            return key;
        });
        assertEquals(0, handedOut.size(), "nothing is asked before an open");
        try (GraveyardClient client = Graveyard.open(dir, options)) {
            assertTrue(client.isEncrypted());
            client.append("s", ExpectedVersion.any(), EventData.json("E", "{\"v\":1}"));
        }
        try (GraveyardClient client = Graveyard.open(dir, options)) {
            assertEquals("{\"v\":1}", client.readStream("s").get(0).dataAsString());
        }
        assertEquals(2, handedOut.size());
        for (byte[] key : handedOut) {
            assertArrayEquals(new byte[32], key, "the key the provider gave is wiped after the open");
        }
        try (GraveyardClient client = open(key(7))) {
            assertEquals(1, client.readStream("s").size(), "the same key, given as bytes");
        }

        byte[] wrong = key(8);
        assertThrows(EncryptionException.class,
                () -> Graveyard.open(dir, OpenOptions.defaults().masterKeyProvider(() -> wrong)));
        assertArrayEquals(new byte[32], wrong, "wiped also when the open fails");
        byte[] tooShort = new byte[16];
        Arrays.fill(tooShort, (byte) 3);
        assertThrows(IllegalArgumentException.class,
                () -> Graveyard.open(dir, OpenOptions.defaults().masterKeyProvider(() -> tooShort)));
        assertArrayEquals(new byte[16], tooShort);
        assertThrows(IllegalArgumentException.class,
                () -> Graveyard.open(dir, OpenOptions.defaults().masterKeyProvider(() -> null)));
        assertThrows(NullPointerException.class, () -> OpenOptions.defaults().masterKeyProvider(null));
        try (GraveyardClient client = Graveyard.open(plain)) {
            assertFalse(client.isEncrypted());
        }
    }

    @Test
    void keysAreCheckedAndUnencryptedStoresRefuseShredding(@TempDir Path plain) {
        assertThrows(IllegalArgumentException.class, () -> OpenOptions.defaults().masterKey(new byte[16]));
        assertThrows(NullPointerException.class, () -> OpenOptions.defaults().masterKey(null));
        try (GraveyardClient client = Graveyard.open(plain)) {
            client.append("s", ExpectedVersion.any(), EventData.json("E", "{}"));
            assertThrows(InvalidArgumentException.class, () -> client.shredStream("s"));
            assertThrows(IllegalArgumentException.class, () -> client.rotateMasterKey(new byte[31]));
        }
    }
}
