package graveyard

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// UUID is an event id, 16 bytes in RFC 4122 order. The zero UUID asks the store for a new one.
type UUID [16]byte

func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// IsZero says whether the UUID is the zero one (none).
func (u UUID) IsZero() bool {
	return u == UUID{}
}

// ParseUUID reads the canonical 36-character form.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("graveyard: %q is not a UUID", s)
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, fmt.Errorf("graveyard: %q is not a UUID: %w", s, err)
	}
	return u, nil
}

// EventData is an event to append, sent as given (NewEvent builds one from a struct value).
type EventData struct {
	// ID names the event for idempotent retries; zero for a new UUIDv7 from the store.
	ID          UUID
	Type        string
	ContentType string
	Data        []byte
	Metadata    []byte
}

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	Stream      string
	Revision    uint64
	Position    uint64
	Timestamp   time.Time
	ID          UUID
	Type        string
	ContentType string
	Data        []byte
	Metadata    []byte
	// Shredded: the stream's key was destroyed; Data and Metadata are empty.
	Shredded bool
	// SchemaVersion is the version of the schema the data was validated against, 0 for none.
	SchemaVersion uint32
}

// ErrShredded is what Decode returns for an event whose data was crypto-shredded.
var ErrShredded = errors.New("graveyard: the event was shredded: its data is gone")

// Decode unmarshals the event's JSON data into v (encoding/json).
func (e *RecordedEvent) Decode(v any) error {
	if e.Shredded {
		return ErrShredded
	}
	if e.ContentType != "application/json" {
		return fmt.Errorf("graveyard: event %s of %q has content type %q, not application/json", e.ID, e.Stream, e.ContentType)
	}
	return json.Unmarshal(e.Data, v)
}

// AppendResult says where an append's events landed.
type AppendResult struct {
	FirstRevision uint64
	LastRevision  uint64
	FirstPosition uint64
	LastPosition  uint64
}

// ExpectedVersion is the optimistic-concurrency condition of an append or a delete.
type ExpectedVersion struct {
	kind     int32
	revision uint64
}

var (
	// Any appends whatever the stream's state.
	Any = ExpectedVersion{kind: expectedAny}
	// NoStream requires that the stream has no visible events.
	NoStream = ExpectedVersion{kind: expectedNoStream}
	// StreamExists requires that it has.
	StreamExists = ExpectedVersion{kind: expectedStreamExists}
)

// Exact requires that the stream's last revision is revision.
func Exact(revision uint64) ExpectedVersion {
	return ExpectedVersion{kind: expectedExact, revision: revision}
}

// Revision is the revision of Exact, and whether the expectation is one.
func (e ExpectedVersion) Revision() (uint64, bool) {
	return e.revision, e.kind == expectedExact
}

func (e ExpectedVersion) String() string {
	switch e.kind {
	case expectedAny:
		return "any"
	case expectedNoStream:
		return "no_stream"
	case expectedStreamExists:
		return "stream_exists"
	}
	return "exact " + strconv.FormatUint(e.revision, 10)
}

func (e ExpectedVersion) MarshalJSON() ([]byte, error) {
	if e.kind == expectedExact {
		return []byte(`{"exact":` + strconv.FormatUint(e.revision, 10) + `}`), nil
	}
	return json.Marshal(e.String())
}

func (e *ExpectedVersion) UnmarshalJSON(b []byte) error {
	var name string
	if json.Unmarshal(b, &name) == nil {
		switch name {
		case "any":
			*e = Any
		case "no_stream":
			*e = NoStream
		case "stream_exists":
			*e = StreamExists
		default:
			return fmt.Errorf("graveyard: unknown expected version %q", name)
		}
		return nil
	}
	var exact struct {
		Exact *uint64 `json:"exact"`
	}
	if err := json.Unmarshal(b, &exact); err != nil || exact.Exact == nil {
		return fmt.Errorf("graveyard: unknown expected version %s", b)
	}
	*e = Exact(*exact.Exact)
	return nil
}

// CurrentRevision is a stream's last revision, or none when it has no visible events.
type CurrentRevision struct {
	Revision uint64
	Exists   bool
}

func (r CurrentRevision) String() string {
	if !r.Exists {
		return "no_stream"
	}
	return strconv.FormatUint(r.Revision, 10)
}

func (r CurrentRevision) MarshalJSON() ([]byte, error) {
	if !r.Exists {
		return []byte(`"no_stream"`), nil
	}
	return []byte(strconv.FormatUint(r.Revision, 10)), nil
}

