package graveyard_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	graveyard "github.com/graveyard-db/graveyard/sdk-go"
)

// The same Client over real nodes (graveyard serve, from the workspace build), reached with
// Connect: one node, then a 3-node cluster with one node killed.

func TestConnectErrors(t *testing.T) {
	ctx := testCtx(t)
	_, err := graveyard.Connect(ctx, nil)
	wantCode(t, err, graveyard.CodeInvalidArgument)
	// Nothing listens there: UNAVAILABLE, within the connect timeout.
	dead := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	_, err = graveyard.Connect(ctx, []string{dead}, graveyard.WithConnectTimeout(2*time.Second), graveyard.WithRetries(0, time.Millisecond))
	wantCode(t, err, graveyard.CodeUnavailable)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := graveyard.Connect(cancelled, []string{dead}); err != context.Canceled {
		t.Fatalf("Connect with a cancelled context: %v", err)
	}
}

func TestOneNode(t *testing.T) {
	nodes := startNodes(t, "solo")
	c := connect(t, nodes)
	ctx := testCtx(t)
	if c.IsEmbedded() {
		t.Fatal("a connected Client is not embedded")
	}

	// Append and read.
	r := mustAppend(t, c, "order-1", graveyard.NoStream, numbered("Placed", 5)...)
	if r.FirstRevision != 0 || r.LastRevision != 4 || r.LastPosition-r.FirstPosition != 4 {
		t.Fatalf("%+v", r)
	}
	mustAppend(t, c, "order-2", graveyard.NoStream, ev("Placed", `{}`))
	if got := revisions(collect(t, c.ReadStream(ctx, "order-1", graveyard.PageSize(2)))); !equal(got, seq(0, 5)) {
		t.Fatalf("ReadStream %v", got)
	}
	if got := revisions(collect(t, c.ReadStream(ctx, "order-1", graveyard.Backwards(), graveyard.Limit(3), graveyard.PageSize(2)))); !equal(got, []uint64{4, 3, 2}) {
		t.Fatalf("ReadStream backwards %v", got)
	}
	page, err := c.ReadStreamPage(ctx, "order-1", graveyard.From(3))
	if err != nil || !equal(pageRevisions(page), []uint64{3, 4}) || page[0].Type != "Placed" || string(page[0].Data) != `{"n":3}` {
		t.Fatalf("ReadStreamPage %+v %v", page, err)
	}
	_, err = c.ReadStreamPage(ctx, "missing")
	wantCode(t, err, graveyard.CodeNotFound)
	if got := collect(t, c.ReadStream(ctx, "missing")); len(got) != 0 {
		t.Fatalf("a missing stream yields %d events", len(got))
	}
	if all := collect(t, c.ReadAll(ctx, graveyard.PageSize(4))); len(all) != 6 {
		t.Fatalf("$all has %d events", len(all))
	}
	if head, err := c.HeadPosition(ctx); err != nil || head != 6 {
		t.Fatalf("head %d %v", head, err)
	}
	_, err = c.Append(ctx, "order-1", graveyard.Exact(1), ev("X", `{}`))
	var wev *graveyard.WrongExpectedVersionError
	if !errors.As(err, &wev) || wev.Stream != "order-1" || wev.Expected != graveyard.Exact(1) ||
		wev.Actual != (graveyard.CurrentRevision{Revision: 4, Exists: true}) {
		t.Fatalf("wrong expected version over the wire: %v (%+v)", err, wev)
	}
	if err := c.TombstoneStream(ctx, "order-2", graveyard.Any); err != nil {
		t.Fatal(err)
	}
	_, err = c.ReadStreamPage(ctx, "order-2")
	var sd *graveyard.StreamDeletedError
	if !errors.As(err, &sd) || sd.Stream != "order-2" {
		t.Fatalf("a tombstoned stream over the wire: %v", err)
	}
	if _, err := c.UpsertSchemaJSON(ctx, []byte(orderSchema)); err != nil {
		t.Fatal(err)
	}
	_, err = c.Append(ctx, "orders", graveyard.Any, ev("Order", `{"qty":0}`))
	var sv *graveyard.SchemaViolationError
	if !errors.As(err, &sv) || sv.Violations[0].Path != "qty" || sv.Violations[0].Rule != "min" {
		t.Fatalf("a schema violation over the wire: %v", err)
	}

	// What a cluster cannot say, and a node that is not a member.
	_, err = c.IsEncrypted(ctx)
	wantCode(t, err, graveyard.CodeUnsupported)
	if !errors.Is(err, graveyard.ErrUnsupported) {
		t.Fatal("errors.Is(ErrUnsupported)")
	}
	if _, err := c.OnNode("no-such-node"); err == nil {
		t.Fatal("OnNode of an unknown id succeeded")
	} else {
		var e *graveyard.Error
		if !errors.As(err, &e) {
			t.Fatalf("OnNode: %v (%T)", err, err)
		}
	}
	solo, err := c.OnNode("solo")
	if err != nil {
		t.Fatal(err)
	}
	// 6 events and the schema's first version (an event of $schema-Order).
	if head, err := solo.HeadPosition(ctx); err != nil || head != 7 {
		t.Fatalf("head through OnNode %d %v", head, err)
	}
	solo.Close() // frees its handle only
	if _, err := solo.HeadPosition(ctx); !errors.Is(err, graveyard.ErrClosed) {
		t.Fatalf("a closed OnNode client: %v", err)
	}
	if _, err := c.HeadPosition(ctx); err != nil {
		t.Fatalf("closing an OnNode client closed the connection: %v", err)
	}

	// A subscription: history, the marker, live events, a deadline, Close.
	sub, err := c.SubscribeToStream(ctx, "order-1", graveyard.SubscribeOptions{Start: graveyard.After(2)})
	if err != nil {
		t.Fatal(err)
	}
	wantEvent(t, next(t, sub), "order-1", 3)
	wantEvent(t, next(t, sub), "order-1", 4)
	wantCaughtUp(t, next(t, sub))
	appended := inBackground(t, func() error {
		time.Sleep(10 * time.Millisecond)
		_, err := c.Append(ctx, "order-1", graveyard.Exact(4), ev("Placed", `{"n":5}`))
		return err
	})
	wantEvent(t, next(t, sub), "order-1", 5)
	if err := appended(); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = sub.Next(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next past its deadline: %v", err)
	}
	mustAppend(t, c, "order-1", graveyard.Any, ev("Placed", `{"n":6}`))
	wantEvent(t, next(t, sub), "order-1", 6)
	blocked := inBackground(t, func() error { _, err := sub.Next(context.Background()); return err })
	time.Sleep(20 * time.Millisecond)
	sub.Close()
	if err := blocked(); !errors.Is(err, graveyard.ErrSessionClosed) {
		t.Fatalf("a Next woken by Close: %v", err)
	}

	// A filtered subscription to $all.
	all, err := c.SubscribeToAll(ctx, graveyard.SubscribeOptions{Filter: graveyard.Filter{EventTypes: []string{"Placed"}}, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	n := 0
	for m := next(t, all); !m.CaughtUp; m = next(t, all) {
		if m.Event.Type != "Placed" {
			t.Fatalf("filtered in %+v", m.Event)
		}
		n++
	}
	if n != 8 {
		t.Fatalf("%d Placed events in $all", n)
	}

	// A group: deliveries, retry, cancel of a waiting Next, settling.
	if _, err := c.CreateGroup(ctx, "g", graveyard.StreamTarget("order-1"), graveyard.FromStart, graveyard.GroupSettings{MaxInFlight: 4}); err != nil {
		t.Fatal(err)
	}
	if names, err := c.Groups(ctx); err != nil || !equal(names, []string{"g"}) {
		t.Fatalf("Groups %v %v", names, err)
	}
	m, err := c.JoinGroup(ctx, "g", "m1")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var ids []uint64
	for d, err := range m.Deliveries(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if d.Event.Revision != uint64(len(ids)) || d.Attempt != 1 {
			t.Fatalf("delivery of %d (attempt %d), want %d", d.Event.Revision, d.Attempt, len(ids))
		}
		ids = append(ids, d.ID)
		if len(ids) == 2 {
			break
		}
	}
	if err := m.Ack(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := m.Nack(ctx, graveyard.Retry, ids[1]); err != nil {
		t.Fatal(err)
	}
	// The retry comes again with the same id, after what the node had sent already.
	seen := map[uint64]uint32{}
	for len(seen) < 6 {
		d := nextDelivery(t, m)
		if _, twice := seen[d.Event.Revision]; twice {
			t.Fatalf("revision %d delivered twice", d.Event.Revision)
		}
		seen[d.Event.Revision] = d.Attempt
		if d.Event.Revision == 1 && d.ID != ids[1] {
			t.Fatalf("the retry has id %d, want %d", d.ID, ids[1])
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if seen[1] != 2 || seen[2] != 1 || seen[6] != 1 {
		t.Fatalf("attempts by revision %v", seen)
	}
	cctx, cancelNext := context.WithCancel(context.Background())
	waiting := inBackground(t, func() error { _, err := m.Next(cctx); return err })
	time.Sleep(20 * time.Millisecond)
	cancelNext()
	if err := waiting(); err != context.Canceled {
		t.Fatalf("a cancelled member Next: %v", err)
	}
	mustAppend(t, c, "order-1", graveyard.Any, ev("Placed", `{"n":7}`))
	if d := nextDelivery(t, m); d.Event.Revision != 7 {
		t.Fatalf("after the cancel: %d", d.Event.Revision)
	} else if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if info, err := c.GroupInfo(ctx, "g"); err != nil || info.Checkpoint != 8 || !equal(info.Members, []string{"m1"}) {
		t.Fatalf("GroupInfo %+v %v", info, err)
	}
	if err := c.DeleteGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	_, err = m.Next(ctx)
	wantCode(t, err, graveyard.CodeNotFound)

	on, err := c.OnNode("solo")
	if err != nil {
		t.Fatal(err)
	}
	defer on.Close()
	onSub, err := on.SubscribeToAll(ctx, graveyard.SubscribeOptions{Start: graveyard.FromEnd})
	if err != nil {
		t.Fatal(err)
	}
	defer onSub.Close()
	wantCaughtUp(t, next(t, onSub))
	c.Close()
	_, err = c.Append(ctx, "order-1", graveyard.Any, ev("E", `{}`))
	wantCode(t, err, graveyard.CodeClosed)
	// Closing the Client closes the connection its OnNode clients share, and their sessions.
	_, err = on.HeadPosition(ctx)
	wantCode(t, err, graveyard.CodeClosed)
	_, err = onSub.Next(ctx)
	wantCode(t, err, graveyard.CodeClosed)
	_, err = c.ReadStreamPage(ctx, "order-1")
	wantCode(t, err, graveyard.CodeClosed)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// ownersOf reads every member's $all (OnNode) and tells which node stores each stream.
func ownersOf(t *testing.T, c *graveyard.Client, ids []string) map[string]string {
	t.Helper()
	ctx := testCtx(t)
	owners := map[string]string{}
	for _, id := range ids {
		on, err := c.OnNode(id)
		if err != nil {
			t.Fatal(err)
		}
		for e, err := range on.ReadAll(ctx, graveyard.PageSize(16)) {
			if err != nil {
				t.Fatalf("$all of %s: %v", id, err)
			}
			if other, ok := owners[e.Stream]; ok && other != id {
				t.Fatalf("stream %s is stored on %s and %s", e.Stream, other, id)
			}
			owners[e.Stream] = id
		}
		on.Close()
	}
	return owners
}

func TestThreeNodeCluster(t *testing.T) {
	ids := []string{"n1", "n2", "n3"}
	nodes := startNodes(t, ids...)
	c := connect(t, nodes)
	ctx := testCtx(t)

	const streams = 30
	for i := 0; i < streams; i++ {
		stream := fmt.Sprintf("account-%d", i)
		mustAppend(t, c, stream, graveyard.NoStream, ev("Opened", fmt.Sprintf(`{"i":%d}`, i)))
		mustAppend(t, c, stream, graveyard.Exact(0), ev("Credited", `{"amount":5}`))
		_, err := c.Append(ctx, stream, graveyard.Exact(0), ev("Credited", `{}`))
		var wev *graveyard.WrongExpectedVersionError
		if !errors.As(err, &wev) || wev.Actual.Revision != 1 {
			t.Fatalf("%s: the owner checks the expected version: %v", stream, err)
		}
	}
	for i := 0; i < streams; i++ {
		stream := fmt.Sprintf("account-%d", i)
		page, err := c.ReadStreamPage(ctx, stream)
		if err != nil || !equal(pageRevisions(page), []uint64{0, 1}) || page[0].Type != "Opened" ||
			string(page[0].Data) != fmt.Sprintf(`{"i":%d}`, i) {
			t.Fatalf("%s: %+v %v", stream, page, err)
		}
	}

	// Every stream lives on exactly one node, and every node has some.
	owners := ownersOf(t, c, ids)
	perNode := map[string][]string{}
	for stream, owner := range owners {
		perNode[owner] = append(perNode[owner], stream)
	}
	for _, id := range ids {
		if len(perNode[id]) == 0 {
			t.Fatalf("node %s owns none of %d streams: %v", id, streams, perNode)
		}
		sort.Strings(perNode[id])
	}
	if len(owners) != streams {
		t.Fatalf("%d streams found in the nodes' logs", len(owners))
	}
	onN2, err := c.OnNode("n2")
	if err != nil {
		t.Fatal(err)
	}
	defer onN2.Close()
	if head, err := onN2.HeadPosition(ctx); err != nil || head != uint64(2*len(perNode["n2"])) {
		t.Fatalf("n2's head %d (it holds %d streams): %v", head, len(perNode["n2"]), err)
	}

	onN1, onN2Stream, onN3 := perNode["n1"][0], perNode["n2"][0], perNode["n3"][0]
	// A group on a stream of n3, a subscription to a stream of n2 and one of n3.
	if _, err := c.CreateGroup(ctx, "billing", graveyard.StreamTarget(onN3), graveyard.FromStart, graveyard.GroupSettings{}); err != nil {
		t.Fatal(err)
	}
	member, err := c.JoinGroup(ctx, "billing", "w1")
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	for rev := uint64(0); rev < 2; rev++ {
		d := nextDelivery(t, member)
		if d.Event.Stream != onN3 || d.Event.Revision != rev {
			t.Fatalf("delivery %+v", d.Event)
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	subN2, err := c.SubscribeToStream(ctx, onN2Stream, graveyard.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer subN2.Close()
	subN3, err := c.SubscribeToStream(ctx, onN3, graveyard.SubscribeOptions{Start: graveyard.After(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer subN3.Close()
	wantEvent(t, next(t, subN2), onN2Stream, 0)
	wantEvent(t, next(t, subN2), onN2Stream, 1)
	wantCaughtUp(t, next(t, subN2))
	wantCaughtUp(t, next(t, subN3))

	// n2 dies (the Client's home is n1, the first to answer).
	var n2 *node
	for _, n := range nodes {
		if n.id == "n2" {
			n2 = n
		}
	}
	n2.kill()

	// Calls about n2's streams fail with UNAVAILABLE, bounded, never a hang.
	bounded := func(what string, f func(ctx context.Context) error) *graveyard.Error {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		err := f(cctx)
		var e *graveyard.Error
		if !errors.As(err, &e) {
			t.Fatalf("%s with n2 down: %v (%T), want a *graveyard.Error", what, err, err)
		}
		return e
	}
	for what, f := range map[string]func(ctx context.Context) error{
		"Append": func(ctx context.Context) error {
			_, err := c.Append(ctx, onN2Stream, graveyard.Exact(1), ev("Credited", `{}`))
			return err
		},
		"ReadStreamPage": func(ctx context.Context) error { _, err := c.ReadStreamPage(ctx, onN2Stream); return err },
		"ReadStream":     func(ctx context.Context) error { return firstErr(c.ReadStream(ctx, onN2Stream)) },
		"StreamInfo":     func(ctx context.Context) error { _, err := c.StreamInfo(ctx, onN2Stream); return err },
		"SubscribeToStream": func(ctx context.Context) error {
			_, err := c.SubscribeToStream(ctx, onN2Stream, graveyard.SubscribeOptions{})
			return err
		},
		"HeadPosition on n2": func(ctx context.Context) error { _, err := onN2.HeadPosition(ctx); return err },
		"ReadAll on n2":      func(ctx context.Context) error { return firstErr(onN2.ReadAll(ctx)) },
	} {
		if e := bounded(what, f); e.Code != graveyard.CodeUnavailable {
			t.Errorf("%s with n2 down: %v, want UNAVAILABLE", what, e)
		}
	}
	if e := bounded("Append", func(ctx context.Context) error {
		_, err := c.Append(ctx, onN2Stream, graveyard.Any, ev("E", `{}`))
		return err
	}); !strings.Contains(e.Message, "n2") {
		t.Errorf("the error does not name the owner: %v", e)
	}
	// The subscription to n2's stream reports its end once, then is over.
	e := bounded("a subscription to n2's stream", func(ctx context.Context) error {
		for {
			if _, err := subN2.Next(ctx); err != nil {
				return err
			}
		}
	})
	if e.Code != graveyard.CodeUnavailable {
		t.Errorf("the subscription ended with %v, want UNAVAILABLE", e)
	}
	if _, err := subN2.Next(ctx); !errors.Is(err, graveyard.ErrSessionClosed) {
		t.Errorf("after its error: %v", err)
	}

	// The other nodes' streams, the group on n3 and the home node's $all still work.
	mustAppend(t, c, onN1, graveyard.Exact(1), ev("Credited", `{}`))
	mustAppend(t, c, onN3, graveyard.Exact(1), ev("Credited", `{}`))
	if page, err := c.ReadStreamPage(ctx, onN1); err != nil || len(page) != 3 {
		t.Fatalf("%s: %d events, %v", onN1, len(page), err)
	}
	wantEvent(t, next(t, subN3), onN3, 2)
	if d := nextDelivery(t, member); d.Event.Revision != 2 {
		t.Fatalf("group delivery %+v", d.Event)
	} else if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if info, err := c.GroupInfo(ctx, "billing"); err != nil || info.Checkpoint != 3 {
		t.Fatalf("GroupInfo %+v %v", info, err)
	}
	if _, err := c.ReadAllPage(ctx, graveyard.Limit(1)); err != nil {
		t.Fatalf("$all of the home node: %v", err)
	}
}

func TestNodeWithTokenAndEncryption(t *testing.T) {
	const token = "s3cret-token"
	nodes := startNodesWith(t, nodeOptions{token: token, masterKey: bytes.Repeat([]byte{7}, 32)}, "vault")
	ctx := testCtx(t)
	for _, opts := range [][]graveyard.ConnectOption{nil, {graveyard.WithToken("wrong")}} {
		opts = append(opts, graveyard.WithRetries(0, time.Millisecond))
		_, err := graveyard.Connect(ctx, urls(nodes), opts...)
		wantCode(t, err, graveyard.CodeUnauthenticated)
	}
	c := connect(t, nodes, graveyard.WithToken(token), graveyard.WithRequestTimeout(20*time.Second))

	mustAppend(t, c, "card-1", graveyard.NoStream, graveyard.EventData{Type: "Card", ContentType: "application/json",
		Data: []byte(`{"pan":"4111"}`), Metadata: []byte("m")})
	mustAppend(t, c, "card-2", graveyard.NoStream, ev("Card", `{"pan":"5500"}`))
	if page, err := c.ReadStreamPage(ctx, "card-1"); err != nil || string(page[0].Data) != `{"pan":"4111"}` || page[0].Shredded {
		t.Fatalf("%+v %v", page, err)
	}
	if err := c.ShredStream(ctx, "card-1"); err != nil {
		t.Fatal(err)
	}
	page, err := c.ReadStreamPage(ctx, "card-1")
	if err != nil || len(page) != 1 || !page[0].Shredded || page[0].Data != nil || page[0].Metadata != nil {
		t.Fatalf("shredded over the wire: %+v %v", page, err)
	}
	var v map[string]any
	if err := page[0].Decode(&v); !errors.Is(err, graveyard.ErrShredded) {
		t.Fatalf("Decode: %v", err)
	}
	if info, err := c.StreamInfo(ctx, "card-1"); err != nil || !info.Shredded {
		t.Fatalf("%+v %v", info, err)
	}
	_, err = c.Append(ctx, "card-1", graveyard.Any, ev("Card", `{}`))
	wantCode(t, err, graveyard.CodeStreamDeleted)
	if page, err := c.ReadStreamPage(ctx, "card-2"); err != nil || string(page[0].Data) != `{"pan":"5500"}` {
		t.Fatalf("another stream: %+v %v", page, err)
	}
	// Whether a node encrypts is not something a cluster client can ask.
	_, err = c.IsEncrypted(ctx)
	wantCode(t, err, graveyard.CodeUnsupported)
}
