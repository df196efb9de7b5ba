//! Catch-up subscriptions: history from a starting point, then live events, in order.
//!
//! A subscription is pulled, not pushed: it keeps a cursor (the next position of $all, or the
//! next revision of a stream) and a buffer of at most one page, and reads the next page from
//! the store, in place, when the buffer runs dry. When it has read everything committed it
//! reports `CaughtUp` once and waits on the store's head watch for the next commit.
//!
//! Consequences, which are the contract:
//! - no gap and no duplicate, across the switch from history to live: the cursor only moves
//!   forward over a gapless log, and history and live events come from the same reads;
//! - memory stays flat however far behind a consumer is: one page, whatever the backlog;
//! - no LMDB snapshot is held between pages, so a slow consumer does not pin old pages;
//! - it never stops silently: a failure (the store closed, the stream tombstoned, corruption)
//!   is delivered as an error, after which the subscription ends.

use std::collections::VecDeque;

use crate::db::Db;
use crate::error::{Error, ErrorCode, Result};
use crate::types::{Filter, ReadAllOptions, ReadOptions, RecordedEvent, SubscriptionStart};

/// Options of [`Db::subscribe_to_all`] and [`Db::subscribe_to_stream`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOptions {
    pub start: SubscriptionStart,
    /// Which events of $all are delivered (ignored by stream subscriptions).
    pub filter: Filter,
    /// Most events read (and held) at once.
    pub page_size: u64,
}

impl SubscribeOptions {
    pub fn from_start() -> SubscribeOptions {
        SubscribeOptions { start: SubscriptionStart::Start, filter: Filter::default(), page_size: 512 }
    }
    pub fn from_end() -> SubscribeOptions {
        SubscribeOptions { start: SubscriptionStart::End, ..SubscribeOptions::from_start() }
    }
    pub fn after(checkpoint: u64) -> SubscribeOptions {
        SubscribeOptions { start: SubscriptionStart::After(checkpoint), ..SubscribeOptions::from_start() }
    }
    pub fn filter(mut self, filter: Filter) -> SubscribeOptions {
        self.filter = filter;
        self
    }
    pub fn page_size(mut self, page_size: u64) -> SubscribeOptions {
        self.page_size = page_size;
        self
    }
}

/// What a subscription delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionMessage {
    Event(RecordedEvent),
    /// Everything committed when the subscription last looked has been delivered; live events
    /// follow. Sent once.
    CaughtUp,
}

#[derive(Debug, Clone)]
enum Target {
    All { filter: Filter },
    Stream { name: String },
}

/// A catch-up subscription: see the module documentation. Dropping it (or `close`) ends it.
pub struct Subscription {
    db: Db,
    target: Target,
    /// Next position (for $all) or revision (for a stream) to read.
    cursor: u64,
    page_size: u64,
    buffer: VecDeque<RecordedEvent>,
    head: tokio::sync::watch::Receiver<u64>,
    caught_up_sent: bool,
    ended: bool,
}

impl Db {
    /// Subscribes to the global log: history from `options.start`, then live events, filtered.
    pub fn subscribe_to_all(&self, options: SubscribeOptions) -> Result<Subscription> {
        let cursor = match options.start {
            SubscriptionStart::Start => 0,
            SubscriptionStart::End => self.head_position()?,
            SubscriptionStart::After(position) => position.saturating_add(1),
        };
        Subscription::new(self, Target::All { filter: options.filter }, cursor, options.page_size)
    }

    /// Subscribes to one stream: its events from `options.start` (a revision), then live ones.
    /// The stream need not exist yet. Events hidden by the stream's metadata are skipped.
    pub fn subscribe_to_stream(&self, stream: &str, options: SubscribeOptions) -> Result<Subscription> {
        let cursor = match options.start {
            SubscriptionStart::Start => 0,
            SubscriptionStart::End => match self.stream_info(stream) {
                Ok(info) => info.next_revision,
                Err(e) if e.code() == ErrorCode::NotFound => 0,
                Err(e) => return Err(e),
            },
            SubscriptionStart::After(revision) => revision.saturating_add(1),
        };
        Subscription::new(self, Target::Stream { name: stream.to_string() }, cursor, options.page_size)
    }
}

