package io.graveyard.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.graveyard.ExpectedVersion;
import io.graveyard.EventData;
import io.graveyard.Graveyard;
import io.graveyard.GraveyardClient;
import io.graveyard.RecordedEvent;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The library as an application gets it: packed into the classpath (what the jar holds), extracted
 * by {@link NativeLoader}.
 */
class NativeLoaderTest {
    /**
     * A JVM of its own, because a JVM loads the library once and the temporary directory can only
     * be judged after it has exited: it loads the library from the classpath into a temporary
     * directory of its own, opens a store, writes and reads an event, and exits normally. Nothing
     * may be left in that directory (it used to keep an empty {@code graveyard-jni*} folder per run).
     */
    @Test
    void aJvmThatLoadedTheLibraryFromTheClasspathLeavesNothingInTheTemporaryDirectory(@TempDir Path work)
            throws Exception {
        Path tmp = Files.createDirectory(work.resolve("tmp"));
        // An existing but empty library path: System.loadLibrary must fail there, so the child can
        // only get the library by extracting it from the classpath.
        Path noLibraries = Files.createDirectory(work.resolve("no-libraries"));
        Path store = work.resolve("store");
        Path output = work.resolve("child-output.txt");

        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Djava.io.tmpdir=" + tmp,
                "-Djava.library.path=" + noLibraries,
                // Surefire sets java.class.path to the test classpath: target/classes (with the
                // packed library), target/test-classes (Child) and the dependencies.
                "-cp", System.getProperty("java.class.path"),
                Child.class.getName(),
                store.toString()));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile()).start();
        if (!child.waitFor(120, TimeUnit.SECONDS)) {
            child.destroyForcibly().waitFor();
            fail("the child JVM did not exit within 120 s; its output:\n" + Files.readString(output));
        }
        String out = Files.readString(output);
        assertEquals(0, child.exitValue(), "the child JVM failed; its output:\n" + out);
        assertTrue(out.contains(Child.DONE), "the child JVM did not get through; its output:\n" + out);

        List<String> left;
        try (Stream<Path> entries = Files.walk(tmp)) {
            left = entries.filter(p -> !p.equals(tmp)).map(p -> tmp.relativize(p).toString()).sorted().toList();
        }
        assertEquals(List.of(), left, "left behind in the child's java.io.tmpdir " + tmp);
    }

    /** The child JVM's program: an application's first use of the SDK, then a normal exit. */
    public static final class Child {
        static final String DONE = "read back: OrderPlaced {\"sku\":\"GRV-1\"}";

        public static void main(String[] args) {
            try (GraveyardClient client = Graveyard.open(Path.of(args[0]))) {
                client.append("order-1", ExpectedVersion.noStream(), EventData.json("OrderPlaced", "{\"sku\":\"GRV-1\"}"));
                RecordedEvent e = client.readStream("order-1").get(0);
                System.out.println("read back: " + e.type() + " " + e.dataAsString());
            }
        }
    }

    /**
     * The packed library has no debug info and no symbol table (they stay in target/, see the pom),
     * and names its debug file. Read from the ELF section headers, so it is Linux only.
     */
    @Test
    void thePackedLibraryIsStrippedAndLinkedToItsDebugFile() throws IOException {
        String platform = NativeLoader.platform();
        assumeTrue(platform.startsWith("linux-"), "ELF libraries only; platform " + platform);
        String resource = "/native/" + platform + "/" + System.mapLibraryName(NativeLoader.LIBRARY);
        byte[] library;
        try (InputStream in = NativeLoader.class.getResourceAsStream(resource)) {
            assertNotNull(in, "no library on the classpath at " + resource);
            library = in.readAllBytes();
        }
        List<String> sections = elfSectionNames(library);
        assertTrue(sections.contains(".dynsym"), "no dynamic symbols (the JNI entry points): " + sections);
        assertTrue(sections.contains(".gnu_debuglink"), "no link to the debug file: " + sections);
        assertFalse(sections.contains(".symtab"), "a symbol table was packed: " + sections);
        assertEquals(List.of(), sections.stream().filter(s -> s.startsWith(".debug") || s.startsWith(".zdebug")).toList(),
                "debug info was packed");
    }

    /** The section names of an ELF file, from its section header table. */
    static List<String> elfSectionNames(byte[] elf) {
        assertTrue(elf.length > 64 && elf[0] == 0x7f && elf[1] == 'E' && elf[2] == 'L' && elf[3] == 'F', "not an ELF file");
        boolean is64 = elf[4] == 2;
        ByteBuffer b = ByteBuffer.wrap(elf).order(elf[5] == 2 ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        long shoff = is64 ? b.getLong(0x28) : Integer.toUnsignedLong(b.getInt(0x20));
        int shentsize = Short.toUnsignedInt(b.getShort(is64 ? 0x3a : 0x2e));
        int shnum = Short.toUnsignedInt(b.getShort(is64 ? 0x3c : 0x30));
        int shstrndx = Short.toUnsignedInt(b.getShort(is64 ? 0x3e : 0x32));
        assertTrue(shnum > 0 && shstrndx < shnum, "no section header table");
        long namesAt = sectionOffset(b, is64, (int) shoff + shstrndx * shentsize);
        List<String> names = new ArrayList<>();
        for (int i = 0; i < shnum; i++) {
            int nameAt = (int) (namesAt + Integer.toUnsignedLong(b.getInt((int) shoff + i * shentsize)));
            int end = nameAt;
            while (elf[end] != 0) {
                end++;
            }
            names.add(new String(elf, nameAt, end - nameAt, StandardCharsets.US_ASCII));
        }
        return names;
    }

    private static long sectionOffset(ByteBuffer b, boolean is64, int header) {
        return is64 ? b.getLong(header + 0x18) : Integer.toUnsignedLong(b.getInt(header + 0x10));
    }
}
