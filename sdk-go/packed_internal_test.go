package graveyard

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// The golden vectors of docs/boundary.md (conformance/boundary_vectors.json): every SDK decodes
// the same bytes to the same values, and encodes the events to append to the same bytes.

type vectorEvent struct {
	Stream        string  `json:"stream"`
	Revision      uint64  `json:"revision"`
	Position      uint64  `json:"position"`
	Timestamp     int64   `json:"timestamp"`
	ID            string  `json:"id"`
	Type          string  `json:"type"`
	ContentType   string  `json:"content_type"`
	DataHex       string  `json:"data_hex"`
	MetadataHex   string  `json:"metadata_hex"`
	Shredded      bool    `json:"shredded"`
	SchemaVersion *uint32 `json:"schema_version"`
}

type vectors struct {
	AppendEvents struct {
		Events []struct {
			ID          *string `json:"id"`
			Type        string  `json:"type"`
			ContentType string  `json:"content_type"`
			DataHex     string  `json:"data_hex"`
			MetadataHex string  `json:"metadata_hex"`
		} `json:"events"`
		Packed string `json:"packed"`
	} `json:"append_events"`
	AppendResult struct {
		Packed string `json:"packed"`
		Result struct {
			FirstRevision uint64 `json:"first_revision"`
			LastRevision  uint64 `json:"last_revision"`
			FirstPosition uint64 `json:"first_position"`
			LastPosition  uint64 `json:"last_position"`
		} `json:"result"`
	} `json:"append_result"`
	CaughtUp struct {
		Packed string `json:"packed"`
	} `json:"caught_up"`
	Delivery struct {
		ID             string      `json:"id"`
		Attempt        uint32      `json:"attempt"`
		ParkedRevision *int64      `json:"parked_revision"`
		Event          vectorEvent `json:"event"`
		Packed         string      `json:"packed"`
	} `json:"delivery"`
	EmptyPage struct {
		Events []vectorEvent `json:"events"`
		Packed string        `json:"packed"`
	} `json:"empty_page"`
	Page struct {
		Events []vectorEvent `json:"events"`
		Packed string        `json:"packed"`
	} `json:"page"`
	Snapshot struct {
		Stream    string `json:"stream"`
		Revision  uint64 `json:"revision"`
		Timestamp int64  `json:"timestamp"`
		DataHex   string `json:"data_hex"`
		Packed    string `json:"packed"`
	} `json:"snapshot"`
	SubscriptionEvent struct {
		Event  vectorEvent `json:"event"`
		Packed string      `json:"packed"`
	} `json:"subscription_event"`
	Codes map[string]map[string]int32 `json:"codes"`
	JSON  struct {
		CurrentRevision   []json.RawMessage          `json:"current_revision"`
		ExpectedVersion   []json.RawMessage          `json:"expected_version"`
		Filter            json.RawMessage            `json:"filter"`
		GroupSettings     json.RawMessage            `json:"group_settings"`
		GroupTarget       []json.RawMessage          `json:"group_target"`
		StreamInfo        json.RawMessage            `json:"stream_info"`
		SubscriptionStart []json.RawMessage          `json:"subscription_start"`
		ErrorDetails      map[string]json.RawMessage `json:"error_details"`
	} `json:"json"`
}

