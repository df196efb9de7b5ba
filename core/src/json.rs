//! The strict check of event data labelled `application/json` (docs/semantics.md, "JSON data").
//!
//! A syntax check is not enough: data that some parser accepts and another refuses is stored
//! once and then stalls every consumer whose parser refuses it (issue 20: invalid UTF-8 in a
//! string, a lone surrogate escape, nesting past Jackson's limit). So an append is held to the
//! strictest common ground of the parsers our SDKs use: RFC 8259's grammar, UTF-8 everywhere,
//! escapes that denote Unicode scalar values, a bounded depth, and no key twice in one object
//! (parsers disagree on which of two values wins, so two consumers would see different data).
//!
//! One pass, no recursion (depth is counted on an explicit stack, so a document a million
//! levels deep costs nothing but the bytes read before the limit), and no allocation unless the
//! document nests deeper than [`INLINE`] levels, holds more than [`INLINE`] keys in open objects
//! at once, or has an object of more than [`LINEAR_KEYS`] keys. Appends pay this check on every
//! JSON event; it must cost no more than the syntax check it replaced (`serde_json` into
//! `IgnoredAny`), which the micro-benchmark in `tests` measures.

use std::borrow::Cow;
use std::fmt;
use std::mem::MaybeUninit;

/// Containers and keys kept on the caller's stack before spilling to the heap.
const INLINE: usize = 32;

/// Keys of one object checked one by one as they come (a bit per key in a 64-bit filter, then a
/// scan of the keys seen only when the bit was set); an object with more is checked with a
/// hash table when it closes. Events are mostly small objects, where this beats hashing.
const LINEAR_KEYS: usize = 16;