impl Subscription {
    fn new(db: &Db, target: Target, cursor: u64, page_size: u64) -> Result<Subscription> {
        if page_size == 0 {
            return Err(Error::InvalidArgument("a subscription's page size must be at least 1".into()));
        }
        if let Target::Stream { name } = &target {
            // Checks the name now rather than on the first read.
            match db.stream_info(name) {
                Ok(_) => {}
                Err(e) if e.code() == ErrorCode::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Subscription {
            db: db.clone(),
            target,
            cursor,
            page_size,
            buffer: VecDeque::new(),
            head: db.watch_head()?,
            caught_up_sent: false,
            ended: false,
        })
    }

    /// The next message; `None` once the subscription has ended (closed, or after an error).
    pub async fn next(&mut self) -> Option<Result<SubscriptionMessage>> {
        loop {
            if self.ended {
                return None;
            }
            if let Some(event) = self.buffer.pop_front() {
                return Some(Ok(SubscriptionMessage::Event(event)));
            }
            // Mark what we have seen of the head before reading: a commit landing after the
            // read then shows up as a change, so the wait below cannot miss it.
            self.head.borrow_and_update();
            match self.fill() {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => return Some(Err(self.end_with(e))),
            }
            if !self.caught_up_sent {
                self.caught_up_sent = true;
                return Some(Ok(SubscriptionMessage::CaughtUp));
            }
            if self.head.changed().await.is_err() {
                return Some(Err(self.end_with(Error::Closed)));
            }
        }
    }

    /// The subscription as a [`Stream`](futures_util::Stream), for stream combinators and
    /// `while let Some(m) = stream.next().await` with `StreamExt`. It ends where `next` returns
    /// `None`; dropping it closes the subscription.
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Result<SubscriptionMessage>> + Send {
        futures_util::stream::unfold(self, |mut subscription| async move {
            subscription.next().await.map(|message| (message, subscription))
        })
    }

    /// [`Subscription::next`] for threads without an async runtime: blocks this thread.
    pub fn next_blocking(&mut self) -> Option<Result<SubscriptionMessage>> {
        crate::runtime::block_on(self.next())
    }

    /// Ends the subscription: later calls to `next` return `None`.
    pub fn close(&mut self) {
        self.ended = true;
        self.buffer.clear();
    }

    /// Events read but not yet delivered: never more than a page.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    fn end_with(&mut self, error: Error) -> Error {
        self.close();
        error
    }

    /// Reads the next page into the buffer; false when nothing new was committed.
    fn fill(&mut self) -> Result<bool> {
        match &self.target {
            Target::All { filter } => {
                // Filter while visiting, not in the read, so the cursor moves past every event
                // scanned even when few match: a page bounds the work, matched or not.
                let (buffer, cursor) = (&mut self.buffer, &mut self.cursor);
                let scanned = self.db.visit_all(
                    &ReadAllOptions::forwards().from(*cursor).limit(self.page_size),
                    |e| {
                        *cursor = e.position + 1;
                        // Shredded events are passed over: their data is gone for good.
                        if !e.shredded && filter.matches(e.stream, e.event_type) {
                            buffer.push_back(e.to_recorded());
                        }
                        true
                    },
                )?;
                Ok(scanned > 0)
            }
            Target::Stream { name } => {
                let options = ReadOptions::forwards().from(self.cursor).limit(self.page_size);
                let events = match self.db.read_stream(name, options) {
                    Ok(events) => events,
                    // Not written yet, or soft-deleted: nothing to deliver until it is written.
                    Err(e) if e.code() == ErrorCode::NotFound => return Ok(false),
                    Err(e) => return Err(e),
                };
                let Some(last) = events.last() else { return Ok(false) };
                self.cursor = last.revision + 1;
                self.buffer.extend(events.into_iter().filter(|e| !e.shredded));
                Ok(true)
            }
        }
    }
}