func loadVectors(t *testing.T) *vectors {
	t.Helper()
	b, err := os.ReadFile("../conformance/boundary_vectors.json")
	if err != nil {
		t.Fatalf("the golden vectors: %v", err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("the golden vectors: %v", err)
	}
	return &v
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

// nilIfEmpty is what the decoder gives for an empty byte string.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func (v vectorEvent) want(t *testing.T) RecordedEvent {
	t.Helper()
	id, err := ParseUUID(v.ID)
	if err != nil {
		t.Fatal(err)
	}
	e := RecordedEvent{Stream: v.Stream, Revision: v.Revision, Position: v.Position, Timestamp: time.UnixMicro(v.Timestamp),
		ID: id, Type: v.Type, ContentType: v.ContentType, Data: nilIfEmpty(unhex(t, v.DataHex)),
		Metadata: nilIfEmpty(unhex(t, v.MetadataHex)), Shredded: v.Shredded}
	if v.SchemaVersion != nil {
		e.SchemaVersion = *v.SchemaVersion
	}
	return e
}

func sameEvent(t *testing.T, what string, got, want RecordedEvent) {
	t.Helper()
	if !got.Timestamp.Equal(want.Timestamp) {
		t.Errorf("%s: timestamp %v, want %v", what, got.Timestamp, want.Timestamp)
	}
	got.Timestamp, want.Timestamp = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func TestGoldenPages(t *testing.T) {
	v := loadVectors(t)
	for _, tc := range []struct {
		name   string
		events []vectorEvent
		packed string
	}{{"page", v.Page.Events, v.Page.Packed}, {"empty page", v.EmptyPage.Events, v.EmptyPage.Packed}} {
		got, err := unpackPage(unhex(t, tc.packed))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(got) != len(tc.events) {
			t.Fatalf("%s: %d events, want %d", tc.name, len(got), len(tc.events))
		}
		for i := range got {
			sameEvent(t, tc.name+" event "+strconv.Itoa(i), got[i], tc.events[i].want(t))
		}
	}
	if len(v.Page.Events) < 2 || !v.Page.Events[1].Shredded {
		t.Fatal("the page vector lost its shredded event")
	}
}

func TestGoldenMessagesDeliveriesSnapshots(t *testing.T) {
	v := loadVectors(t)

	m, err := unpackMessage(unhex(t, v.SubscriptionEvent.Packed))
	if err != nil || m.CaughtUp || m.Event == nil {
		t.Fatalf("subscription event: %+v %v", m, err)
	}
	sameEvent(t, "subscription event", *m.Event, v.SubscriptionEvent.Event.want(t))
	m, err = unpackMessage(unhex(t, v.CaughtUp.Packed))
	if err != nil || !m.CaughtUp || m.Event != nil {
		t.Fatalf("caught up: %+v %v", m, err)
	}

	d, err := unpackDelivery(unhex(t, v.Delivery.Packed))
	if err != nil {
		t.Fatal(err)
	}
	id, err := strconv.ParseUint(v.Delivery.ID, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != id || d.Attempt != v.Delivery.Attempt {
		t.Fatalf("delivery id %d attempt %d, want %d %d", d.ID, d.Attempt, id, v.Delivery.Attempt)
	}
	if v.Delivery.ParkedRevision == nil {
		if d.ParkedRevision != nil {
			t.Fatalf("parked revision %d, want none", *d.ParkedRevision)
		}
	} else if d.ParkedRevision == nil || int64(*d.ParkedRevision) != *v.Delivery.ParkedRevision {
		t.Fatalf("parked revision %v, want %d", d.ParkedRevision, *v.Delivery.ParkedRevision)
	}
	sameEvent(t, "delivery event", d.Event, v.Delivery.Event.want(t))
	// Not parked: -1.
	notParked := unhex(t, v.Delivery.Packed)
	binary.LittleEndian.PutUint64(notParked[12:], ^uint64(0))
	if d, err := unpackDelivery(notParked); err != nil || d.ParkedRevision != nil {
		t.Fatalf("a delivery without a parked revision: %+v %v", d, err)
	}

	s, err := unpackSnapshot(unhex(t, v.Snapshot.Packed))
	if err != nil {
		t.Fatal(err)
	}
	if s.Stream != v.Snapshot.Stream || s.Revision != v.Snapshot.Revision || !s.Timestamp.Equal(time.UnixMicro(v.Snapshot.Timestamp)) ||
		!bytes.Equal(s.Data, unhex(t, v.Snapshot.DataHex)) {
		t.Fatalf("snapshot %+v", s)
	}

	// The append result crosses as 4 u64s (gy_append's out array), in the packed order.
	r := reader{b: unhex(t, v.AppendResult.Packed)}
	got := AppendResult{r.u64(), r.u64(), r.u64(), r.u64()}
	if err := r.done(); err != nil {
		t.Fatal(err)
	}
	want := v.AppendResult.Result
	if got != (AppendResult{want.FirstRevision, want.LastRevision, want.FirstPosition, want.LastPosition}) {
		t.Fatalf("append result %+v, want %+v", got, want)
	}
}

func TestGoldenAppendEvents(t *testing.T) {
	v := loadVectors(t)
	var events []EventData
	for _, e := range v.AppendEvents.Events {
		var id UUID
		if e.ID != nil {
			var err error
			if id, err = ParseUUID(*e.ID); err != nil {
				t.Fatal(err)
			}
		}
		events = append(events, EventData{ID: id, Type: e.Type, ContentType: e.ContentType,
			Data: unhex(t, e.DataHex), Metadata: unhex(t, e.MetadataHex)})
	}
	got, err := packEvents(events)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, v.AppendEvents.Packed); !bytes.Equal(got, want) {
		t.Fatalf("packed events\n got %x\nwant %x", got, want)
	}
	if len(events) < 2 || !events[1].ID.IsZero() {
		t.Fatal("the vector lost its event without an id")
	}
	// No events: a count of 0 (the store refuses the append, not the encoder).
	if got, err := packEvents(nil); err != nil || !bytes.Equal(got, []byte{0, 0, 0, 0}) {
		t.Fatalf("no events: %x %v", got, err)
	}
}

func TestGoldenCodes(t *testing.T) {
	v := loadVectors(t)
	errorCodes := v.Codes["error"]
	if len(errorCodes) != len(codeNames) {
		t.Fatalf("%d error codes in the vectors, %d in the SDK", len(errorCodes), len(codeNames))
	}
	for name, n := range errorCodes {
		if codeNames[Code(n)] != name {
			t.Errorf("code %d is %q in the SDK, %q in the vectors", n, codeNames[Code(n)], name)
		}
	}
	for group, want := range map[string]map[string]int32{
		"expected_version":   {"any": expectedAny, "no_stream": expectedNoStream, "stream_exists": expectedStreamExists, "exact": expectedExact},
		"direction":          {"forwards": directionForwards, "backwards": directionBackwards},
		"subscription_start": {"start": startStart, "end": startEnd, "after": startAfter},
		"nack_action":        {"retry": int32(Retry), "park": int32(Park), "skip": int32(Skip)},
		"group_strategy":     {"round_robin": strategyRoundRobin, "pinned_by_stream": strategyPinnedByStream},
		"durability":         {"fsync": durabilityFsync, "no_fsync_unsafe": durabilityNoFsyncUnsafe},
	} {
		if !reflect.DeepEqual(v.Codes[group], want) {
			t.Errorf("%s: vectors %v, SDK %v", group, v.Codes[group], want)
		}
	}
	if FromStart.kind != startStart || FromEnd.kind != startEnd || After(3).kind != startAfter || After(3).after != 3 {
		t.Error("Start values")
	}
}

func TestGoldenJSON(t *testing.T) {
	v := loadVectors(t)
	roundTrip := func(what string, raw json.RawMessage, into any, want any) {
		t.Helper()
		if err := json.Unmarshal(raw, into); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got := reflect.ValueOf(into).Elem().Interface()
		if want != nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %#v, want %#v", what, got, want)
		}
		back, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !jsonEqual(t, back, raw) {
			t.Fatalf("%s: encodes to %s, want %s", what, back, raw)
		}
	}
	wantExpected := []ExpectedVersion{Any, NoStream, StreamExists, Exact(3)}
	for i, raw := range v.JSON.ExpectedVersion {
		roundTrip("expected version", raw, new(ExpectedVersion), wantExpected[i])
	}
	wantCurrent := []CurrentRevision{{}, {Revision: 0, Exists: true}}
	for i, raw := range v.JSON.CurrentRevision {
		roundTrip("current revision", raw, new(CurrentRevision), wantCurrent[i])
	}
	roundTrip("filter", v.JSON.Filter, new(Filter), Filter{StreamPrefixes: []string{"order-"}, EventTypes: []string{"OrderPlaced"}})
	if got := (Filter{StreamPrefixes: []string{"order-"}, EventTypes: []string{"OrderPlaced"}}).json(); !jsonEqual(t, []byte(got), v.JSON.Filter) {
		t.Fatalf("Filter.json %s", got)
	}
	roundTrip("group settings", v.JSON.GroupSettings, new(GroupSettings), GroupSettings{MaxRetries: Ref[uint32](5),
		AckTimeout: 1500 * time.Millisecond, MaxInFlight: 64, Strategy: PinnedByStream})
	roundTrip("group target", v.JSON.GroupTarget[0], new(GroupTarget), StreamTarget("order-1"))
	var target GroupTarget
	roundTrip("group target", v.JSON.GroupTarget[1], &target, nil)
	if !target.All || target.Stream != "" || len(target.Filter.StreamPrefixes) != 0 || !reflect.DeepEqual(target.Filter.EventTypes, []string{"OrderPlaced"}) {
		t.Fatalf("$all target %+v", target)
	}
	var info StreamInfo
	roundTrip("stream info", v.JSON.StreamInfo, &info, nil)
	if info.Current != (CurrentRevision{Revision: 5, Exists: true}) || info.NextRevision != 6 || info.Deleted || info.Shredded ||
		*info.Metadata.MaxCount != 10 || *info.Metadata.MaxAge != time.Minute || info.Metadata.TruncateBefore != nil {
		t.Fatalf("stream info %+v", info)
	}

	// Error details reach their typed form.
	details := v.JSON.ErrorDetails
	e := newError(CodeWrongExpectedVersion, "m", string(details["WRONG_EXPECTED_VERSION"]))
	var wev *WrongExpectedVersionError
	if !errors.As(e, &wev) || wev.Stream != "s" || wev.Expected != Exact(1) || wev.Actual.Exists {
		t.Fatalf("WRONG_EXPECTED_VERSION %+v", wev)
	}
	e = newError(CodeStreamDeleted, "m", string(details["STREAM_DELETED"]))
	var sd *StreamDeletedError
	if !errors.As(e, &sd) || sd.Stream != "s" {
		t.Fatalf("STREAM_DELETED %+v", sd)
	}
	e = newError(CodeSchemaViolation, "m", string(details["SCHEMA_VIOLATION"]))
	var sv *SchemaViolationError
	if !errors.As(e, &sv) || sv.Schema != "order" || sv.Version != 2 || sv.Event != 1 || len(sv.Violations) != 1 ||
		sv.Violations[0].Path != "qty" || sv.Violations[0].Rule != "min" || string(sv.Violations[0].Value) != "0" ||
		sv.Violations[0].Message != "below 1" {
		t.Fatalf("SCHEMA_VIOLATION %+v", sv)
	}
	e = newError(CodeInvalidSchema, "m", string(details["INVALID_SCHEMA"]))
	var is *InvalidSchemaError
	if !errors.As(e, &is) || is.Schema != "order" || !reflect.DeepEqual(is.Problems, []string{"no fields"}) {
		t.Fatalf("INVALID_SCHEMA %+v", is)
	}
	if len(details) != 4 {
		t.Fatalf("%d codes with details in the vectors: the SDK reads 4", len(details))
	}
	// Details the SDK cannot read stay raw; the error is intact.
	e = newError(CodeStreamDeleted, "m", `{"stream": 5}`)
	if errors.As(e, &sd) || e.Code != CodeStreamDeleted || string(e.Details) != `{"stream": 5}` {
		t.Fatalf("unreadable details: %+v", e)
	}
	if e := newError(CodeNotFound, "m", ""); e.Details != nil || e.Unwrap() != nil {
		t.Fatalf("no details: %+v", e)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// ---- malformed buffers --------------------------------------------------------------------------

func wantInternal(t *testing.T, what string, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInternal {
		t.Fatalf("%s: %v, want an INTERNAL *Error", what, err)
	}
}

// decoders are the SDK's decoders of library buffers, each reporting only its error.
var decoders = map[string]func([]byte) error{
	"page":     func(b []byte) error { _, err := unpackPage(b); return err },
	"snapshot": func(b []byte) error { _, err := unpackSnapshot(b); return err },
	"message":  func(b []byte) error { _, err := unpackMessage(b); return err },
	"delivery": func(b []byte) error { _, err := unpackDelivery(b); return err },
}

func goldenBuffers(t *testing.T) map[string][]byte {
	v := loadVectors(t)
	return map[string][]byte{
		"page":     unhex(t, v.Page.Packed),
		"snapshot": unhex(t, v.Snapshot.Packed),
		"message":  unhex(t, v.SubscriptionEvent.Packed),
		"delivery": unhex(t, v.Delivery.Packed),
	}
}

func TestMalformedBuffers(t *testing.T) {
	for name, good := range goldenBuffers(t) {
		decode := decoders[name]
		if err := decode(good); err != nil {
			t.Fatalf("%s: the golden buffer: %v", name, err)
		}
		// Truncated anywhere.
		for n := 0; n < len(good); n++ {
			if name == "page" && n == 0 {
				continue // checked below: an empty buffer has no count
			}
			wantInternal(t, name+" truncated to "+strconv.Itoa(n), decode(good[:n:n]))
		}
		// Trailing bytes.
		wantInternal(t, name+" with a trailing byte", decode(append(bytes.Clone(good), 0)))
	}
	wantInternal(t, "an empty page buffer", decoders["page"](nil))
	wantInternal(t, "an empty message", decoders["message"](nil))

	page := goldenBuffers(t)["page"]
	// Counts larger than the buffer could hold are refused before anything is allocated.
	for _, count := range []uint32{3, 1 << 20, 1<<32 - 1} {
		b := bytes.Clone(page)
		binary.LittleEndian.PutUint32(b, count)
		wantInternal(t, "page count "+strconv.FormatUint(uint64(count), 10), decoders["page"](b))
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	wantInternal(t, "a count of 2^32-1 in 4 bytes", decoders["page"]([]byte{0xff, 0xff, 0xff, 0xff}))
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("a huge count allocated %d bytes", grew)
	}
	// A length beyond the buffer: the stream name's.
	b := bytes.Clone(page)
	binary.LittleEndian.PutUint32(b[4:], 1<<31)
	wantInternal(t, "a stream name longer than the buffer", decoders["page"](b))
	binary.LittleEndian.PutUint32(b[4:], 1<<32-1)
	wantInternal(t, "a stream name of 4 GiB", decoders["page"](b))
	// Unknown flag bits: the shredded flag is the 5th byte from the end of the page.
	b = bytes.Clone(page)
	if b[len(b)-5] != 1 {
		t.Fatalf("the page vector changed: flags %d", b[len(b)-5])
	}
	b[len(b)-5] = 3
	wantInternal(t, "unknown event flags", decoders["page"](b))
	// An unknown message tag.
	wantInternal(t, "message tag 2", decoders["message"]([]byte{2}))
	wantInternal(t, "a caught-up marker with more", decoders["message"]([]byte{0, 0}))
}

// TestMutatedBuffersNeverPanic: random damage to the golden buffers is decoded or refused as
// INTERNAL, never a panic or an out-of-range read.
func TestMutatedBuffersNeverPanic(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for name, good := range goldenBuffers(t) {
		decode := decoders[name]
		for i := 0; i < 3000; i++ {
			b := bytes.Clone(good)
			for k := 1 + rng.Intn(4); k > 0; k-- {
				switch rng.Intn(3) {
				case 0:
					b[rng.Intn(len(b))] = byte(rng.Intn(256))
				case 1:
					// A length field blown up.
					at := rng.Intn(len(b) - 3)
					binary.LittleEndian.PutUint32(b[at:], rng.Uint32())
				case 2:
					b = b[:rng.Intn(len(b)+1)]
					if len(b) < 4 {
						b = append(b, 0, 0, 0, 0)
					}
				}
			}
			if err := decode(b); err != nil {
				wantInternal(t, name+" mutated", err)
			}
		}
	}
}

func FuzzUnpackPage(f *testing.F) {
	b, err := os.ReadFile("../conformance/boundary_vectors.json")
	if err != nil {
		f.Fatal(err)
	}
	var v struct {
		Page struct {
			Packed string `json:"packed"`
		} `json:"page"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		f.Fatal(err)
	}
	page, _ := hex.DecodeString(v.Page.Packed)
	f.Add(page)
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		events, err := unpackPage(b)
		if err != nil {
			wantInternal(t, "fuzzed page", err)
			return
		}
		// A decoded page re-encodes to its own bytes.
		out := binary.LittleEndian.AppendUint32(nil, uint32(len(events)))
		for _, e := range events {
			out = appendEvent(out, &e)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("decoded %x, re-encoded %x", b, out)
		}
	})
}

// appendEvent is the encoding of a read event (docs/boundary.md), the library's side.
func appendEvent(out []byte, e *RecordedEvent) []byte {
	str := func(s []byte) {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(s)))
		out = append(out, s...)
	}
	str([]byte(e.Stream))
	out = binary.LittleEndian.AppendUint64(out, e.Revision)
	out = binary.LittleEndian.AppendUint64(out, e.Position)
	out = binary.LittleEndian.AppendUint64(out, uint64(e.Timestamp.UnixMicro()))
	out = append(out, e.ID[:]...)
	str([]byte(e.Type))
	str([]byte(e.ContentType))
	str(e.Data)
	str(e.Metadata)
	var flags byte
	if e.Shredded {
		flags = 1
	}
	out = append(out, flags)
	return binary.LittleEndian.AppendUint32(out, e.SchemaVersion)
}

func TestEncodedEventsRoundTrip(t *testing.T) {
	v := loadVectors(t)
	want := v.Page.Events[0].want(t)
	got, err := unpackPage(appendEvent([]byte{1, 0, 0, 0}, &want))
	if err != nil || len(got) != 1 {
		t.Fatalf("%v", err)
	}
	sameEvent(t, "re-encoded event", got[0], want)

	// The decoded strings and bytes alias the buffer, and stay valid while the page is held.
	buf := unhex(t, v.Page.Packed)
	page, err := unpackPage(buf)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	if page[0].Stream != "order-1" || string(page[0].Data) != `{"qty":2}` {
		t.Fatalf("%+v", page[0])
	}
	// A cap-limited slice: appending to an event's data never writes into the next field.
	data := append(page[0].Data, '!')
	if string(page[0].Metadata) != "m" || string(data) != `{"qty":2}!` {
		t.Fatalf("an append to Data wrote into the buffer: metadata %q", page[0].Metadata)
	}
}