/// Why data was refused, and where: `offset` is a byte offset into the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonError {
    pub offset: usize,
    pub kind: JsonErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JsonErrorKind {
    InvalidUtf8,
    /// A value was expected: the data is empty or whitespace, or something else stands there.
    ExpectedValue,
    /// Something else than `what` follows.
    Expected(&'static str),
    TrailingComma,
    /// More follows the value.
    TrailingData,
    LeadingZero,
    /// `-`, `.` or an exponent without the digit that must follow it.
    MissingDigit(&'static str),
    UnterminatedString,
    /// A byte below 0x20 in a string: it must be escaped.
    ControlCharacter(u8),
    InvalidEscape,
    /// A `\u` escape of a surrogate that is not a high one followed by a low one.
    LoneSurrogate,
    /// An array or object opened at depth `limit + 1`.
    TooDeep {
        limit: usize,
    },
    /// The key, unescaped.
    DuplicateKey(String),
}

impl JsonError {
    fn at(offset: usize, kind: JsonErrorKind) -> JsonError {
        JsonError { offset, kind }
    }

    /// The data is not JSON at all (RFC 8259), as opposed to JSON refused by a rule of ours
    /// (depth, duplicate keys).
    pub fn is_syntax(&self) -> bool {
        !matches!(self.kind, JsonErrorKind::TooDeep { .. } | JsonErrorKind::DuplicateKey(_))
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use JsonErrorKind as K;
        match &self.kind {
            K::InvalidUtf8 => f.write_str("invalid UTF-8")?,
            K::ExpectedValue => f.write_str("expected a value")?,
            K::Expected(what) => write!(f, "expected {what}")?,
            K::TrailingComma => f.write_str("a comma must be followed by a value")?,
            K::TrailingData => f.write_str("more data after the JSON value")?,
            K::LeadingZero => f.write_str("a number cannot start with 0 followed by a digit")?,
            K::MissingDigit(after) => write!(f, "{after} must be followed by a digit")?,
            K::UnterminatedString => f.write_str("string without its closing quote")?,
            K::ControlCharacter(b) => {
                write!(f, "control character 0x{b:02x} in a string (it must be escaped)")?
            }
            K::InvalidEscape => f.write_str("invalid escape")?,
            K::LoneSurrogate => f.write_str(
                "lone surrogate escape (a \\uD800-\\uDBFF must be followed by a \\uDC00-\\uDFFF)",
            )?,
            K::TooDeep { limit } => write!(f, "arrays and objects nest deeper than {limit} levels")?,
            K::DuplicateKey(key) => {
                // Shown escaped (Debug) and cut short: it is the sender's data, in a log line.
                const SHOWN: usize = 64;
                match key.char_indices().nth(SHOWN) {
                    Some((cut, _)) => write!(f, "duplicate key {:?}... in an object", &key[..cut])?,
                    None => write!(f, "duplicate key {key:?} in an object")?,
                }
            }
        }
        write!(f, " at byte {}", self.offset)
    }
}

/// Checks that `bytes` are one strict JSON value (see the module) whose arrays and objects nest
/// at most `max_depth` levels (a scalar is at depth 0, `[]` at depth 1).
pub(crate) fn check(bytes: &[u8], max_depth: usize) -> Result<(), JsonError> {
    let top = Frame { keys_start: ARRAY, bloom: 0 };
    let checked =
        Checker { bytes, pos: 0, max_depth, depth: 0, top, outer: Stack::new(), keys: Stack::new() }.run();
    checked.map_err(|e| match std::str::from_utf8(bytes) {
        // UTF-8 is only checked in strings, where it can be anything; a byte above 0x7f elsewhere
        // breaks the grammar, but if the bytes are not UTF-8 either, that is the news.
        Err(utf8) if utf8.valid_up_to() <= e.offset => {
            JsonError::at(utf8.valid_up_to(), JsonErrorKind::InvalidUtf8)
        }
        _ => *e,
    })
}

/// What the checker's steps return: the error is boxed to keep the results of the hot steps a
/// register wide (an error ends the check, so its allocation costs nothing that matters).
type Step<T> = Result<T, Box<JsonError>>;

#[cold]
fn fail(offset: usize, kind: JsonErrorKind) -> Box<JsonError> {
    Box::new(JsonError { offset, kind })
}

/// An open array or object. No `bool` in it nor in `Key`: their padding made the copies of
/// these small structs partial, and the loads of a copy could not be forwarded from the stores
/// (a stall that cost a tenth of the check; perf).
#[derive(Clone, Copy)]
struct Frame {
    /// For an object: where its keys start in `Checker::keys`; for an array, [`ARRAY`].
    keys_start: usize,
    /// For an object: a bit per key seen, chosen by its tag. A key whose bit is not set is new,
    /// which settles most keys without comparing them to the others.
    bloom: u64,
}

const ARRAY: usize = usize::MAX;

impl Frame {
    #[inline]
    fn is_object(&self) -> bool {
        self.keys_start != ARRAY
    }
}

/// A key of an open object: the text between its quotes.
#[derive(Clone, Copy)]
struct Key {
    start: usize,
    end: usize,
    /// A hash of its unescaped text ([`tag`]), whose lowest bit says whether the text holds an
    /// escape.
    tag: u64,
}

impl Key {
    fn new(start: usize, end: usize, escaped: bool, hash: u64) -> Key {
        Key { start, end, tag: (hash & !1) | u64::from(escaped) }
    }

    #[inline]
    fn escaped(&self) -> bool {
        self.tag & 1 != 0
    }

    /// Keys whose hashes differ differ.
    #[inline]
    fn hash(&self) -> u64 {
        self.tag | 1
    }
}

struct Checker<'a> {
    bytes: &'a [u8],
    pos: usize,
    max_depth: usize,
    /// Open arrays and objects.
    depth: usize,
    /// The innermost open one (when `depth > 0`), kept apart: it is the one every value asks.
    top: Frame,
    /// The others, outermost first.
    outer: Stack<Frame, INLINE>,
    /// The keys of every open object, outermost first.
    keys: Stack<Key, INLINE>,
}

impl<'a> Checker<'a> {
    fn run(mut self) -> Step<()> {
        'value: loop {
            self.skip_whitespace();
            match self.peek() {
                Some(b'{') => {
                    self.open(true)?;
                    self.skip_whitespace();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        self.close_object()?;
                    } else {
                        self.key(JsonErrorKind::Expected("a string key or '}'"))?;
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    self.open(false)?;
                    self.skip_whitespace();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        self.close();
                    } else {
                        continue 'value;
                    }
                }
                Some(b'"') => {
                    self.string()?;
                }
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                _ => return Err(self.error(JsonErrorKind::ExpectedValue)),
            }
            // After a value: what its container (or the end of the data) expects next.
            loop {
                self.skip_whitespace();
                if self.depth == 0 {
                    return match self.pos == self.bytes.len() {
                        true => Ok(()),
                        false => Err(self.error(JsonErrorKind::TrailingData)),
                    };
                }
                match (self.peek(), self.top.is_object()) {
                    (Some(b','), false) => {
                        self.pos += 1;
                        self.skip_whitespace();
                        if self.peek() == Some(b']') {
                            return Err(self.error(JsonErrorKind::TrailingComma));
                        }
                        continue 'value;
                    }
                    (Some(b']'), false) => {
                        self.pos += 1;
                        self.close();
                    }
                    (Some(b','), true) => {
                        self.pos += 1;
                        self.skip_whitespace();
                        if self.peek() == Some(b'}') {
                            return Err(self.error(JsonErrorKind::TrailingComma));
                        }
                        self.key(JsonErrorKind::Expected("a string key"))?;
                        continue 'value;
                    }
                    (Some(b'}'), true) => {
                        self.pos += 1;
                        self.close_object()?;
                    }
                    (_, false) => return Err(self.error(JsonErrorKind::Expected("',' or ']'"))),
                    (_, true) => return Err(self.error(JsonErrorKind::Expected("',' or '}'"))),
                }
            }
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn error(&self, kind: JsonErrorKind) -> Box<JsonError> {
        fail(self.pos, kind)
    }

    #[inline]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    /// At `[` or `{`.
    fn open(&mut self, object: bool) -> Step<()> {
        if self.depth >= self.max_depth {
            return Err(self.error(JsonErrorKind::TooDeep { limit: self.max_depth }));
        }
        if self.depth > 0 {
            self.outer.push(self.top);
        }
        let keys_start = if object { self.keys.len() } else { ARRAY };
        self.top = Frame { keys_start, bloom: 0 };
        self.depth += 1;
        self.pos += 1;
        Ok(())
    }

    /// After the `]` or `}` of the innermost open array or object.
    #[inline]
    fn close(&mut self) {
        self.depth -= 1;
        if let Some(frame) = self.outer.pop() {
            self.top = frame;
        }
    }

    /// After the `}` of the innermost open object.
    fn close_object(&mut self) -> Step<()> {
        let first = self.top.keys_start;
        if self.keys.len() - first > LINEAR_KEYS {
            self.large_object_is_unique(first)?;
        }
        self.keys.truncate(first);
        self.close();
        Ok(())
    }

    /// At a member's key (whitespace skipped): reads it, refuses it if its object has it
    /// already, and reads the `:` after it. `otherwise` is the error when no key stands there.
    fn key(&mut self, otherwise: JsonErrorKind) -> Step<()> {
        if self.peek() != Some(b'"') {
            return Err(self.error(otherwise));
        }
        let start = self.pos + 1;
        let escaped = self.string()?;
        let end = self.pos - 1;
        // Fields kept apart until the push: a `Key` built and then copied whole is a store the
        // copy's wider load cannot forward, which cost a third of this function (perf).
        let hash = match escaped {
            false => tag(&self.bytes[start..end]),
            true => tag(self.unescaped(Key::new(start, end, true, 0)).as_bytes()),
        };
        let key = Key::new(start, end, escaped, hash);
        let first = self.top.keys_start;
        // Up to LINEAR_KEYS, each key is checked as it comes; beyond, the whole object is
        // checked when it closes (`large_object_is_unique`).
        if self.keys.len() - first < LINEAR_KEYS {
            let bit = 1u64 << (key.tag >> 58);
            let maybe_seen = self.top.bloom & bit != 0;
            self.top.bloom |= bit;
            if maybe_seen {
                self.scan_for(first, key)?;
            }
        }
        self.keys.push(key);
        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return Err(self.error(JsonErrorKind::Expected("':' after a key")));
        }
        self.pos += 1;
        Ok(())
    }

    /// Refuses `key` if it is among the keys from `first` on.
    #[inline(never)]
    fn scan_for(&self, first: usize, key: Key) -> Step<()> {
        let found = (first..self.keys.len()).any(|i| {
            let other = self.keys.get(i);
            other.hash() == key.hash() && self.same_key(other, key)
        });
        match found {
            true => Err(self.duplicate(key)),
            false => Ok(()),
        }
    }

    #[cold]
    fn duplicate(&self, key: Key) -> Box<JsonError> {
        // The opening quote.
        fail(key.start - 1, JsonErrorKind::DuplicateKey(self.unescaped(key).into_owned()))
    }

    /// Refuses a key repeated among the keys from `first` in `keys` (an object of more than
    /// LINEAR_KEYS), reporting the first repetition in the data as the check key by key does.
    /// A hash table of their tags, open addressing: about one probe per key. Tags are not keyed
    /// (a sender can make keys that share one), so the probes have a budget linear in the
    /// number of keys; keys that exhaust it are sorted instead, which nothing makes slower than
    /// n log n comparisons.
    fn large_object_is_unique(&self, first: usize) -> Step<()> {
        const EMPTY: usize = usize::MAX;
        let count = self.keys.len() - first;
        let bits = (2 * count).next_power_of_two().trailing_zeros();
        let mask = (1usize << bits) - 1;
        let mut slots = vec![EMPTY; 1 << bits];
        let mut budget = 8 * count;
        for i in 0..count {
            let key = self.keys.get(first + i);
            let mut slot = (key.hash() >> (64 - bits)) as usize;
            loop {
                let held = slots[slot];
                if held == EMPTY {
                    slots[slot] = i;
                    break;
                }
                if self.same_key(self.keys.get(first + held), key) {
                    return Err(self.duplicate(key));
                }
                budget -= 1;
                if budget == 0 {
                    return self.sorted_keys_are_unique(first);
                }
                slot = (slot + 1) & mask;
            }
        }
        Ok(())
    }

    /// `large_object_is_unique` by sorting the keys, so that equal keys are neighbours.
    #[cold]
    fn sorted_keys_are_unique(&self, first: usize) -> Step<()> {
        let mut keys: Vec<Key> = (first..self.keys.len()).map(|i| self.keys.get(i)).collect();
        keys.sort_unstable_by(|a, b| {
            a.hash().cmp(&b.hash()).then_with(|| self.compare_keys(*a, *b)).then(a.start.cmp(&b.start))
        });
        let repeated = keys
            .windows(2)
            .filter(|pair| self.same_key(pair[0], pair[1]))
            .map(|pair| pair[1])
            .min_by_key(|key| key.start);
        match repeated {
            Some(key) => Err(self.duplicate(key)),
            None => Ok(()),
        }
    }

    fn same_key(&self, a: Key, b: Key) -> bool {
        if a.hash() != b.hash() {
            return false;
        }
        if !a.escaped() && !b.escaped() {
            return self.bytes[a.start..a.end] == self.bytes[b.start..b.end];
        }
        Unescape(self.text(a)).eq(Unescape(self.text(b)))
    }

    /// An order of keys by their unescaped text.
    fn compare_keys(&self, a: Key, b: Key) -> std::cmp::Ordering {
        if !a.escaped() && !b.escaped() {
            return self.bytes[a.start..a.end].cmp(&self.bytes[b.start..b.end]);
        }
        Unescape(self.text(a)).cmp(Unescape(self.text(b)))
    }

    /// A key's text as it stands in the data.
    fn text(&self, key: Key) -> &'a str {
        // `string` checked that it is UTF-8; were it not, every such key would compare equal,
        // refusing the data, never accepting it.
        std::str::from_utf8(&self.bytes[key.start..key.end]).unwrap_or_default()
    }

    /// A key's text, unescaped (borrowed when it has no escape).
    fn unescaped(&self, key: Key) -> Cow<'a, str> {
        let text = self.text(key);
        match key.escaped() {
            false => Cow::Borrowed(text),
            true => Cow::Owned(Unescape(text).collect()),
        }
    }

    /// At `"`: reads a string and leaves `pos` after its closing quote. True when it holds an
    /// escape.
    #[inline(always)]
    fn string(&mut self) -> Step<bool> {
        let quote = self.pos;
        self.pos += 1;
        let mut escaped = false;
        loop {
            self.pos = skip_plain(self.bytes, self.pos);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                Some(0x80..) => self.non_ascii()?,
                Some(b) => return Err(self.error(JsonErrorKind::ControlCharacter(b))),
                None => return Err(fail(quote, JsonErrorKind::UnterminatedString)),
            }
        }
    }

    /// At a byte above 0x7f in a string: checks the UTF-8 characters up to the next ASCII
    /// byte (Unicode's table 3-7 of well-formed sequences: no overlong forms, no surrogates,
    /// nothing above U+10FFFF), inline: a call to `std::str::from_utf8` per run cost twice as
    /// much on accented text, where runs are one character.
    fn non_ascii(&mut self) -> Step<()> {
        let bytes = self.bytes;
        let mut pos = self.pos;
        while let Some(&lead) = bytes.get(pos) {
            if lead < 0x80 {
                break;
            }
            let continues = |i: usize| bytes.get(pos + i).is_some_and(|&b| (0x80..=0xBF).contains(&b));
            let second =
                |range: std::ops::RangeInclusive<u8>| bytes.get(pos + 1).is_some_and(|b| range.contains(b));
            let width = match lead {
                0xC2..=0xDF if continues(1) => 2,
                0xE0 if second(0xA0..=0xBF) && continues(2) => 3,
                0xE1..=0xEC | 0xEE..=0xEF if continues(1) && continues(2) => 3,
                0xED if second(0x80..=0x9F) && continues(2) => 3,
                0xF0 if second(0x90..=0xBF) && continues(2) && continues(3) => 4,
                0xF1..=0xF3 if continues(1) && continues(2) && continues(3) => 4,
                0xF4 if second(0x80..=0x8F) && continues(2) && continues(3) => 4,
                _ => return Err(fail(pos, JsonErrorKind::InvalidUtf8)),
            };
            pos += width;
        }
        self.pos = pos;
        Ok(())
    }

    /// At `\` in a string.
    fn escape(&mut self) -> Step<()> {
        let at = self.pos;
        match self.bytes.get(at + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 2;
                Ok(())
            }
            Some(b'u') => {
                let Some(unit) = hex4(self.bytes, at + 2) else {
                    return Err(fail(at, JsonErrorKind::InvalidEscape));
                };
                self.pos += 6;
                match unit {
                    0xD800..=0xDBFF => {
                        let low = match self.bytes.get(self.pos..self.pos + 2) {
                            Some(b"\\u") => hex4(self.bytes, self.pos + 2),
                            _ => None,
                        };
                        match low {
                            Some(0xDC00..=0xDFFF) => {
                                self.pos += 6;
                                Ok(())
                            }
                            _ => Err(fail(at, JsonErrorKind::LoneSurrogate)),
                        }
                    }
                    0xDC00..=0xDFFF => Err(fail(at, JsonErrorKind::LoneSurrogate)),
                    _ => Ok(()),
                }
            }
            _ => Err(fail(at, JsonErrorKind::InvalidEscape)),
        }
    }

    /// At `-` or a digit: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`. Any size:
    /// what a number means (`1e400`) is the reader's business, the grammar is ours.
    fn number(&mut self) -> Step<()> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.error(JsonErrorKind::LeadingZero));
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error(JsonErrorKind::MissingDigit("'-'"))),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.required_digits("a decimal point")?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.required_digits("an exponent")?;
        }
        Ok(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn required_digits(&mut self, after: &'static str) -> Step<()> {
        match self.peek() {
            Some(b'0'..=b'9') => {
                self.digits();
                Ok(())
            }
            _ => Err(self.error(JsonErrorKind::MissingDigit(after))),
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Step<()> {
        match self.bytes[self.pos..].starts_with(word) {
            true => {
                self.pos += word.len();
                Ok(())
            }
            false => Err(self.error(JsonErrorKind::ExpectedValue)),
        }
    }
}

/// The first position from `pos` holding `"`, `\`, a byte below 0x20 or above 0x7f (or the
/// end). Eight bytes at a time: strings are most of an event's bytes.
#[inline]
fn skip_plain(bytes: &[u8], mut pos: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // A byte of `x` is flagged when it is zero (resp. below 0x20); a borrow can only flag
        // bytes above a flagged one, so the lowest flag is exact.
        let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
        let quote = zero(word ^ (ONES * u64::from(b'"')));
        let backslash = zero(word ^ (ONES * u64::from(b'\\')));
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
        let found = quote | backslash | control | (word & HIGH);
        if found != 0 {
            return pos + (found.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while let Some(&b) = bytes.get(pos) {
        if b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b) {
            break;
        }
        pos += 1;
    }
    pos
}

/// A hash of a key's unescaped text, for `Frame::bloom` and to tell most keys apart without
/// comparing them: its length and its first and last eight bytes, mixed.
#[inline]
fn tag(text: &[u8]) -> u64 {
    const MIX: u64 = 0x9e37_79b9_7f4a_7c15;
    let n = text.len();
    let word = |at: usize| u64::from_le_bytes(text[at..at + 8].try_into().expect("8 bytes"));
    let half = |at: usize| u64::from(u32::from_le_bytes(text[at..at + 4].try_into().expect("4 bytes")));
    // Overlapping loads rather than a loop over the bytes of a short key.
    let (head, tail) = match n {
        8.. => (word(0), word(n - 8)),
        4..8 => (half(0), half(n - 4)),
        1..4 => (u64::from(text[0]) | u64::from(text[n / 2]) << 8 | u64::from(text[n - 1]) << 16, 0),
        0 => (0, 0),
    };
    let x = (head ^ tail.rotate_left(23) ^ (n as u64)).wrapping_mul(MIX);
    x ^ (x >> 29)
}

/// Four hex digits at `at`.
fn hex4(bytes: &[u8], at: usize) -> Option<u16> {
    let digits = bytes.get(at..at + 4)?;
    let mut unit = 0u16;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return None,
        };
        unit = unit << 4 | u16::from(v);
    }
    Some(unit)
}

/// The characters of a string's text (between its quotes), escapes decoded. Only for text that
/// `Checker::string` accepted, so every escape is complete and every surrogate paired.
struct Unescape<'a>(&'a str);

