package graveyard

/*
#include "graveyard.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Start is where a subscription or a consumer group begins: FromStart, FromEnd, or After a
// revision (a stream) or a position ($all), exclusive.
type Start struct {
	kind  int32
	after uint64
}

var (
	// FromStart begins with the first event (the zero Start).
	FromStart = Start{kind: startStart}
	// FromEnd begins with the next event appended.
	FromEnd = Start{kind: startEnd}
)

// After begins after a checkpoint: the revision or position of the last event handled.
func After(checkpoint uint64) Start {
	return Start{kind: startAfter, after: checkpoint}
}

// SubscribeOptions configures a subscription; the zero value starts from the first event.
type SubscribeOptions struct {
	Start Start
	// Filter selects events of $all (SubscribeToAll only).
	Filter Filter
	// PageSize is how many events of history are read per call (0: the store's default).
	PageSize uint32
}

// Message is what a subscription hands out: an event, or the one marker that history is over
// and live events follow (CaughtUp, with a nil Event).
type Message struct {
	Event    *RecordedEvent
	CaughtUp bool
}

// session is what subscriptions and members share: a handle, closed once.
type session struct {
	h    C.gy_handle
	once sync.Once
	// freed: Close freed the handle, so CLOSED from it is the session's end, not the store's.
	freed atomic.Bool
	free  func(C.gy_handle)
}

func (s *session) close() {
	s.once.Do(func() {
		runtime.SetFinalizer(s, nil)
		s.freed.Store(true)
		s.free(s.h)
	})
}

// next waits for the session's next packed item: ctx's deadline becomes the wait's timeout,
// its cancellation pulls the call's token.
func (s *session) next(ctx context.Context, f func(h C.gy_handle, timeout C.int64_t, token C.gy_handle, buf *C.gy_buf, err *C.gy_error) C.int32_t) ([]byte, error) {
	call, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	defer call.end()
	timeout := C.int64_t(-1)
	if dl, ok := ctx.Deadline(); ok {
		// Rounded up: the library's timeout never fires before ctx's deadline.
		timeout = C.int64_t(millisCeil(max(0, time.Until(dl))))
	}
	var buf C.gy_buf
	switch err := call.status(f(s.h, timeout, call.token, &buf, call.err)); {
	case err == nil:
		return take(&buf), nil
	case err == errTimeout:
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, context.DeadlineExceeded
	case err == errEnded || errors.Is(err, ErrClosed) && s.freed.Load():
		return nil, ErrSessionClosed
	default:
		return nil, err
	}
}

// Subscription is a catch-up subscription: history, one CaughtUp marker, then live events. It
// never ends silently: a failure (a dropped cluster connection, a deleted stream) comes from
// Next as an error that says where to resume; Close ends it.
type Subscription struct {
	session
}

// SubscribeToStream subscribes to a stream.
func (c *Client) SubscribeToStream(ctx context.Context, stream string, opts SubscribeOptions) (*Subscription, error) {
	if !opts.Filter.isZero() {
		return nil, &Error{Code: CodeInvalidArgument, Message: "a filter applies to SubscribeToAll, not to a stream"}
	}
	call, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	defer call.end()
	s, sl := cStr(stream)
	var h C.gy_handle
	status := C.gy_subscribe_to_stream(c.h, s, sl, C.int32_t(opts.Start.kind), C.uint64_t(opts.Start.after),
		C.uint32_t(opts.PageSize), call.token, &h, call.err)
	runtime.KeepAlive(stream)
	if err := call.status(status); err != nil {
		return nil, err
	}
	return newSubscription(h), nil
}

// SubscribeToAll subscribes to $all (on a cluster, that of the Client's node), filtered.
func (c *Client) SubscribeToAll(ctx context.Context, opts SubscribeOptions) (*Subscription, error) {
	call, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	defer call.end()
	filter := opts.Filter.json()
	f, fl := cOptStr(filter)
	var h C.gy_handle
	status := C.gy_subscribe_to_all(c.h, C.int32_t(opts.Start.kind), C.uint64_t(opts.Start.after), f, fl,
		C.uint32_t(opts.PageSize), call.token, &h, call.err)
	runtime.KeepAlive(filter)
	if err := call.status(status); err != nil {
		return nil, err
	}
	return newSubscription(h), nil
}

func newSubscription(h C.gy_handle) *Subscription {
	s := &Subscription{session{h: h, free: func(h C.gy_handle) { C.gy_subscription_free(h) }}}
	runtime.SetFinalizer(&s.session, (*session).close)
	return s
}

// Next waits for the next message. ctx bounds the wait and leaves the subscription open. A
// failure that ends the subscription (a tombstoned stream, a dropped cluster connection, whose
// message says where to resume) is returned once, then ErrSessionClosed, as after Close; once
// its Client is closed, ErrClosed on every call.
func (s *Subscription) Next(ctx context.Context) (Message, error) {
	b, err := s.next(ctx, func(h C.gy_handle, timeout C.int64_t, token C.gy_handle, buf *C.gy_buf, e *C.gy_error) C.int32_t {
		return C.gy_subscription_next(h, timeout, token, buf, e)
	})
	if err != nil {
		return Message{}, err
	}
	return unpackMessage(b)
}

// Messages iterates over the subscription's messages until ctx is done, an error comes (the
// last item) or the loop breaks; it does not close the subscription.
func (s *Subscription) Messages(ctx context.Context) iter.Seq2[Message, error] {
	return func(yield func(Message, error) bool) {
		for {
			m, err := s.Next(ctx)
			if !yield(m, err) || err != nil {
				return
			}
		}
	}
}

// Events is Messages without the CaughtUp marker.
func (s *Subscription) Events(ctx context.Context) iter.Seq2[*RecordedEvent, error] {
	return func(yield func(*RecordedEvent, error) bool) {
		for m, err := range s.Messages(ctx) {
			if m.CaughtUp {
				continue
			}
			if !yield(m.Event, err) || err != nil {
				return
			}
		}
	}
}

// Close ends the subscription: a Next waiting in another goroutine returns ErrSessionClosed.
// Closing twice is harmless.
func (s *Subscription) Close() error {
	C.gy_subscription_cancel(s.h, nil)
	s.close()
	return nil
}

// ---- consumer groups ----------------------------------------------------------------------------

// GroupTarget is what a consumer group consumes: one stream, or $all filtered.
type GroupTarget struct {
	Stream string
	// All: the group consumes $all, filtered by Filter (Stream must be empty).
	All    bool
	Filter Filter
}

// StreamTarget is a group on one stream.
func StreamTarget(stream string) GroupTarget {
	return GroupTarget{Stream: stream}
}

// AllTarget is a group on $all, filtered.
func AllTarget(filter Filter) GroupTarget {
	return GroupTarget{All: true, Filter: filter}
}

func (t GroupTarget) MarshalJSON() ([]byte, error) {
	if t.All {
		if t.Stream != "" {
			return nil, &Error{Code: CodeInvalidArgument, Message: "a group target is a stream or $all, not both"}
		}
		return json.Marshal(map[string]any{"all": map[string]any{
			"stream_prefixes": nonNil(t.Filter.StreamPrefixes), "event_types": nonNil(t.Filter.EventTypes)}})
	}
	return json.Marshal(map[string]string{"stream": t.Stream})
}

func (t *GroupTarget) UnmarshalJSON(b []byte) error {
	var j struct {
		Stream *string `json:"stream"`
		All    *Filter `json:"all"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	switch {
	case j.Stream != nil:
		*t = StreamTarget(*j.Stream)
	case j.All != nil:
		*t = AllTarget(*j.All)
	default:
		return &Error{Code: CodeInternal, Message: "an unknown group target: " + string(b)}
	}
	return nil
}

// Strategy is how a group spreads events over its members.
type Strategy string

const (
	// RoundRobin hands each event to the next member with room.
	RoundRobin Strategy = "round_robin"
	// PinnedByStream hands all events of a stream to the same member.
	PinnedByStream Strategy = "pinned_by_stream"
)

// GroupSettings are a group's rules. Zero fields take the store's defaults: 10 retries (set
// MaxRetries to Ref(0) for none), a 30 s ack timeout, 256 in flight, RoundRobin.
type GroupSettings struct {
	// MaxRetries is how many deliveries after the first an event gets before it is parked.
	MaxRetries *uint32
	// AckTimeout: an event not settled this long after delivery is delivered again.
	AckTimeout time.Duration
	// MaxInFlight bounds the events read ahead and delivered unsettled at once.
	MaxInFlight uint32
	Strategy    Strategy
}

// Ref is a pointer to v, for the optional fields of settings (GroupSettings.MaxRetries).
func Ref[T any](v T) *T {
	return &v
}

type settingsJSON struct {
	MaxRetries   *uint32  `json:"max_retries,omitempty"`
	AckTimeoutMs uint64   `json:"ack_timeout_ms,omitempty"`
	MaxInFlight  uint32   `json:"max_in_flight,omitempty"`
	Strategy     Strategy `json:"strategy,omitempty"`
}

func (s GroupSettings) MarshalJSON() ([]byte, error) {
	if s.AckTimeout < 0 {
		return nil, &Error{Code: CodeInvalidArgument, Message: "a negative ack timeout: " + s.AckTimeout.String()}
	}
	return json.Marshal(settingsJSON{s.MaxRetries, millisCeil(s.AckTimeout), s.MaxInFlight, s.Strategy})
}

func (s *GroupSettings) UnmarshalJSON(b []byte) error {
	var j settingsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = GroupSettings{MaxRetries: j.MaxRetries, AckTimeout: time.Duration(j.AckTimeoutMs) * time.Millisecond,
		MaxInFlight: j.MaxInFlight, Strategy: j.Strategy}
	return nil
}

// GroupInfo is a group's state.
type GroupInfo struct {
	Name     string        `json:"name"`
	Target   GroupTarget   `json:"target"`
	Settings GroupSettings `json:"settings"`
	// Checkpoint: every cursor below it is settled.
	Checkpoint uint64 `json:"checkpoint"`
	// Lag: events committed to the target beyond the checkpoint.
	Lag          uint64   `json:"lag"`
	Members      []string `json:"members"`
	InFlight     uint64   `json:"in_flight"`
	Buffered     uint64   `json:"buffered"`
	ParkedStream string   `json:"parked_stream"`
	// Parked: events waiting in ParkedStream for a replay.
	Parked uint64 `json:"parked"`
	// Replaying: parked events handed back and not yet settled again.
	Replaying uint64 `json:"replaying"`
}

// ReplayInfo is what ReplayParked handed back: revisions From..To (exclusive) of the parked
// stream, and the counts after it.
type ReplayInfo struct {
	From      uint64 `json:"from"`
	To        uint64 `json:"to"`
	Parked    uint64 `json:"parked"`
	Replaying uint64 `json:"replaying"`
}

func (c *Client) groupCall(ctx context.Context, name string, out any,
	f func(n *C.uint8_t, nl C.size_t, t C.gy_handle, b *C.gy_buf, e *C.gy_error) C.int32_t) error {
	n, nl := cStr(name)
	err := jsonCall(ctx, out, func(t C.gy_handle, b *C.gy_buf, e *C.gy_error) C.int32_t { return f(n, nl, t, b, e) })
	runtime.KeepAlive(name)
	return err
}

// CreateGroup creates a consumer group.
func (c *Client) CreateGroup(ctx context.Context, name string, target GroupTarget, start Start, settings GroupSettings) (GroupInfo, error) {
	var info GroupInfo
	tj, err := json.Marshal(target)
	if err != nil {
		return info, err
	}
	sj, err := json.Marshal(settings)
	if err != nil {
		return info, err
	}
	t, tl := cBytes(tj)
	s, sl := cBytes(sj)
	err = c.groupCall(ctx, name, &info, func(n *C.uint8_t, nl C.size_t, tok C.gy_handle, b *C.gy_buf, e *C.gy_error) C.int32_t {
		return C.gy_create_group(c.h, n, nl, t, tl, C.int32_t(start.kind), C.uint64_t(start.after), s, sl, tok, b, e)
	})
	runtime.KeepAlive(tj)
	runtime.KeepAlive(sj)
	return info, err
}

// UpdateGroup replaces a group's settings.
func (c *Client) UpdateGroup(ctx context.Context, name string, settings GroupSettings) (GroupInfo, error) {
	var info GroupInfo
	sj, err := json.Marshal(settings)
	if err != nil {
		return info, err
	}
	s, sl := cBytes(sj)
	err = c.groupCall(ctx, name, &info, func(n *C.uint8_t, nl C.size_t, tok C.gy_handle, b *C.gy_buf, e *C.gy_error) C.int32_t {
		return C.gy_update_group(c.h, n, nl, s, sl, tok, b, e)
	})
	runtime.KeepAlive(sj)
	return info, err
}

// DeleteGroup deletes a group: its members' Next returns ErrNotFound.
func (c *Client) DeleteGroup(ctx context.Context, name string) error {
	n, nl := cStr(name)
	err := unitCall(ctx, func(t C.gy_handle, e *C.gy_error) C.int32_t { return C.gy_delete_group(c.h, n, nl, t, e) })
	runtime.KeepAlive(name)
	return err
}

// GroupInfo is a group's state.
func (c *Client) GroupInfo(ctx context.Context, name string) (GroupInfo, error) {
	var info GroupInfo
	err := c.groupCall(ctx, name, &info, func(n *C.uint8_t, nl C.size_t, tok C.gy_handle, b *C.gy_buf, e *C.gy_error) C.int32_t {
		return C.gy_group_info(c.h, n, nl, tok, b, e)
	})
	return info, err
}

// Groups is the names of the groups.
func (c *Client) Groups(ctx context.Context) ([]string, error) {
	var names []string
	err := jsonCall(ctx, &names, func(t C.gy_handle, b *C.gy_buf, e *C.gy_error) C.int32_t {
		return C.gy_list_groups(c.h, t, b, e)
	})
	return names, err
}

// ReplayParked hands up to limit (0: all) parked events back to the group's members.
func (c *Client) ReplayParked(ctx context.Context, name string, limit uint64) (ReplayInfo, error) {
	var info ReplayInfo
	l := optionalCount(limit)
	err := c.groupCall(ctx, name, &info, func(n *C.uint8_t, nl C.size_t, tok C.gy_handle, b *C.gy_buf, e *C.gy_error) C.int32_t {
		return C.gy_replay_parked(c.h, n, nl, l, tok, b, e)
	})
	return info, err
}

// NackAction is what a nack does with an event.
type NackAction int32

const (
	// Retry delivers the event again (until the group's MaxRetries, then parks it).
	Retry NackAction = nackRetry
	// Park moves it to the group's parked stream now.
	Park NackAction = nackPark
	// Skip settles it without handling it.
	Skip NackAction = nackSkip
)

// Member is a member of a consumer group.
type Member struct {
	session
}

// Delivery is an event handed to a member; settle it with Ack or Nack.
type Delivery struct {
	// ID names the delivery when it is settled (through any member of the group joined through
	// the same Client). A redelivery has the same ID.
	ID uint64
	// Attempt is 1 for the first delivery.
	Attempt uint32
	// ParkedRevision is the revision of the parked copy when a replay handed the event back.
	ParkedRevision *uint64
	Event          RecordedEvent
	member         *Member
}

// JoinGroup joins consumer group group as member.
func (c *Client) JoinGroup(ctx context.Context, group, member string) (*Member, error) {
	call, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	defer call.end()
	g, gl := cStr(group)
	m, ml := cStr(member)
	var h C.gy_handle
	status := C.gy_join_group(c.h, g, gl, m, ml, call.token, &h, call.err)
	runtime.KeepAlive(group)
	runtime.KeepAlive(member)
	if err := call.status(status); err != nil {
		return nil, err
	}
	mem := &Member{session{h: h, free: func(h C.gy_handle) { C.gy_member_free(h) }}}
	runtime.SetFinalizer(&mem.session, (*session).close)
	return mem, nil
}

// Next waits for the next delivery; ctx bounds the wait. Its errors last: ErrNotFound on every
// call once the group was deleted, ErrClosed once the Client was closed, ErrUnavailable once a
// cluster session dropped (join again: the unsettled deliveries come again). ErrSessionClosed
// after Close.
func (m *Member) Next(ctx context.Context) (*Delivery, error) {
	b, err := m.next(ctx, func(h C.gy_handle, timeout C.int64_t, token C.gy_handle, buf *C.gy_buf, e *C.gy_error) C.int32_t {
		return C.gy_member_next(h, timeout, token, buf, e)
	})
	if err != nil {
		return nil, err
	}
	d, err := unpackDelivery(b)
	if d != nil {
		d.member = m
	}
	return d, err
}

// Deliveries iterates over the member's deliveries until ctx is done, an error comes (the last
// item) or the loop breaks.
func (m *Member) Deliveries(ctx context.Context) iter.Seq2[*Delivery, error] {
	return func(yield func(*Delivery, error) bool) {
		for {
			d, err := m.Next(ctx)
			if !yield(d, err) || err != nil {
				return
			}
		}
	}
}

func (m *Member) settle(ctx context.Context, ids []uint64, f func(h C.gy_handle, p *C.uint64_t, n C.size_t, t C.gy_handle, e *C.gy_error) C.int32_t) error {
	var p *C.uint64_t
	if len(ids) > 0 {
		p = (*C.uint64_t)(&ids[0])
	}
	err := unitCall(ctx, func(t C.gy_handle, e *C.gy_error) C.int32_t { return f(m.h, p, C.size_t(len(ids)), t, e) })
	runtime.KeepAlive(ids)
	return err
}

// Ack settles deliveries as handled, in one commit.
func (m *Member) Ack(ctx context.Context, ids ...uint64) error {
	return m.settle(ctx, ids, func(h C.gy_handle, p *C.uint64_t, n C.size_t, t C.gy_handle, e *C.gy_error) C.int32_t {
		return C.gy_member_ack(h, p, n, t, e)
	})
}

// Nack settles deliveries as not handled, with action.
func (m *Member) Nack(ctx context.Context, action NackAction, ids ...uint64) error {
	return m.settle(ctx, ids, func(h C.gy_handle, p *C.uint64_t, n C.size_t, t C.gy_handle, e *C.gy_error) C.int32_t {
		return C.gy_member_nack(h, C.int32_t(action), p, n, t, e)
	})
}

// Close leaves the group: a Next waiting in another goroutine returns ErrSessionClosed; the
// member's unsettled deliveries go to the other members.
func (m *Member) Close() error {
	C.gy_member_cancel(m.h, nil)
	m.close()
	return nil
}

// Ack settles the delivery as handled.
func (d *Delivery) Ack(ctx context.Context) error {
	return d.member.Ack(ctx, d.ID)
}

// Nack settles the delivery as not handled.
func (d *Delivery) Nack(ctx context.Context, action NackAction) error {
	return d.member.Nack(ctx, action, d.ID)
}