func (r *CurrentRevision) UnmarshalJSON(b []byte) error {
	if string(b) == `"no_stream"` {
		*r = CurrentRevision{}
		return nil
	}
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("graveyard: unknown current revision %s", b)
	}
	*r = CurrentRevision{Revision: v, Exists: true}
	return nil
}

// StreamMetadata limits what of a stream is visible. Nil fields are unset.
type StreamMetadata struct {
	MaxCount       *uint64
	MaxAge         *time.Duration
	TruncateBefore *uint64
}

type metadataJSON struct {
	MaxCount       *uint64 `json:"max_count"`
	MaxAgeMs       *uint64 `json:"max_age_ms"`
	TruncateBefore *uint64 `json:"truncate_before"`
}

func (m StreamMetadata) MarshalJSON() ([]byte, error) {
	j := metadataJSON{MaxCount: m.MaxCount, TruncateBefore: m.TruncateBefore}
	if m.MaxAge != nil {
		if *m.MaxAge < 0 {
			return nil, fmt.Errorf("graveyard: a negative max age: %s", *m.MaxAge)
		}
		j.MaxAgeMs = ptr(millisCeil(*m.MaxAge))
	}
	return json.Marshal(j)
}

func (m *StreamMetadata) UnmarshalJSON(b []byte) error {
	var j metadataJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*m = StreamMetadata{MaxCount: j.MaxCount, TruncateBefore: j.TruncateBefore}
	if j.MaxAgeMs != nil {
		m.MaxAge = ptr(time.Duration(*j.MaxAgeMs) * time.Millisecond)
	}
	return nil
}

// ListStreamsOptions selects one page of ListStreams.
type ListStreamsOptions struct {
	// Prefix keeps the names starting with it ("": every name).
	Prefix string
	// After is the last name of the previous page ("": the first page).
	After string
	// Limit is the most names of the page, 1 to 10,000 (0: 1,000).
	Limit uint64
}

// StreamSummary is one stream of a listing: tombstoned, deleted and shredded streams included,
// with their state.
type StreamSummary struct {
	Name string `json:"name"`
	// NextRevision is the revision the next appended event will get.
	NextRevision uint64 `json:"next_revision"`
	// LastPosition is the position of its last event in $all; nil when it never had one.
	LastPosition *uint64 `json:"last_position"`
	// Deleted: soft-deleted and not written since.
	Deleted bool `json:"deleted"`
	// DeletedBefore: revisions below it were hidden by its last soft delete (0 when never deleted).
	DeletedBefore uint64 `json:"deleted_before"`
	Tombstoned    bool   `json:"tombstoned"`
	Shredded      bool   `json:"shredded"`
}

// StreamInfo is what a stream's state is.
type StreamInfo struct {
	Current      CurrentRevision `json:"current"`
	NextRevision uint64          `json:"next_revision"`
	Deleted      bool            `json:"deleted"`
	Shredded     bool            `json:"shredded"`
	Metadata     StreamMetadata  `json:"metadata"`
}

// Filter selects events of $all: a stream name prefix (any of them) and an event type (any of
// them); empty lists match every event.
type Filter struct {
	StreamPrefixes []string `json:"stream_prefixes"`
	EventTypes     []string `json:"event_types"`
}

func (f Filter) isZero() bool {
	return len(f.StreamPrefixes) == 0 && len(f.EventTypes) == 0
}

func (f Filter) json() string {
	if f.isZero() {
		return ""
	}
	j := struct {
		StreamPrefixes []string `json:"stream_prefixes"`
		EventTypes     []string `json:"event_types"`
	}{nonNil(f.StreamPrefixes), nonNil(f.EventTypes)}
	b, _ := json.Marshal(j)
	return string(b)
}

// Snapshot is a saved state of a stream at a revision.
type Snapshot struct {
	Stream    string
	Revision  uint64
	Timestamp time.Time
	Data      []byte
}

// SchemaUpsert is the outcome of registering a schema.
type SchemaUpsert struct {
	Name    string `json:"name"`
	Version uint32 `json:"version"`
	// Changed is false when the definition equalled the latest version (nothing was written).
	Changed bool `json:"changed"`
}

// RegisteredSchema is a stored version of a schema, with its definition as JSON.
type RegisteredSchema struct {
	Name    string          `json:"name"`
	Version uint32          `json:"version"`
	Schema  json.RawMessage `json:"schema"`
}

func ptr[T any](v T) *T {
	return &v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// millisCeil rounds a duration up to whole milliseconds, so a positive one never becomes 0.
func millisCeil(d time.Duration) uint64 {
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++
	}
	return uint64(ms)
}

// joinEndpoints is the C ABI's form of a list of endpoints.
func joinEndpoints(endpoints []string) string {
	return strings.Join(endpoints, ",")
}
