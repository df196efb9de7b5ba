package graveyard_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	graveyard "github.com/graveyard-db/graveyard/sdk-go"
)

// ---- subscriptions ------------------------------------------------------------------------------

func next(t testing.TB, sub *graveyard.Subscription) graveyard.Message {
	t.Helper()
	m, err := sub.Next(testCtx(t))
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return m
}

func wantEvent(t testing.TB, m graveyard.Message, stream string, revision uint64) *graveyard.RecordedEvent {
	t.Helper()
	if m.CaughtUp || m.Event == nil {
		t.Fatalf("got %+v, want event %d of %s", m, revision, stream)
	}
	if m.Event.Stream != stream || m.Event.Revision != revision {
		t.Fatalf("got event %d of %s, want %d of %s", m.Event.Revision, m.Event.Stream, revision, stream)
	}
	return m.Event
}

func wantCaughtUp(t testing.TB, m graveyard.Message) {
	t.Helper()
	if !m.CaughtUp || m.Event != nil {
		t.Fatalf("got %+v, want the CaughtUp marker", m)
	}
}

// inBackground runs f in a goroutine; the returned function waits for its error, failing the
// test if f never returns.
func inBackground(t testing.TB, f func() error) func() error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	return func() error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(wait):
			t.Fatalf("the call did not return within %s", wait)
			return nil
		}
	}
}

