package graveyard

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unsafe"
)

// The packed layouts of docs/boundary.md: events to append (encoded here), read pages,
// subscription messages, deliveries and snapshots (decoded here). Little-endian throughout.

// packEvents encodes a batch of events to append.
func packEvents(events []EventData) ([]byte, error) {
	size := 4
	for i := range events {
		e := &events[i]
		size += 1 + 16 + 16 + len(e.Type) + len(e.ContentType) + len(e.Data) + len(e.Metadata)
	}
	if len(events) > math.MaxUint32 {
		return nil, fmt.Errorf("graveyard: %d events in one append", len(events))
	}
	out := make([]byte, 0, size)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(events)))
	for i := range events {
		e := &events[i]
		if e.ID.IsZero() {
			out = append(out, 0)
		} else {
			out = append(out, 1)
			out = append(out, e.ID[:]...)
		}
		for _, field := range [...][]byte{unsafe.Slice(unsafe.StringData(e.Type), len(e.Type)),
			unsafe.Slice(unsafe.StringData(e.ContentType), len(e.ContentType)), e.Data, e.Metadata} {
			if len(field) > math.MaxUint32 {
				return nil, fmt.Errorf("graveyard: event %d has a field of %d bytes", i, len(field))
			}
			out = binary.LittleEndian.AppendUint32(out, uint32(len(field)))
			out = append(out, field...)
		}
	}
	return out, nil
}

// reader decodes a buffer the library made. Its strings and byte slices alias the buffer (one
// copy of the page, no copy per field), so the buffer must be Go memory that is never written
// again. A malformed buffer is a bug of the library, reported as INTERNAL, never a panic.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = &Error{Code: CodeInternal, Message: "the library returned a malformed buffer: " + what}
	}
	r.b = nil
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.fail(what)
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() byte {
	b := r.take(1, "u8")
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u32() uint32 {
	b := r.take(4, "u32")
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *reader) u64() uint64 {
	b := r.take(8, "u64")
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (r *reader) bytes() []byte {
	n := r.u32()
	b := r.take(int(n), "bytes")
	if len(b) == 0 {
		return nil
	}
	return b
}

func (r *reader) str() string {
	b := r.bytes()
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (r *reader) event(e *RecordedEvent) {
	e.Stream = r.str()
	e.Revision = r.u64()
	e.Position = r.u64()
	e.Timestamp = time.UnixMicro(int64(r.u64()))
	copy(e.ID[:], r.take(16, "id"))
	e.Type = r.str()
	e.ContentType = r.str()
	e.Data = r.bytes()
	e.Metadata = r.bytes()
	flags := r.u8()
	if flags&^1 != 0 {
		// docs/boundary.md: decoders refuse unknown flag bits.
		r.fail("event flags")
	}
	e.Shredded = flags&1 != 0
	e.SchemaVersion = r.u32()
}

func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	return r.err
}

// unpackPage decodes a read page.
func unpackPage(b []byte) ([]RecordedEvent, error) {
	r := reader{b: b}
	n := r.u32()
	// Each event takes at least 57 bytes: a count beyond that is a malformed buffer.
	if uint64(n)*57 > uint64(len(r.b)) {
		r.fail("event count")
		return nil, r.err
	}
	events := make([]RecordedEvent, n)
	for i := range events {
		r.event(&events[i])
	}
	return events, r.done()
}

func unpackSnapshot(b []byte) (*Snapshot, error) {
	r := reader{b: b}
	s := &Snapshot{Stream: r.str(), Revision: r.u64()}
	s.Timestamp = time.UnixMicro(int64(r.u64()))
	s.Data = r.bytes()
	return s, r.done()
}

// unpackMessage decodes a subscription message: 0 caught up, 1 an event.
func unpackMessage(b []byte) (Message, error) {
	r := reader{b: b}
	switch r.u8() {
	case 0:
		return Message{CaughtUp: true}, r.done()
	case 1:
		ev := &RecordedEvent{}
		r.event(ev)
		return Message{Event: ev}, r.done()
	default:
		r.fail("message tag")
		return Message{}, r.err
	}
}

// unpackDelivery decodes a delivery to a group member (not yet tied to its member).
func unpackDelivery(b []byte) (*Delivery, error) {
	r := reader{b: b}
	d := &Delivery{ID: r.u64(), Attempt: r.u32()}
	if parked := int64(r.u64()); parked >= 0 {
		d.ParkedRevision = Ref(uint64(parked))
	}
	r.event(&d.Event)
	if err := r.done(); err != nil {
		return nil, err
	}
	return d, nil
}