impl Iterator for Unescape<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let mut chars = self.0.chars();
        let c = chars.next()?;
        if c != '\\' {
            self.0 = chars.as_str();
            return Some(c);
        }
        let rest = chars.as_str();
        let (c, used) = match rest.as_bytes().first() {
            Some(b'b') => ('\u{8}', 1),
            Some(b'f') => ('\u{c}', 1),
            Some(b'n') => ('\n', 1),
            Some(b'r') => ('\r', 1),
            Some(b't') => ('\t', 1),
            Some(b'u') => {
                let high = hex4(rest.as_bytes(), 1).unwrap_or(0xFFFD);
                match high {
                    0xD800..=0xDBFF => {
                        let low = hex4(rest.as_bytes(), 7).unwrap_or(0xDC00);
                        let scalar = 0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                        (char::from_u32(scalar).unwrap_or('\u{FFFD}'), 11)
                    }
                    unit => (char::from_u32(u32::from(unit)).unwrap_or('\u{FFFD}'), 5),
                }
            }
            // `"`, `\` and `/` stand for themselves.
            Some(&b) => (char::from(b), 1),
            None => ('\\', 0),
        };
        self.0 = rest.get(used..).unwrap_or("");
        Some(c)
    }
}

/// A stack that lives inline up to `N` items and spills to the heap beyond. The inline part
/// starts uninitialised: zeroing it cost more than checking a small event (measured).
struct Stack<T, const N: usize> {
    /// Items `0..min(len, N)` are initialised.
    inline: [MaybeUninit<T>; N],
    len: usize,
    /// Items `N..len`.
    heap: Vec<T>,
}

