//! Helpers shared by the integration tests (each test file includes this module).
#![allow(dead_code)]

use graveyard::{Db, Durability, Options};

/// A store without fsync: for tests that do not test durability.
pub fn open_fast(dir: &std::path::Path) -> Db {
    Db::open_with(Options::new(dir).durability(Durability::NoFsyncUnsafe)).unwrap()
}

/// A minimal executor: the core's futures need no particular runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(output) => return output,
            std::task::Poll::Pending => std::thread::park(),
        }
    }
}