func TestSubscribeToStream(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	mustAppend(t, c, "sub", graveyard.NoStream, numbered("E", 3)...)
	mustAppend(t, c, "sub-other", graveyard.NoStream, numbered("E", 2)...)
	sub, err := c.SubscribeToStream(ctx, "sub", graveyard.SubscribeOptions{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for rev := uint64(0); rev < 3; rev++ {
		e := wantEvent(t, next(t, sub), "sub", rev)
		var v struct{ N uint64 }
		if err := e.Decode(&v); err != nil || v.N != rev {
			t.Fatalf("data of %d: %+v %v", rev, v, err)
		}
	}
	wantCaughtUp(t, next(t, sub))

	// Live events, appended from another goroutine while Next waits.
	appended := inBackground(t, func() error {
		time.Sleep(10 * time.Millisecond)
		_, err := c.Append(ctx, "sub", graveyard.Exact(2), ev("E", `{"n":3}`), ev("E", `{"n":4}`))
		return err
	})
	wantEvent(t, next(t, sub), "sub", 3)
	wantEvent(t, next(t, sub), "sub", 4)
	if err := appended(); err != nil {
		t.Fatal(err)
	}

	// A deadline ends the wait with DeadlineExceeded; the subscription goes on.
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	m, err := sub.Next(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || m.Event != nil || m.CaughtUp {
		t.Fatalf("Next past its deadline: %+v, %v", m, err)
	}
	mustAppend(t, c, "sub", graveyard.Any, ev("E", `{"n":5}`))
	wantEvent(t, next(t, sub), "sub", 5)

	// Events skips the marker; breaking out leaves the subscription open.
	from1, err := c.SubscribeToStream(ctx, "sub", graveyard.SubscribeOptions{Start: graveyard.After(1), PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer from1.Close()
	var got []uint64
	for e, err := range from1.Events(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Revision)
		if len(got) == 3 {
			break
		}
	}
	if !equal(got, []uint64{2, 3, 4}) {
		t.Fatalf("After(1): %v", got)
	}
	wantEvent(t, next(t, from1), "sub", 5)
	wantCaughtUp(t, next(t, from1))

	// Messages has the marker; a deadline is its last item.
	var kinds []string
	all, err := c.SubscribeToStream(ctx, "sub", graveyard.SubscribeOptions{Start: graveyard.After(4)})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	short, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	for m, err := range all.Messages(short) {
		switch {
		case err != nil:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatal(err)
			}
			kinds = append(kinds, "deadline")
		case m.CaughtUp:
			kinds = append(kinds, "caught up")
		default:
			kinds = append(kinds, fmt.Sprint(m.Event.Revision))
		}
	}
	if !equal(kinds, []string{"5", "caught up", "deadline"}) {
		t.Fatalf("Messages: %v", kinds)
	}

	// FromEnd: no history.
	end, err := c.SubscribeToStream(ctx, "sub", graveyard.SubscribeOptions{Start: graveyard.FromEnd})
	if err != nil {
		t.Fatal(err)
	}
	defer end.Close()
	wantCaughtUp(t, next(t, end))
	mustAppend(t, c, "sub", graveyard.Any, ev("E", `{"n":6}`))
	wantEvent(t, next(t, end), "sub", 6)

	// A stream with no events yet: caught up at once, then its first event.
	later, err := c.SubscribeToStream(ctx, "later", graveyard.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer later.Close()
	wantCaughtUp(t, next(t, later))
	mustAppend(t, c, "later", graveyard.NoStream, ev("E", `{}`))
	wantEvent(t, next(t, later), "later", 0)

	_, err = c.SubscribeToStream(ctx, "sub", graveyard.SubscribeOptions{Filter: graveyard.Filter{EventTypes: []string{"E"}}})
	wantCode(t, err, graveyard.CodeInvalidArgument)
}

func TestSubscribeToAllFiltered(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	mustAppend(t, c, "order-1", graveyard.Any, ev("OrderPlaced", `{}`), ev("OrderPaid", `{}`)) // 0, 1
	mustAppend(t, c, "user-1", graveyard.Any, ev("OrderPaid", `{}`))                           // 2
	mustAppend(t, c, "order-2", graveyard.Any, ev("OrderPaid", `{}`))                          // 3
	filter := graveyard.Filter{StreamPrefixes: []string{"order-"}, EventTypes: []string{"OrderPaid"}}
	sub, err := c.SubscribeToAll(ctx, graveyard.SubscribeOptions{Filter: filter, PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if e := wantEvent(t, next(t, sub), "order-1", 1); e.Position != 1 || e.Type != "OrderPaid" {
		t.Fatalf("%+v", e)
	}
	if e := wantEvent(t, next(t, sub), "order-2", 0); e.Position != 3 {
		t.Fatalf("%+v", e)
	}
	wantCaughtUp(t, next(t, sub))
	mustAppend(t, c, "user-2", graveyard.Any, ev("OrderPaid", `{}`))    // 4: another prefix
	mustAppend(t, c, "order-3", graveyard.Any, ev("OrderPlaced", `{}`)) // 5: another type
	mustAppend(t, c, "order-3", graveyard.Any, ev("OrderPaid", `{}`))   // 6
	if e := wantEvent(t, next(t, sub), "order-3", 1); e.Position != 6 {
		t.Fatalf("%+v", e)
	}

	// Unfiltered, after a position.
	after, err := c.SubscribeToAll(ctx, graveyard.SubscribeOptions{Start: graveyard.After(4)})
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	var positions []uint64
	for m := next(t, after); !m.CaughtUp; m = next(t, after) {
		positions = append(positions, m.Event.Position)
	}
	if !equal(positions, []uint64{5, 6}) {
		t.Fatalf("After(4): %v", positions)
	}
}

func TestSubscriptionCloseWakesNext(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	sub, err := c.SubscribeToStream(ctx, "quiet", graveyard.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantCaughtUp(t, next(t, sub))
	blocked := inBackground(t, func() error {
		_, err := sub.Next(context.Background())
		return err
	})
	time.Sleep(20 * time.Millisecond)
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := blocked(); !errors.Is(err, graveyard.ErrSessionClosed) {
		t.Fatalf("a Next woken by Close: %v", err)
	}
	if _, err := sub.Next(ctx); !errors.Is(err, graveyard.ErrSessionClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	if err := sub.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The store is unaffected.
	mustAppend(t, c, "quiet", graveyard.Any, ev("E", `{}`))
}

func TestStoreCloseEndsSessions(t *testing.T) {
	c, err := graveyard.Open(t.TempDir(), graveyard.WithoutFsync())
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	mustAppend(t, c, "s", graveyard.Any, ev("E", `{}`))
	if _, err := c.CreateGroup(ctx, "g", graveyard.StreamTarget("s"), graveyard.FromEnd, graveyard.GroupSettings{}); err != nil {
		t.Fatal(err)
	}
	waiting, err := c.SubscribeToStream(ctx, "s", graveyard.SubscribeOptions{Start: graveyard.FromEnd})
	if err != nil {
		t.Fatal(err)
	}
	defer waiting.Close()
	idle, err := c.SubscribeToStream(ctx, "s", graveyard.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	member, err := c.JoinGroup(ctx, "g", "m")
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	wantCaughtUp(t, next(t, waiting))
	subDone := inBackground(t, func() error { _, err := waiting.Next(ctx); return err })
	memberDone := inBackground(t, func() error { _, err := member.Next(ctx); return err })
	time.Sleep(20 * time.Millisecond)
	c.Close()
	// Every session of a closed store says CLOSED, on every call.
	subErr, memberErr := subDone(), memberDone()
	for i := 0; i < 3; i++ {
		wantCode(t, subErr, graveyard.CodeClosed)
		wantCode(t, memberErr, graveyard.CodeClosed)
		_, err = idle.Next(ctx)
		wantCode(t, err, graveyard.CodeClosed)
		_, subErr = waiting.Next(ctx)
		_, memberErr = member.Next(ctx)
	}
	if err := member.Ack(ctx, 1); !errors.Is(err, graveyard.ErrClosed) {
		t.Fatalf("Ack after the store closed: %v", err)
	}
	// Closed by its Close: the session's own end.
	waiting.Close()
	member.Close()
	if _, err := waiting.Next(ctx); !errors.Is(err, graveyard.ErrSessionClosed) {
		t.Fatalf("a closed subscription of a closed store: %v", err)
	}
	if _, err := member.Next(ctx); !errors.Is(err, graveyard.ErrSessionClosed) {
		t.Fatalf("a closed member of a closed store: %v", err)
	}
}

// ---- consumer groups ----------------------------------------------------------------------------

func TestGroupAdministration(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	mustAppend(t, c, "jobs", graveyard.Any, numbered("Job", 3)...)
	settings := graveyard.GroupSettings{MaxRetries: graveyard.Ref[uint32](3), AckTimeout: 2 * time.Second,
		MaxInFlight: 8, Strategy: graveyard.PinnedByStream}
	info, err := c.CreateGroup(ctx, "g1", graveyard.StreamTarget("jobs"), graveyard.After(0), settings)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "g1" || info.Target.Stream != "jobs" || info.Target.All || info.Checkpoint != 1 || info.Lag != 2 ||
		len(info.Members) != 0 || info.ParkedStream != "$parked-g1" || info.Parked != 0 {
		t.Fatalf("created %+v", info)
	}
	if s := info.Settings; s.MaxRetries == nil || *s.MaxRetries != 3 || s.AckTimeout != 2*time.Second || s.MaxInFlight != 8 ||
		s.Strategy != graveyard.PinnedByStream {
		t.Fatalf("settings %+v", s)
	}

	filter := graveyard.Filter{StreamPrefixes: []string{"order-"}, EventTypes: []string{"OrderPlaced"}}
	info, err = c.CreateGroup(ctx, "g2", graveyard.AllTarget(filter), graveyard.FromEnd, graveyard.GroupSettings{})
	if err != nil {
		t.Fatal(err)
	}
	if !info.Target.All || !equal(info.Target.Filter.StreamPrefixes, filter.StreamPrefixes) ||
		!equal(info.Target.Filter.EventTypes, filter.EventTypes) || info.Checkpoint != 3 {
		t.Fatalf("created %+v", info)
	}
	// Zero settings take the store's defaults.
	if s := info.Settings; s.MaxRetries == nil || *s.MaxRetries != 10 || s.AckTimeout != 30*time.Second || s.MaxInFlight != 256 ||
		s.Strategy != graveyard.RoundRobin {
		t.Fatalf("default settings %+v", s)
	}
	if info, err := c.CreateGroup(ctx, "g3", graveyard.StreamTarget("jobs"), graveyard.FromStart,
		graveyard.GroupSettings{MaxRetries: graveyard.Ref[uint32](0)}); err != nil || *info.Settings.MaxRetries != 0 || info.Checkpoint != 0 {
		t.Fatalf("no retries: %+v %v", info, err)
	}

	_, err = c.CreateGroup(ctx, "g1", graveyard.StreamTarget("other"), graveyard.FromStart, graveyard.GroupSettings{})
	wantCode(t, err, graveyard.CodeInvalidArgument)
	_, err = c.CreateGroup(ctx, "", graveyard.StreamTarget("jobs"), graveyard.FromStart, graveyard.GroupSettings{})
	wantCode(t, err, graveyard.CodeInvalidArgument)
	_, err = c.CreateGroup(ctx, "bad", graveyard.GroupTarget{Stream: "jobs", All: true}, graveyard.FromStart, graveyard.GroupSettings{})
	if !errors.Is(err, graveyard.ErrInvalidArgument) {
		t.Fatalf("a target of a stream and $all: %v", err)
	}
	_, err = c.CreateGroup(ctx, "bad", graveyard.StreamTarget("jobs"), graveyard.FromStart, graveyard.GroupSettings{AckTimeout: -time.Second})
	if !errors.Is(err, graveyard.ErrInvalidArgument) {
		t.Fatalf("a negative ack timeout: %v", err)
	}

	names, err := c.Groups(ctx)
	slices.Sort(names)
	if err != nil || !equal(names, []string{"g1", "g2", "g3"}) {
		t.Fatalf("Groups: %v %v", names, err)
	}

	info, err = c.UpdateGroup(ctx, "g1", graveyard.GroupSettings{MaxInFlight: 16, AckTimeout: 1500 * time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	// Replaced, not merged: unset fields are the defaults again; durations round up to ms.
	if s := info.Settings; s.MaxInFlight != 16 || s.AckTimeout != 2*time.Millisecond || *s.MaxRetries != 10 || s.Strategy != graveyard.RoundRobin {
		t.Fatalf("updated %+v", s)
	}
	if got, err := c.GroupInfo(ctx, "g1"); err != nil || got.Settings.MaxInFlight != 16 || got.Target.Stream != "jobs" || got.Checkpoint != 1 {
		t.Fatalf("GroupInfo %+v %v", got, err)
	}

	if err := c.DeleteGroup(ctx, "g2"); err != nil {
		t.Fatal(err)
	}
	names, _ = c.Groups(ctx)
	slices.Sort(names)
	if !equal(names, []string{"g1", "g3"}) {
		t.Fatalf("after delete: %v", names)
	}
	_, err = c.GroupInfo(ctx, "g2")
	wantCode(t, err, graveyard.CodeNotFound)
	wantCode(t, c.DeleteGroup(ctx, "g2"), graveyard.CodeNotFound)
	_, err = c.UpdateGroup(ctx, "g2", graveyard.GroupSettings{})
	wantCode(t, err, graveyard.CodeNotFound)
	_, err = c.JoinGroup(ctx, "g2", "m")
	wantCode(t, err, graveyard.CodeNotFound)
	_, err = c.ReplayParked(ctx, "g2", 0)
	wantCode(t, err, graveyard.CodeNotFound)
}

func nextDelivery(t testing.TB, m *graveyard.Member) *graveyard.Delivery {
	t.Helper()
	d, err := m.Next(testCtx(t))
	if err != nil {
		t.Fatalf("member Next: %v", err)
	}
	return d
}

func TestGroupDeliveriesAndSettling(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	mustAppend(t, c, "jobs", graveyard.NoStream, graveyard.EventData{Type: "Job", ContentType: "application/json",
		Data: []byte(`{"n":0}`), Metadata: []byte("original")})
	mustAppend(t, c, "jobs", graveyard.Any, numbered("Job", 5)[1:]...)
	if _, err := c.CreateGroup(ctx, "work", graveyard.StreamTarget("jobs"), graveyard.FromStart, graveyard.GroupSettings{}); err != nil {
		t.Fatal(err)
	}
	m1, err := c.JoinGroup(ctx, "work", "m1")
	if err != nil {
		t.Fatal(err)
	}
	defer m1.Close()
	if info, _ := c.GroupInfo(ctx, "work"); !equal(info.Members, []string{"m1"}) {
		t.Fatalf("members %v", info.Members)
	}

	var ds []*graveyard.Delivery
	for d, err := range m1.Deliveries(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if d.Attempt != 1 || d.ParkedRevision != nil || d.Event.Stream != "jobs" || d.Event.Type != "Job" {
			t.Fatalf("delivery %+v", d)
		}
		ds = append(ds, d)
		if len(ds) == 2 {
			break
		}
	}
	if ds[0].Event.Revision != 0 || ds[1].Event.Revision != 1 || ds[0].ID == ds[1].ID {
		t.Fatalf("first deliveries: %d %d", ds[0].Event.Revision, ds[1].Event.Revision)
	}
	if err := ds[0].Ack(ctx); err != nil {
		t.Fatal(err)
	}
	// Retry: delivered again, before newer events, with the same id and the next attempt.
	if err := ds[1].Nack(ctx, graveyard.Retry); err != nil {
		t.Fatal(err)
	}
	again := nextDelivery(t, m1)
	if again.ID != ds[1].ID || again.Attempt != 2 || again.Event.Revision != 1 {
		t.Fatalf("retried: id %d attempt %d revision %d, want id %d attempt 2", again.ID, again.Attempt, again.Event.Revision, ds[1].ID)
	}
	if err := m1.Ack(ctx, again.ID); err != nil {
		t.Fatal(err)
	}
	d2 := nextDelivery(t, m1)
	d3 := nextDelivery(t, m1)
	d4 := nextDelivery(t, m1)
	if d2.Event.Revision != 2 || d3.Event.Revision != 3 || d4.Event.Revision != 4 {
		t.Fatalf("revisions %d %d %d", d2.Event.Revision, d3.Event.Revision, d4.Event.Revision)
	}
	if err := m1.Nack(ctx, graveyard.Park, d2.ID); err != nil {
		t.Fatal(err)
	}
	if err := d3.Nack(ctx, graveyard.Skip); err != nil {
		t.Fatal(err)
	}
	// Settling through another member of the group joined through the same Client.
	m2, err := c.JoinGroup(ctx, "work", "m2")
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Ack(ctx, d4.ID); err != nil {
		t.Fatal(err)
	}
	m2.Close()
	// Settled already: passed over. Never handed out: INVALID_ARGUMENT. None: nothing.
	if err := m1.Ack(ctx, d4.ID, ds[0].ID); err != nil {
		t.Fatalf("acking settled deliveries: %v", err)
	}
	wantCode(t, m1.Ack(ctx, 1<<40), graveyard.CodeInvalidArgument)
	if err := m1.Ack(ctx); err != nil {
		t.Fatalf("an empty ack: %v", err)
	}

	info, err := c.GroupInfo(ctx, "work")
	if err != nil {
		t.Fatal(err)
	}
	if info.Checkpoint != 5 || info.Lag != 0 || info.InFlight != 0 || info.Parked != 1 || info.Replaying != 0 {
		t.Fatalf("info after settling %+v", info)
	}
	parked, err := c.ReadStreamPage(ctx, info.ParkedStream)
	if err != nil || len(parked) != 1 || parked[0].Type != "Job" || string(parked[0].Data) != `{"n":2}` {
		t.Fatalf("parked stream: %+v %v", parked, err)
	}
	var meta struct {
		ParkedFrom struct {
			Stream   string `json:"stream"`
			Revision uint64 `json:"revision"`
		} `json:"parked_from"`
		Group string `json:"group"`
	}
	if err := json.Unmarshal(parked[0].Metadata, &meta); err != nil || meta.ParkedFrom.Stream != "jobs" || meta.ParkedFrom.Revision != 2 || meta.Group != "work" {
		t.Fatalf("parked metadata %s: %v", parked[0].Metadata, err)
	}

	// Replay: the parked event comes back as the original, with its parked copy's revision.
	replay, err := c.ReplayParked(ctx, "work", 0)
	if err != nil {
		t.Fatal(err)
	}
	if replay != (graveyard.ReplayInfo{From: 0, To: 1, Parked: 0, Replaying: 1}) {
		t.Fatalf("replay %+v", replay)
	}
	r := nextDelivery(t, m1)
	if r.ParkedRevision == nil || *r.ParkedRevision != 0 || r.Attempt != 1 || r.Event.Stream != "jobs" || r.Event.Revision != 2 ||
		r.Event.ID != d2.Event.ID || string(r.Event.Data) != `{"n":2}` || r.ID == d2.ID {
		t.Fatalf("replayed %+v (parked %v)", r, r.ParkedRevision)
	}
	if err := r.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if info, _ := c.GroupInfo(ctx, "work"); info.Replaying != 0 || info.Parked != 0 {
		t.Fatalf("after the replay %+v", info)
	}
	if replay, err := c.ReplayParked(ctx, "work", 10); err != nil || replay.From != replay.To {
		t.Fatalf("nothing to replay: %+v %v", replay, err)
	}

	// Live: a new event reaches the member.
	mustAppend(t, c, "jobs", graveyard.Any, ev("Job", `{"n":5}`))
	if d := nextDelivery(t, m1); d.Event.Revision != 5 {
		t.Fatalf("live delivery %d", d.Event.Revision)
	}

	// A deadline ends the wait; the member goes on.
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	_, err = m1.Next(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("member Next past its deadline: %v", err)
	}
}

func TestGroupMembersShareWork(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	if _, err := c.CreateGroup(ctx, "shared", graveyard.StreamTarget("tasks"), graveyard.FromStart, graveyard.GroupSettings{}); err != nil {
		t.Fatal(err)
	}
	members := map[string]*graveyard.Member{}
	for _, name := range []string{"a", "b"} {
		m, err := c.JoinGroup(ctx, "shared", name)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		members[name] = m
	}
	const total = 20
	mustAppend(t, c, "tasks", graveyard.NoStream, numbered("Task", total)...)

	var mu sync.Mutex
	seen := map[uint64]string{}
	byMember := map[string]int{}
	var dupes []string
	// An event goes to the member asking for work, so a member whose goroutine ran first could
	// take all of them (seen in CI): each member, once it has its first event, asks again only
	// after the other has one.
	firsts := map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{})}
	other := map[string]string{"a": "b", "b": "a"}
	done, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for name, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d, err := range m.Deliveries(done) {
				if err != nil {
					if !errors.Is(err, context.Canceled) {
						errs <- fmt.Errorf("member %s: %w", name, err)
					}
					return
				}
				if err := d.Ack(ctx); err != nil {
					errs <- fmt.Errorf("member %s ack: %w", name, err)
					return
				}
				mu.Lock()
				if other, ok := seen[d.Event.Revision]; ok {
					dupes = append(dupes, fmt.Sprintf("%d to %s and %s", d.Event.Revision, other, name))
				}
				seen[d.Event.Revision] = name
				byMember[name]++
				if byMember[name] == 1 {
					close(firsts[name])
				}
				if len(seen) == total {
					stop()
				}
				mu.Unlock()
				select {
				case <-firsts[other[name]]:
				case <-done.Done():
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(dupes) > 0 {
		t.Fatalf("delivered twice: %v", dupes)
	}
	if len(seen) != total || byMember["a"] == 0 || byMember["b"] == 0 {
		t.Fatalf("%d events, per member %v", len(seen), byMember)
	}
	if info, err := c.GroupInfo(ctx, "shared"); err != nil || info.Checkpoint != total || len(info.Members) != 2 {
		t.Fatalf("%+v %v", info, err)
	}
}

func TestDeleteGroupEndsItsMembers(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	if _, err := c.CreateGroup(ctx, "doomed", graveyard.StreamTarget("x"), graveyard.FromStart, graveyard.GroupSettings{}); err != nil {
		t.Fatal(err)
	}
	waiting, err := c.JoinGroup(ctx, "doomed", "waiting")
	if err != nil {
		t.Fatal(err)
	}
	defer waiting.Close()
	idle, err := c.JoinGroup(ctx, "doomed", "idle")
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	blocked := inBackground(t, func() error { _, err := waiting.Next(ctx); return err })
	time.Sleep(20 * time.Millisecond)
	if err := c.DeleteGroup(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, blocked(), graveyard.CodeNotFound)
	// NOT_FOUND on every call, also once a group of the same name exists again (another group).
	for i := 0; i < 2; i++ {
		_, err = idle.Next(ctx)
		wantCode(t, err, graveyard.CodeNotFound)
		_, err = waiting.Next(ctx)
		wantCode(t, err, graveyard.CodeNotFound)
		if i == 0 {
			if _, err := c.CreateGroup(ctx, "doomed", graveyard.StreamTarget("x"), graveyard.FromStart, graveyard.GroupSettings{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Close still ends it.
	waiting.Close()
	if _, err := waiting.Next(ctx); !errors.Is(err, graveyard.ErrSessionClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
}

func TestMemberCloseWakesNextAndHandsOver(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	if _, err := c.CreateGroup(ctx, "g", graveyard.StreamTarget("s"), graveyard.FromStart, graveyard.GroupSettings{}); err != nil {
		t.Fatal(err)
	}
	first, err := c.JoinGroup(ctx, "g", "first")
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, c, "s", graveyard.Any, ev("E", `{}`))
	d := nextDelivery(t, first)
	blocked := inBackground(t, func() error { _, err := first.Next(context.Background()); return err })
	time.Sleep(20 * time.Millisecond)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := blocked(); !errors.Is(err, graveyard.ErrSessionClosed) {
		t.Fatalf("a Next woken by Close: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	// Its unsettled delivery goes to the next member, with the same id.
	second, err := c.JoinGroup(ctx, "g", "second")
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	again := nextDelivery(t, second)
	if again.ID != d.ID || again.Event.Revision != 0 {
		t.Fatalf("handed over %+v, want id %d", again, d.ID)
	}
	if err := again.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

// ---- contexts -----------------------------------------------------------------------------------

func TestContextCancellation(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	if _, err := c.CreateGroup(ctx, "g", graveyard.StreamTarget("jobs"), graveyard.FromStart, graveyard.GroupSettings{}); err != nil {
		t.Fatal(err)
	}
	member, err := c.JoinGroup(ctx, "g", "m")
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	sub, err := c.SubscribeToStream(ctx, "jobs", graveyard.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	wantCaughtUp(t, next(t, sub))
	before := goroutineBaseline()

	for round := 0; round < 3; round++ {
		// A Next blocked on a cancellable context returns context.Canceled once it is
		// cancelled, and the session goes on.
		cctx, cancel := context.WithCancel(context.Background())
		memberNext := inBackground(t, func() error { _, err := member.Next(cctx); return err })
		subNext := inBackground(t, func() error { _, err := sub.Next(cctx); return err })
		time.Sleep(15 * time.Millisecond)
		cancel()
		if err := memberNext(); err != context.Canceled {
			t.Fatalf("a cancelled member Next: %v", err)
		}
		if err := subNext(); err != context.Canceled {
			t.Fatalf("a cancelled subscription Next: %v", err)
		}
		mustAppend(t, c, "jobs", graveyard.Any, ev("Job", fmt.Sprintf(`{"n":%d}`, round)))
		d := nextDelivery(t, member)
		if d.Event.Revision != uint64(round) {
			t.Fatalf("after a cancel, delivery of %d, want %d", d.Event.Revision, round)
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
		wantEvent(t, next(t, sub), "jobs", uint64(round))
	}

	// An already cancelled context fails before the call is made: nothing happens.
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	past, cancelPast := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelPast()
	for _, tc := range []struct {
		ctx  context.Context
		want error
	}{{cancelled, context.Canceled}, {past, context.DeadlineExceeded}} {
		if _, err := c.Append(tc.ctx, "untouched", graveyard.Any, ev("E", `{}`)); err != tc.want {
			t.Fatalf("Append: %v, want %v", err, tc.want)
		}
		if err := c.SetStreamMetadata(tc.ctx, "untouched", graveyard.StreamMetadata{}); err != tc.want {
			t.Fatalf("SetStreamMetadata: %v", err)
		}
		if _, err := c.ReadStreamPage(tc.ctx, "jobs"); err != tc.want {
			t.Fatalf("ReadStreamPage: %v", err)
		}
		if err := firstErr(c.ReadStream(tc.ctx, "jobs")); err != tc.want {
			t.Fatalf("ReadStream: %v", err)
		}
		if err := firstErr(c.ReadAll(tc.ctx)); err != tc.want {
			t.Fatalf("ReadAll: %v", err)
		}
		if _, err := c.HeadPosition(tc.ctx); err != tc.want {
			t.Fatalf("HeadPosition: %v", err)
		}
		if _, err := c.SubscribeToStream(tc.ctx, "jobs", graveyard.SubscribeOptions{}); err != tc.want {
			t.Fatalf("SubscribeToStream: %v", err)
		}
		if _, err := c.JoinGroup(tc.ctx, "g", "late"); err != tc.want {
			t.Fatalf("JoinGroup: %v", err)
		}
		if _, err := member.Next(tc.ctx); err != tc.want {
			t.Fatalf("member Next: %v", err)
		}
		if _, err := sub.Next(tc.ctx); err != tc.want {
			t.Fatalf("subscription Next: %v", err)
		}
		if err := member.Ack(tc.ctx, 1); err != tc.want {
			t.Fatalf("Ack: %v", err)
		}
		if _, err := c.CreateGroup(tc.ctx, "never", graveyard.StreamTarget("jobs"), graveyard.FromStart, graveyard.GroupSettings{}); err != tc.want {
			t.Fatalf("CreateGroup: %v", err)
		}
	}
	if _, err := c.StreamInfo(ctx, "untouched"); !errors.Is(err, graveyard.ErrNotFound) {
		t.Fatalf("a call with a done context wrote something: %v", err)
	}
	if _, err := c.GroupInfo(ctx, "never"); !errors.Is(err, graveyard.ErrNotFound) {
		t.Fatalf("a call with a done context created a group: %v", err)
	}
	if info, err := c.GroupInfo(ctx, "g"); err != nil || !equal(info.Members, []string{"m"}) {
		t.Fatalf("members %+v %v", info.Members, err)
	}

	// A context cancelled while many calls use it.
	many, cancelMany := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, err := c.ReadStreamPage(many, "jobs")
				if err != nil {
					if err != context.Canceled {
						errs <- err
					}
					return
				}
			}
		}()
	}
	time.Sleep(10 * time.Millisecond)
	cancelMany()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// No goroutine of the cancelled calls is left behind.
	if after := settleGoroutines(before); after > before {
		var dump strings.Builder
		pprof.Lookup("goroutine").WriteTo(&dump, 1)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, after, dump.String())
	}
}

// TestNoGoroutinesLeftBehind: a store opened, used with cancellable contexts, sessions and
// iterators broken out of, then closed, leaves no goroutine running.
func TestNoGoroutinesLeftBehind(t *testing.T) {
	before := goroutineBaseline()
	c, err := graveyard.Open(t.TempDir(), graveyard.WithoutFsync())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	mustAppend(t, c, "s", graveyard.Any, numbered("E", 10)...)
	for range c.ReadStream(ctx, "s", graveyard.PageSize(2)) {
		break
	}
	sub, err := c.SubscribeToAll(ctx, graveyard.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range sub.Events(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if _, err := c.CreateGroup(ctx, "g", graveyard.StreamTarget("s"), graveyard.FromStart, graveyard.GroupSettings{}); err != nil {
		t.Fatal(err)
	}
	m, err := c.JoinGroup(ctx, "g", "m")
	if err != nil {
		t.Fatal(err)
	}
	d := nextDelivery(t, m)
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	quiet, err := c.SubscribeToStream(ctx, "quiet", graveyard.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantCaughtUp(t, next(t, quiet))
	cctx, cancelNext := context.WithCancel(ctx)
	blocked := inBackground(t, func() error { _, err := quiet.Next(cctx); return err })
	time.Sleep(10 * time.Millisecond)
	cancelNext()
	if err := blocked(); err != context.Canceled {
		t.Fatal(err)
	}
	cancel()
	c.Close()
	sub.Close()
	quiet.Close()
	m.Close()
	if after := settleGoroutines(before); after > before {
		var dump strings.Builder
		pprof.Lookup("goroutine").WriteTo(&dump, 1)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, after, dump.String())
	}
}
