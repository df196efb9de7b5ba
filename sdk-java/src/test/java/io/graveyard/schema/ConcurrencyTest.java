package io.graveyard.schema;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graveyard.schema.fixtures.OrderPlaced;
import io.graveyard.schema.fixtures.User;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/** Many threads deriving, writing and reading the same classes, starting together. */
class ConcurrencyTest {

    @GraveyardEntity("fresh-a")
    record FreshA(String name, List<FreshB> items) {
    }

    record FreshB(int n) {
    }

    @GraveyardEntity("fresh-broken")
    static class FreshBroken {
        Object broken;
    }

    @Test
    void manyThreadsAgree() throws Exception {
        int threads = 32;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch start = new CountDownLatch(1);
        String expectedUser;
        byte[] expectedUserJson;
        try {
            List<Future<List<Object>>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Callable<List<Object>> task = () -> {
                    start.await();
                    List<Object> out = new ArrayList<>();
                    for (int i = 0; i < 200; i++) {
                        out.add(Entities.schemaJson(FreshA.class));
                        FreshA a = new FreshA("n" + i, List.of(new FreshB(i)));
                        assertEquals(a, Entities.fromJson(Entities.toJson(a), FreshA.class));
                        out.add(Entities.schemaJson(User.class));
                        User user = User.valid();
                        assertEquals(user, Entities.fromJson(Entities.toJson(user), User.class));
                        out.add(Entities.toJson(OrderPlaced.valid()));
                        try {
                            Entities.schemaJson(FreshBroken.class);
                            out.add("no problem?");
                        } catch (SchemaDerivationException e) {
                            out.add(e.getProblems());
                        }
                    }
                    return out;
                };
                results.add(pool.submit(task));
            }
            start.countDown();
            List<Object> first = results.get(0).get(60, TimeUnit.SECONDS);
            for (Future<List<Object>> result : results) {
                List<Object> out = result.get(60, TimeUnit.SECONDS);
                assertEquals(first.size(), out.size());
                for (int i = 0; i < out.size(); i++) {
                    if (out.get(i) instanceof byte[]) {
                        assertArrayEquals((byte[]) first.get(i), (byte[]) out.get(i));
                    } else {
                        assertEquals(first.get(i), out.get(i));
                    }
                }
            }
            assertTrue(first.get(3) instanceof List, "the broken class reports its problems every time");
        } finally {
            pool.shutdownNow();
        }
    }
}