impl<T: Copy, const N: usize> Stack<T, N> {
    fn new() -> Self {
        Stack { inline: [const { MaybeUninit::uninit() }; N], len: 0, heap: Vec::new() }
    }

    #[inline]
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn get(&self, i: usize) -> T {
        assert!(i < self.len, "item {i} of a stack of {}", self.len);
        match i < N {
            // SAFETY: `i < len` and `i < N`: `push` wrote this item (see `inline`).
            true => unsafe { self.inline[i].assume_init() },
            false => self.heap[i - N],
        }
    }

    #[inline]
    fn last(&self) -> Option<T> {
        self.len.checked_sub(1).map(|i| self.get(i))
    }

    #[inline]
    fn push(&mut self, item: T) {
        match self.len < N {
            true => {
                self.inline[self.len].write(item);
            }
            false => self.heap.push(item),
        }
        self.len += 1;
    }

    #[inline]
    fn pop(&mut self) -> Option<T> {
        let item = self.last()?;
        self.truncate(self.len - 1);
        Some(item)
    }

    #[inline]
    fn truncate(&mut self, len: usize) {
        if len < self.len {
            self.len = len;
            self.heap.truncate(len.saturating_sub(N));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use JsonErrorKind as K;

    const DEPTH: usize = crate::DEFAULT_MAX_JSON_DEPTH;

    fn check(json: impl AsRef<[u8]>, max_depth: usize) -> Result<(), JsonError> {
        super::check(json.as_ref(), max_depth)
    }

    #[track_caller]
    fn ok(json: impl AsRef<[u8]>) {
        let json = json.as_ref();
        if let Err(e) = check(json, DEPTH) {
            panic!("{:?} refused: {e}", String::from_utf8_lossy(json));
        }
    }

    #[track_caller]
    fn refused(json: impl AsRef<[u8]>, offset: usize, kind: JsonErrorKind) {
        let json = json.as_ref();
        assert_eq!(
            check(json, DEPTH),
            Err(JsonError { offset, kind }),
            "{:?}",
            String::from_utf8_lossy(json)
        );
    }

    /// `depth` levels of `open` .. `close` around `innermost`, which is one level itself.
    fn nested(open: &str, innermost: &str, close: &str, depth: usize) -> String {
        format!("{}{innermost}{}", open.repeat(depth - 1), close.repeat(depth - 1))
    }

    #[test]
    fn scalars_and_whitespace() {
        for json in ["true", "false", "null", "\"\"", "\"x\"", "0", " \t\r\n[ ] \r\n\t", "{ }", "[ 1 , 2 ]"] {
            ok(json);
        }
        for (json, offset) in [("", 0), (" \n\t\r", 4), ("\u{feff}{}", 0), ("\x0c1", 0), ("\u{a0}1", 0)] {
            refused(json, offset, K::ExpectedValue);
        }
        refused("tru", 0, K::ExpectedValue);
        refused("nul", 0, K::ExpectedValue);
        refused("True", 0, K::ExpectedValue);
        refused("'a'", 0, K::ExpectedValue);
        refused("NaN", 0, K::ExpectedValue);
        refused("Infinity", 0, K::ExpectedValue);
        refused("truex", 4, K::TrailingData);
        refused("{} {}", 3, K::TrailingData);
        refused("{\"a\": 1} // comment", 9, K::TrailingData);
        refused("{\"a\": 1}}", 8, K::TrailingData);
        refused("1 2", 2, K::TrailingData);
    }

    #[test]
    fn numbers_follow_the_grammar_at_any_size() {
        for json in [
            "0",
            "-0",
            "-0.0",
            "7",
            "-12",
            "1.5",
            "0.001",
            "1e3",
            "1E3",
            "1e+3",
            "1e-3",
            "-1.25E-10",
            "1e400",
            "-1e400",
            "1e-400",
            "123456789012345678901234567890.123456789e123456789",
            "[0,-0,1e400]",
        ] {
            ok(json);
        }
        refused("01", 1, K::LeadingZero);
        refused("-01", 2, K::LeadingZero);
        refused("[00]", 2, K::LeadingZero);
        refused("1.", 2, K::MissingDigit("a decimal point"));
        refused("1.e3", 2, K::MissingDigit("a decimal point"));
        refused("[1.]", 3, K::MissingDigit("a decimal point"));
        refused("1e", 2, K::MissingDigit("an exponent"));
        refused("1e+", 3, K::MissingDigit("an exponent"));
        refused("1E-x", 3, K::MissingDigit("an exponent"));
        refused("-", 1, K::MissingDigit("'-'"));
        refused("-a", 1, K::MissingDigit("'-'"));
        refused("--1", 1, K::MissingDigit("'-'"));
        refused("+1", 0, K::ExpectedValue);
        refused(".5", 0, K::ExpectedValue);
        refused("0x10", 1, K::TrailingData);
        refused("1.5.3", 3, K::TrailingData);
        refused("[1 2]", 3, K::Expected("',' or ']'"));
    }

    #[test]
    fn arrays_and_objects() {
        ok(r#"{"a":[1,{"b":null},[]],"c":{"d":{}}}"#);
        ok(" { \"a\" : [ 1 , { \"b\" : null } ] } ");
        refused("[1,]", 3, K::TrailingComma);
        refused("[1, ]", 4, K::TrailingComma);
        refused(r#"{"a":1,}"#, 7, K::TrailingComma);
        refused("[,1]", 1, K::ExpectedValue);
        refused("[1,,2]", 3, K::ExpectedValue);
        refused("{,}", 1, K::Expected("a string key or '}'"));
        refused("{a:1}", 1, K::Expected("a string key or '}'"));
        refused(r#"{"a":1,b:2}"#, 7, K::Expected("a string key"));
        refused(r#"{1:1}"#, 1, K::Expected("a string key or '}'"));
        refused(r#"{"a" 1}"#, 5, K::Expected("':' after a key"));
        refused(r#"{"a":}"#, 5, K::ExpectedValue);
        refused(r#"{"a":1 "b":2}"#, 7, K::Expected("',' or '}'"));
        refused(r#"{"a":1]"#, 6, K::Expected("',' or '}'"));
        refused("[1}", 2, K::Expected("',' or ']'"));
        refused("[", 1, K::ExpectedValue);
        refused("[1", 2, K::Expected("',' or ']'"));
        refused("{", 1, K::Expected("a string key or '}'"));
        refused(r#"{"a":1"#, 6, K::Expected("',' or '}'"));
        refused("]", 0, K::ExpectedValue);
        refused("}", 0, K::ExpectedValue);
    }

    #[test]
    fn strings_must_be_utf8() {
        // Issue 20's first case: a string of the bytes ff fe.
        refused(b"\"\xff\xfe\"", 1, K::InvalidUtf8);
        refused(b"{\"a\":\"ok\",\"b\":\"\xc3\x28\"}", 15, K::InvalidUtf8);
        // A surrogate encoded in UTF-8 (CESU), an overlong encoding, a cut sequence.
        refused(b"\"\xed\xa0\x80\"", 1, K::InvalidUtf8);
        refused(b"\"\xc0\xaf\"", 1, K::InvalidUtf8);
        refused(b"\"\xe2\x82\"", 1, K::InvalidUtf8);
        refused(b"\"abc\xe2\x82", 4, K::InvalidUtf8);
        // Outside strings too (grammar aside).
        refused(b"[1]\xff", 3, K::InvalidUtf8);
        ok("\"é 😀 \u{7f} 中文\"");
        ok(r#"{"clé":"valeur","😀":["日本"]}"#);
    }

    #[test]
    fn control_characters_must_be_escaped() {
        refused("\"a\nb\"", 2, K::ControlCharacter(b'\n'));
        refused("\"\t\"", 1, K::ControlCharacter(b'\t'));
        refused("\"\u{0}\"", 1, K::ControlCharacter(0));
        refused("\"0123456789abcdef\u{1f}\"", 17, K::ControlCharacter(0x1f));
        refused("{\"a\u{1}\":1}", 3, K::ControlCharacter(1));
        ok(r#""\n\t\u0000\u001f""#);
        ok("\"\u{7f}\u{20}\"");
    }

    #[test]
    fn escapes() {
        ok(r#""\" \\ \/ \b \f \n \r \t""#);
        ok(r#""\u0041\u00e9\u00E9\uFFFF\ufeff""#);
        refused(r#""\x""#, 1, K::InvalidEscape);
        refused(r#""\U0041""#, 1, K::InvalidEscape);
        refused(r#""\'""#, 1, K::InvalidEscape);
        refused(r#""ab\u12""#, 3, K::InvalidEscape);
        refused(r#""\u12G4""#, 1, K::InvalidEscape);
        refused(r#""\u""#, 1, K::InvalidEscape);
        refused("\"\\", 1, K::InvalidEscape);
    }

    #[test]
    fn surrogates_only_as_a_high_low_pair() {
        ok(r#""\ud83d\ude00""#);
        ok(r#""\uD83D\uDE00 \udbff\udfff \ud800\udc00""#);
        ok(r#"{"\ud83d\ude00":1}"#);
        refused(r#""\ud800""#, 1, K::LoneSurrogate);
        refused(r#""\udc00""#, 1, K::LoneSurrogate);
        refused(r#""\ude00\ud83d""#, 1, K::LoneSurrogate);
        refused(r#""x\ud800\u0041""#, 2, K::LoneSurrogate);
        refused(r#""\ud800\ud800""#, 1, K::LoneSurrogate);
        refused(r#""\ud800x""#, 1, K::LoneSurrogate);
        refused(r#""\ud800\n""#, 1, K::LoneSurrogate);
        refused(r#""\ud800\udc0""#, 1, K::LoneSurrogate);
        refused(r#""\ud800"#, 1, K::LoneSurrogate);
        refused(r#"{"\udfff":1}"#, 2, K::LoneSurrogate);
    }

    #[test]
    fn unterminated_strings() {
        refused("\"abc", 0, K::UnterminatedString);
        refused("[\"0123456789abcdefghij", 1, K::UnterminatedString);
        refused("\"ab\\\"", 0, K::UnterminatedString);
        refused("{\"a", 1, K::UnterminatedString);
    }

    #[test]
    fn skip_plain_stops_at_the_first_special_byte_at_every_offset() {
        for len in 0..40 {
            for special in [b'"', b'\\', 0x00, 0x1f, 0x80, 0xc3, 0xff] {
                for at in 0..len {
                    let mut bytes: Vec<u8> =
                        (0..len).map(|i| [b'a', 0x20, 0x7f, b'~', b'!'][i % 5]).collect();
                    bytes[at] = special;
                    if at + 1 < len {
                        bytes[at + 1] = b'"';
                    }
                    assert_eq!(skip_plain(&bytes, 0), at, "{bytes:?}");
                }
                let plain = vec![b'x'; len];
                assert_eq!(skip_plain(&plain, 0), len);
            }
        }
    }

    #[test]
    fn duplicate_keys_are_refused_within_one_object() {
        let dup = |key: &str| K::DuplicateKey(key.to_owned());
        refused(r#"{"a":1,"a":2}"#, 7, dup("a"));
        refused(r#"{"a":1,"a":1}"#, 7, dup("a"));
        refused(r#"{ "a" : 1 , "b" : 2 , "a" : 3 }"#, 22, dup("a"));
        // Spelt with escapes: compared unescaped.
        refused(r#"{"a":1,"\u0061":2}"#, 7, dup("a"));
        refused(r#"{"\u0061":1,"a":2}"#, 12, dup("a"));
        refused(r#"{"é":1,"\u00e9":2}"#, 8, dup("é"));
        refused(r#"{"😀":1,"\ud83d\ude00":2}"#, 10, dup("😀"));
        refused(r#"{"a/b":1,"a\/b":2}"#, 9, dup("a/b"));
        refused(r#"{"a\"":1,"a\u0022":2}"#, 9, dup("a\""));
        // Nested, and after a nested object closed (its keys are gone, its parent's are not).
        refused(r#"{"a":{"b":1,"b":2}}"#, 12, dup("b"));
        refused(r#"{"a":1,"b":{"x":1,"y":[{"z":1}]},"a":3}"#, 33, dup("a"));
        refused(r#"[{"a":1},{"a":1,"a":1}]"#, 16, dup("a"));
        // Same key at different depths, in sibling objects, or differing in case or escape.
        ok(r#"{"a":{"a":1}}"#);
        ok(r#"{"a":{"a":{"a":[{"a":1}]}},"b":{"a":2}}"#);
        ok(r#"[{"a":1},{"a":1}]"#);
        ok(r#"{"a":1,"A":2,"a ":3,"\u0062":4,"ab":5,"a\u0000":6,"":7}"#);
        // The message names the key, escaped.
        let e = check(br#"{"a\n":1,"a\u000a":2}"#, DEPTH).unwrap_err();
        assert_eq!(e.to_string(), r#"duplicate key "a\n" in an object at byte 9"#);
    }

    fn object(keys: &[String], inner: Option<&str>) -> String {
        let mut members: Vec<String> = keys.iter().map(|k| format!("\"{k}\":1")).collect();
        if let Some(inner) = inner {
            members.insert(members.len() / 2, format!("\"inner\":{inner}"));
        }
        format!("{{{}}}", members.join(","))
    }

    #[test]
    fn large_objects_are_checked_when_they_close() {
        let keys: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
        for n in [LINEAR_KEYS - 1, LINEAR_KEYS, LINEAR_KEYS + 1, 100] {
            ok(object(&keys[..n], None));
            // Every position of the duplicate: before, at and after the switch.
            for (first, again) in [(0, n - 1), (n - 2, n - 1), (n / 2, n - 1), (0, 1)] {
                if first == again {
                    continue;
                }
                let mut with = keys[..n].to_vec();
                with[again] = with[first].clone();
                let err = check(object(&with, None), DEPTH).unwrap_err();
                assert_eq!(
                    err.kind,
                    K::DuplicateKey(keys[first].clone()),
                    "{n} keys, {first} again at {again}"
                );
            }
        }
        // Escaped, in the set.
        let mut escaped = keys[..40].to_vec();
        escaped[30] = "\\u006b3".into();
        assert_eq!(check(object(&escaped, None), DEPTH).unwrap_err().kind, K::DuplicateKey("k3".into()));
        // Large objects within large objects: each has its own keys.
        let inner = object(&keys[..40], None);
        ok(object(&keys[..40], Some(&inner)));
        let mut outer = keys[..40].to_vec();
        outer[39] = "k0".into();
        assert_eq!(
            check(object(&outer, Some(&inner)), DEPTH).unwrap_err().kind,
            K::DuplicateKey("k0".into()),
            "the duplicate comes after the inner object closed"
        );
        let mut inner_dup = keys[..40].to_vec();
        inner_dup[35] = "k34".into();
        assert_eq!(
            check(object(&keys[..5], Some(&object(&inner_dup, None))), DEPTH).unwrap_err().kind,
            K::DuplicateKey("k34".into())
        );
        // Keys made to share one tag (same length, same first and last eight bytes) exhaust the
        // hash table's budget and are sorted instead: still checked, and still fast.
        let same_tag: Vec<String> = (0..20_000).map(|i| format!("aaaaaaaa{i:08}zzzzzzzz")).collect();
        assert_eq!(tag(same_tag[0].as_bytes()), tag(same_tag[19_999].as_bytes()));
        let started = std::time::Instant::now();
        ok(object(&same_tag, None));
        let mut with = same_tag.clone();
        with[15_000] = with[12_345].clone();
        with[17_000] = with[3].clone();
        assert_eq!(
            check(object(&with, None), DEPTH),
            Err(JsonError::at(
                object(&same_tag[..15_000], None).len(),
                K::DuplicateKey(same_tag[12_345].clone())
            ))
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
        // A small object inside a large one, then the large one goes on.
        let small = object(&keys[..3], None);
        ok(object(&keys[..60], Some(&small)));
    }

    #[test]
    fn keys_of_many_open_objects_spill_to_the_heap() {
        // 40 levels of 3 keys each: more than INLINE keys and frames open at once.
        let mut json = String::new();
        for _ in 0..40 {
            json.push_str(r#"{"a":1,"b":2,"c":"#);
        }
        json.push_str("null");
        json.push_str(&"}".repeat(40));
        ok(&json);
        let dup_deep = json.replacen(r#""b":2,"c":null"#, r#""b":2,"a":null"#, 1);
        assert_eq!(check(&dup_deep, DEPTH).unwrap_err().kind, K::DuplicateKey("a".into()));
        // After the innermost closes, the outer levels' keys are all still there.
        let dup_after = format!("{}{}", &json[..json.len() - 20], r#","b":0}}}}}}}}}}}}}}}}}}}}"#);
        assert_eq!(check(&dup_after, DEPTH).unwrap_err().kind, K::DuplicateKey("b".into()));
    }

    #[test]
    fn depth_is_counted_by_containers() {
        assert_eq!(check(b"1", 1), Ok(()));
        assert_eq!(check(b"[]", 1), Ok(()));
        assert_eq!(check(b"[[]]", 1), Err(JsonError::at(1, K::TooDeep { limit: 1 })));
        assert_eq!(check(b"{\"a\":{}}", 1), Err(JsonError::at(5, K::TooDeep { limit: 1 })));
        assert_eq!(check(b"[[],[],{}]", 2), Ok(()));
        for (open, innermost, close, width) in [("[", "[]", "]", 1), ("{\"a\":", "{}", "}", 5)] {
            for limit in [1, 2, INLINE, INLINE + 1, DEPTH, 1_000] {
                assert_eq!(check(nested(open, innermost, close, limit), limit), Ok(()), "{open} at {limit}");
                assert_eq!(
                    check(nested(open, innermost, close, limit + 1), limit),
                    Err(JsonError::at(limit * width, K::TooDeep { limit })),
                    "{open} at {limit} + 1"
                );
            }
        }
        ok(nested("[", "[]", "]", DEPTH));
        ok(nested("{\"a\":[", "{\"a\":[]}", "]}", DEPTH / 2));
        refused(nested("[", "[]", "]", DEPTH + 1), DEPTH, K::TooDeep { limit: DEPTH });
        assert_eq!(
            check(nested("[", "[]", "]", 600), DEPTH).unwrap_err().to_string(),
            format!("arrays and objects nest deeper than {DEPTH} levels at byte {DEPTH}")
        );
    }

    #[test]
    fn a_million_levels_are_refused_at_once_and_never_overflow_the_stack() {
        for depth in [100_000, 1_000_000] {
            let started = std::time::Instant::now();
            refused(nested("[", "[]", "]", depth), DEPTH, K::TooDeep { limit: DEPTH });
            refused(nested("{\"a\":", "{}", "}", depth), DEPTH * 5, K::TooDeep { limit: DEPTH });
            assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
        }
        // No recursion even where so deep is allowed: the stack of containers is on the heap.
        let deep = nested("{\"a\":[", "{\"a\":[]}", "]}", 500_000);
        assert_eq!(check(&deep, 1_000_000), Ok(()));
        assert_eq!(
            check(format!("{}]", &deep[..deep.len() - 1]), 1_000_000).unwrap_err().kind,
            K::Expected("',' or '}'")
        );
    }

    /// Data from serde_json's own serialiser, and mutations of it: whatever `check` accepts,
    /// serde_json reads (it too checks UTF-8, escapes and the grammar), and whatever serde_json
    /// reads `check` accepts unless it repeats a key (serde_json keeps the last value). Depths
    /// stay below serde_json's recursion limit and numbers within f64, where they differ by
    /// design.
    mod against_serde_json {
        use super::*;
        use proptest::prelude::*;
        use serde_json::Value;

        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                (-1e300..1e300f64).prop_map(Value::from),
                ".{0,12}".prop_map(Value::String),
                prop::sample::select(vec!["\u{0}\u{1f}\"\\/", "😀é", "\u{7f}\u{2028}"]).prop_map(Value::from),
            ];
            leaf.prop_recursive(6, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::btree_map("[a-c]{0,2}", inner, 0..6)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// Replace, insert or delete bytes, from a set that breaks the interesting things.
        fn mutations() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
            let byte = prop::sample::select(
                b"\"\\u{}[],:0123456789.eE+-dDfF \t\nabtrnul\x00\x1f\x7f\xc3\xa9\xed\xa0\xff".to_vec(),
            );
            prop::collection::vec((any::<usize>(), 0..3u8, byte), 0..4)
        }

        fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
            for &(at, how, byte) in edits {
                let at = at % (bytes.len() + 1);
                match how {
                    0 if at < bytes.len() => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => bytes.push(byte),
                }
            }
            bytes
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4000))]

            #[test]
            fn serialised_values_are_accepted(v in value(), pretty in any::<bool>()) {
                let bytes = match pretty {
                    true => serde_json::to_vec_pretty(&v).unwrap(),
                    false => serde_json::to_vec(&v).unwrap(),
                };
                prop_assert_eq!(check(&bytes, DEPTH), Ok(()));
            }

            #[test]
            fn mutated_values_are_judged_like_serde_json(v in value(), edits in mutations()) {
                let bytes = mutate(serde_json::to_vec(&v).unwrap(), &edits);
                let ours = check(&bytes, DEPTH);
                let theirs = serde_json::from_slice::<Value>(&bytes);
                match (&ours, &theirs) {
                    (Ok(()), Err(e)) => prop_assert!(
                        e.to_string().contains("number out of range"),
                        "accepted {:?}, serde_json: {e}", String::from_utf8_lossy(&bytes)
                    ),
                    (Err(e), Ok(_)) => prop_assert!(
                        matches!(e.kind, K::DuplicateKey(_)),
                        "refused {:?}: {e}", String::from_utf8_lossy(&bytes)
                    ),
                    _ => {}
                }
            }
        }
    }

    /// A micro-benchmark, not a test: run it in release with
    /// `cargo test --release -p graveyard --lib json::tests::bench -- --ignored --nocapture`.
    #[test]
    #[ignore = "micro-benchmark: run in release with --ignored --nocapture"]
    fn bench_check_against_the_syntax_check() {
        use std::hint::black_box;
        use std::time::Instant;

        fn ns_per_call(iterations: u32, mut f: impl FnMut()) -> f64 {
            for _ in 0..iterations / 10 {
                f();
            }
            let started = Instant::now();
            for _ in 0..iterations {
                f();
            }
            started.elapsed().as_nanos() as f64 / f64::from(iterations)
        }

        // bench/src/workload.rs `payload10(123_456)`: the event of schema-batch-100 and
        // schema-append-64.
        let event = br#"{"order_id":"ord-000000123456","customer":"cust-123456","email":"c123456@example.com","amount_cents":86654464,"currency":"EUR","items":1,"express":true,"status":"placed","address":{"zip":"23456","city":"Lyon"},"tags":["web","promo"]}"#;
        assert_eq!(event.len(), 233);
        // bench/src/workload.rs `payload(123_456)`: the ~100-byte event of the other workloads.
        let small = br#"{"order_id":"ord-000000123456","customer":"cust-123456","amount_cents":86654464,"currency":"EUR","items":1}"#;
        let pretty =
            serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(event).unwrap()).unwrap();
        let text: Vec<u8> =
            format!("{{\"text\":{:?}}}", "lorem ipsum dolor sit amet ".repeat(150)).into_bytes();
        let accented: Vec<u8> =
            format!("{{\"text\":{:?}}}", "Les élèves à l'école, naïfs et déçus ".repeat(100)).into_bytes();
        let japanese: Vec<u8> =
            format!("{{\"text\":{:?}}}", "日本語のテキストです。".repeat(120)).into_bytes();
        let wide: Vec<u8> = {
            let members: Vec<String> = (0..100).map(|i| format!("\"field_{i}\":{i}")).collect();
            format!("{{{}}}", members.join(",")).into_bytes()
        };
        let cases: [(&str, &[u8], u32); 7] = [
            ("the 233-byte event of the schema workloads", event, 500_000),
            ("the 107-byte event of the other workloads", small, 500_000),
            ("the 233-byte event, pretty-printed", &pretty, 500_000),
            ("a 4 KB string", &text, 50_000),
            ("a 4 KB string of French", &accented, 50_000),
            ("a 4 KB string of Japanese", &japanese, 50_000),
            ("an object of 100 members", &wide, 50_000),
        ];
        for (name, bytes, iterations) in cases {
            check(bytes, DEPTH).unwrap();
            serde_json::from_slice::<serde::de::IgnoredAny>(bytes).unwrap();
            // Interleaved rounds, and the fastest of each: the machine is shared, and noise
            // only ever adds time.
            let (mut before, mut after) = (f64::MAX, f64::MAX);
            for _ in 0..7 {
                before = before.min(ns_per_call(iterations, || {
                    black_box(serde_json::from_slice::<serde::de::IgnoredAny>(black_box(bytes))).unwrap();
                }));
                after = after.min(ns_per_call(iterations, || {
                    black_box(check(black_box(bytes), DEPTH)).unwrap();
                }));
            }
            println!(
                "{name} ({} bytes): syntax check (IgnoredAny) {before:.0} ns, strict check {after:.0} ns ({:.2}x)",
                bytes.len(),
                after / before
            );
        }

        // An event whose type has a schema: the fast path alone settled it before; the strict
        // check now runs first. bench/src/workload.rs `schema10`, the schema of the workloads.
        use crate::schema::{CompiledSchema, Field, FieldType, Schema};
        let schema = Schema::new("Bench")
            .field(Field::new("order_id", FieldType::String).required().pattern("ord-[0-9]{12,}"))
            .field(Field::new("customer", FieldType::String).required().min_length(1).max_length(64))
            .field(Field::new("email", FieldType::String).pattern("[^@ ]+@[^@ ]+"))
            .field(Field::new("amount_cents", FieldType::Integer).required().min(0.0).max(1e12))
            .field(Field::new("currency", FieldType::String).min_length(3).max_length(3))
            .field(Field::new("items", FieldType::Integer).min(1.0).max(1000.0))
            .field(Field::new("express", FieldType::Boolean))
            .field(Field::new("status", FieldType::enumeration(["placed", "paid", "shipped"])).required())
            .field(Field::new(
                "address",
                FieldType::object(vec![
                    Field::new("zip", FieldType::String).required().pattern("[0-9]{5}"),
                    Field::new("city", FieldType::String).max_length(100),
                ]),
            ))
            .field(Field::new("tags", FieldType::array(FieldType::String)).max_length(10));
        let schema = CompiledSchema::compile_standalone(&schema, 1).unwrap();
        assert!(schema.conforms_as_is(event));
        let (mut before, mut after) = (f64::MAX, f64::MAX);
        for _ in 0..7 {
            before = before.min(ns_per_call(500_000, || {
                assert!(schema.conforms_as_is(black_box(event)));
            }));
            after = after.min(ns_per_call(500_000, || {
                black_box(check(black_box(event), DEPTH)).unwrap();
                assert!(schema.conforms_as_is(black_box(event)));
            }));
        }
        println!(
            "the 233-byte event with its schema: fast path {before:.0} ns, strict check + fast path {after:.0} ns ({:.2}x)",
            after / before
        );
    }
}
