package graveyard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	graveyard "github.com/graveyard-db/graveyard/sdk-go"
)

func TestVersion(t *testing.T) {
	if v := graveyard.Version(); v == "" || strings.ContainsAny(v, "\x00\n") {
		t.Fatalf("Version() = %q", v)
	}
}

func TestAppendBatchAndReadBack(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	if !c.IsEmbedded() {
		t.Fatal("an opened store is embedded")
	}
	r, err := c.Append(ctx, "order-1", graveyard.NoStream,
		graveyard.EventData{Type: "Placed", ContentType: "application/json", Data: []byte(`{"qty":2}`), Metadata: []byte("m1")},
		graveyard.EventData{Type: "Raw", ContentType: "application/octet-stream", Data: []byte{0, 1, 0xff}},
		ev("Paid", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if r != (graveyard.AppendResult{FirstRevision: 0, LastRevision: 2, FirstPosition: 0, LastPosition: 2}) {
		t.Fatalf("first append: %+v", r)
	}
	r = mustAppend(t, c, "order-2", graveyard.Any, ev("Placed", `{}`))
	if r != (graveyard.AppendResult{FirstRevision: 0, LastRevision: 0, FirstPosition: 3, LastPosition: 3}) {
		t.Fatalf("second stream: %+v", r)
	}
	r = mustAppend(t, c, "order-1", graveyard.Exact(2), ev("Shipped", `{"by":"x"}`))
	if r != (graveyard.AppendResult{FirstRevision: 3, LastRevision: 3, FirstPosition: 4, LastPosition: 4}) {
		t.Fatalf("third append: %+v", r)
	}
	mustAppend(t, c, "order-1", graveyard.StreamExists, ev("Closed", `{}`))

	page, err := c.ReadStreamPage(ctx, "order-1")
	if err != nil {
		t.Fatal(err)
	}
	if got := pageRevisions(page); !equal(got, []uint64{0, 1, 2, 3, 4}) {
		t.Fatalf("revisions %v", got)
	}
	e := page[0]
	if e.Stream != "order-1" || e.Type != "Placed" || e.ContentType != "application/json" ||
		string(e.Data) != `{"qty":2}` || string(e.Metadata) != "m1" || e.Position != 0 || e.ID.IsZero() ||
		e.Shredded || e.SchemaVersion != 0 {
		t.Fatalf("first event: %+v", e)
	}
	if d := time.Since(e.Timestamp); d < 0 || d > time.Hour {
		t.Fatalf("timestamp %v is not the commit time", e.Timestamp)
	}
	if !bytes.Equal(page[1].Data, []byte{0, 1, 0xff}) || page[1].Metadata != nil || page[1].ContentType != "application/octet-stream" {
		t.Fatalf("binary event: %+v", page[1])
	}
	for i := 1; i < len(page); i++ {
		if page[i].ID == page[i-1].ID {
			t.Fatal("generated ids repeat")
		}
		if page[i].Timestamp.Before(page[i-1].Timestamp) {
			t.Fatal("timestamps decrease")
		}
	}
	parsed, err := graveyard.ParseUUID(e.ID.String())
	if err != nil || parsed != e.ID {
		t.Fatalf("ParseUUID(%s) = %v, %v", e.ID, parsed, err)
	}
	var v struct{ Qty int }
	if err := e.Decode(&v); err != nil || v.Qty != 2 {
		t.Fatalf("Decode: %+v, %v", v, err)
	}
	if err := page[1].Decode(&v); err == nil {
		t.Fatal("Decode of an octet-stream event succeeded")
	}

	// An append of no events and one of a bad stream name are the store's INVALID_ARGUMENT.
	_, err = c.Append(ctx, "order-1", graveyard.Any)
	wantCode(t, err, graveyard.CodeInvalidArgument)
	_, err = c.Append(ctx, "$system", graveyard.Any, ev("E", `{}`))
	wantCode(t, err, graveyard.CodeInvalidArgument)
	_, err = c.Append(ctx, "s", graveyard.Any, ev("E", `{"a":1,"a":2}`))
	wantCode(t, err, graveyard.CodeInvalidArgument)
}

func TestAppendIdempotentRetryWithIDs(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	mustAppend(t, c, "before", graveyard.Any, ev("E", `{}`))
	id1, _ := graveyard.ParseUUID("0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7d")
	id2, _ := graveyard.ParseUUID("0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7e")
	batch := []graveyard.EventData{ev("A", `{}`), ev("B", `{}`)}
	batch[0].ID, batch[1].ID = id1, id2
	first, err := c.Append(ctx, "idem", graveyard.NoStream, batch...)
	if err != nil {
		t.Fatal(err)
	}
	// The same append again (a retry after a lost answer) returns the original result and
	// writes nothing, although NoStream no longer holds.
	again, err := c.Append(ctx, "idem", graveyard.NoStream, batch...)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if again != first || first.FirstRevision != 0 || first.LastRevision != 1 || first.FirstPosition != 1 {
		t.Fatalf("retry %+v, first %+v", again, first)
	}
	page, err := c.ReadStreamPage(ctx, "idem")
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].ID != id1 || page[1].ID != id2 {
		t.Fatalf("stored %+v", page)
	}
	if head, err := c.HeadPosition(ctx); err != nil || head != 3 {
		t.Fatalf("head %d, %v: the retry wrote something", head, err)
	}
	// An id stored elsewhere is INVALID_ARGUMENT.
	_, err = c.Append(ctx, "other", graveyard.Any, batch[0])
	wantCode(t, err, graveyard.CodeInvalidArgument)
}

// OrderPlaced is an entity with its name in a tag.
type OrderPlaced struct {
	_   struct{} `graveyard:"entity=order-placed"`
	SKU string   `json:"sku"`
	Qty int      `json:"qty"`
}

type Shipped struct {
	Carrier string `json:"carrier"`
}

func TestNewEventAndAppendValues(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	e, err := graveyard.NewEvent(OrderPlaced{SKU: "A-1", Qty: 3})
	if err != nil {
		t.Fatal(err)
	}
	if e.Type != "order-placed" || e.ContentType != "application/json" || string(e.Data) != `{"sku":"A-1","qty":3}` || !e.ID.IsZero() {
		t.Fatalf("NewEvent: %+v (%s)", e, e.Data)
	}
	r, err := c.AppendValues(ctx, "order-7", graveyard.NoStream, OrderPlaced{SKU: "B", Qty: 1}, &Shipped{Carrier: "post"})
	if err != nil {
		t.Fatal(err)
	}
	if r.LastRevision != 1 {
		t.Fatalf("%+v", r)
	}
	page, err := c.ReadStreamPage(ctx, "order-7")
	if err != nil {
		t.Fatal(err)
	}
	if page[0].Type != "order-placed" || page[1].Type != "Shipped" {
		t.Fatalf("types %q %q", page[0].Type, page[1].Type)
	}
	var placed OrderPlaced
	var shipped Shipped
	if err := page[0].Decode(&placed); err != nil || placed.SKU != "B" || placed.Qty != 1 {
		t.Fatalf("%+v %v", placed, err)
	}
	if err := page[1].Decode(&shipped); err != nil || shipped.Carrier != "post" {
		t.Fatalf("%+v %v", shipped, err)
	}
	// A value that is no struct has no entity name: nothing is appended.
	if _, err := c.AppendValues(ctx, "order-7", graveyard.Any, 42); err == nil {
		t.Fatal("AppendValues(42) succeeded")
	}
	if _, err := graveyard.NewEvent(map[string]int{}); err == nil {
		t.Fatal("NewEvent(map) succeeded")
	}
}

func TestReadStreamIterator(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	mustAppend(t, c, "s", graveyard.NoStream, numbered("E", 24)...)
	mustAppend(t, c, "s-other", graveyard.NoStream, numbered("E", 3)...)
	mustAppend(t, c, "s", graveyard.Any, ev("E", `{"n":24}`))

	cases := []struct {
		name string
		opts []graveyard.ReadOption
		want []uint64
	}{
		{"all", nil, seq(0, 25)},
		{"pages of 4", []graveyard.ReadOption{graveyard.PageSize(4)}, seq(0, 25)},
		{"pages of 5, an exact multiple", []graveyard.ReadOption{graveyard.PageSize(5)}, seq(0, 25)},
		{"pages of 1", []graveyard.ReadOption{graveyard.PageSize(1)}, seq(0, 25)},
		{"from", []graveyard.ReadOption{graveyard.From(10), graveyard.PageSize(4)}, seq(10, 25)},
		{"from past the end", []graveyard.ReadOption{graveyard.From(100)}, nil},
		{"limit across pages", []graveyard.ReadOption{graveyard.Limit(7), graveyard.PageSize(3)}, seq(0, 7)},
		{"limit of a page", []graveyard.ReadOption{graveyard.Limit(6), graveyard.PageSize(3)}, seq(0, 6)},
		{"limit beyond the end", []graveyard.ReadOption{graveyard.Limit(100), graveyard.PageSize(7)}, seq(0, 25)},
		{"from and limit", []graveyard.ReadOption{graveyard.From(20), graveyard.Limit(3), graveyard.PageSize(2)}, seq(20, 23)},
		{"limit 0", []graveyard.ReadOption{graveyard.Limit(0)}, nil},
		{"backwards", []graveyard.ReadOption{graveyard.Backwards(), graveyard.PageSize(4)}, reverse(seq(0, 25))},
		{"backwards, pages of 5", []graveyard.ReadOption{graveyard.Backwards(), graveyard.PageSize(5)}, reverse(seq(0, 25))},
		{"backwards from", []graveyard.ReadOption{graveyard.Backwards(), graveyard.From(9), graveyard.PageSize(4)}, reverse(seq(0, 10))},
		{"backwards limit", []graveyard.ReadOption{graveyard.Backwards(), graveyard.Limit(5), graveyard.PageSize(2)}, reverse(seq(20, 25))},
		{"backwards from past the end", []graveyard.ReadOption{graveyard.Backwards(), graveyard.From(1000), graveyard.Limit(2)}, []uint64{24, 23}},
		{"backwards from 0", []graveyard.ReadOption{graveyard.Backwards(), graveyard.From(0), graveyard.PageSize(1)}, []uint64{0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := revisions(collect(t, c.ReadStream(ctx, "s", tc.opts...)))
			if !equal(got, tc.want) {
				t.Fatalf("revisions %v, want %v", got, tc.want)
			}
			for _, e := range collect(t, c.ReadStream(ctx, "s", tc.opts...)) {
				if e.Stream != "s" {
					t.Fatalf("an event of %q", e.Stream)
				}
			}
		})
	}

	t.Run("break early", func(t *testing.T) {
		var got []uint64
		for e, err := range c.ReadStream(ctx, "s", graveyard.PageSize(3)) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, e.Revision)
			if len(got) == 5 {
				break
			}
		}
		if !equal(got, seq(0, 5)) {
			t.Fatalf("%v", got)
		}
	})

	t.Run("events stay valid after the loop", func(t *testing.T) {
		events := collect(t, c.ReadStream(ctx, "s", graveyard.PageSize(2)))
		var v struct{ N uint64 }
		for _, e := range events {
			if err := e.Decode(&v); err != nil || v.N != e.Revision {
				t.Fatalf("event %d: %+v %v", e.Revision, v, err)
			}
		}
	})

	t.Run("a filter is refused", func(t *testing.T) {
		var errs []error
		for e, err := range c.ReadStream(ctx, "s", graveyard.Filtered(graveyard.Filter{EventTypes: []string{"E"}})) {
			if e != nil {
				t.Fatal("an event with a filter")
			}
			errs = append(errs, err)
		}
		if len(errs) != 1 {
			t.Fatalf("%d items", len(errs))
		}
		wantCode(t, errs[0], graveyard.CodeInvalidArgument)
		_, err := c.ReadStreamPage(ctx, "s", graveyard.Filtered(graveyard.Filter{StreamPrefixes: []string{"s"}}))
		wantCode(t, err, graveyard.CodeInvalidArgument)
	})
}

func reverse(s []uint64) []uint64 {
	out := make([]uint64, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func TestReadStreamPage(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	mustAppend(t, c, "p", graveyard.NoStream, numbered("E", 10)...)
	check := func(want []uint64, opts ...graveyard.ReadOption) {
		t.Helper()
		page, err := c.ReadStreamPage(ctx, "p", opts...)
		if err != nil {
			t.Fatal(err)
		}
		if got := pageRevisions(page); !equal(got, want) {
			t.Fatalf("revisions %v, want %v", got, want)
		}
	}
	check(seq(0, 10))
	// PageSize only shapes iterators: a page read takes everything selected.
	check(seq(0, 10), graveyard.PageSize(2))
	check(seq(4, 10), graveyard.From(4))
	check([]uint64{9, 8, 7}, graveyard.Backwards(), graveyard.Limit(3))
	check([]uint64{5, 4}, graveyard.Backwards(), graveyard.From(5), graveyard.Limit(2))
	check(nil, graveyard.From(10))
	// A stream is not a prefix: "p" never returns "p2"'s events.
	mustAppend(t, c, "p2", graveyard.NoStream, ev("E", `{}`))
	check(seq(0, 10))
}

func TestReadAll(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	for i := 0; i < 6; i++ {
		mustAppend(t, c, fmt.Sprintf("order-%d", i%3), graveyard.Any, ev("OrderPlaced", `{}`), ev("OrderPaid", `{}`))
		mustAppend(t, c, fmt.Sprintf("user-%d", i%2), graveyard.Any, ev("UserSeen", `{}`))
	}
	// 18 events, positions 0..17.
	positions := func(events []*graveyard.RecordedEvent) []uint64 {
		out := make([]uint64, len(events))
		for i, e := range events {
			out[i] = e.Position
		}
		return out
	}
	if got := positions(collect(t, c.ReadAll(ctx, graveyard.PageSize(4)))); !equal(got, seq(0, 18)) {
		t.Fatalf("forwards %v", got)
	}
	if got := positions(collect(t, c.ReadAll(ctx, graveyard.Backwards(), graveyard.PageSize(5)))); !equal(got, reverse(seq(0, 18))) {
		t.Fatalf("backwards %v", got)
	}
	if got := positions(collect(t, c.ReadAll(ctx, graveyard.From(7), graveyard.Limit(6), graveyard.PageSize(4)))); !equal(got, seq(7, 13)) {
		t.Fatalf("from 7, limit 6: %v", got)
	}
	if got := positions(collect(t, c.ReadAll(ctx, graveyard.Backwards(), graveyard.From(3), graveyard.PageSize(2)))); !equal(got, []uint64{3, 2, 1, 0}) {
		t.Fatalf("backwards from 3: %v", got)
	}

	// Filters: prefixes (any) and types (any), over several pages.
	paid := collect(t, c.ReadAll(ctx, graveyard.Filtered(graveyard.Filter{EventTypes: []string{"OrderPaid"}}), graveyard.PageSize(2)))
	if len(paid) != 6 {
		t.Fatalf("%d OrderPaid events", len(paid))
	}
	for _, e := range paid {
		if e.Type != "OrderPaid" {
			t.Fatalf("filtered in %+v", e)
		}
	}
	users := collect(t, c.ReadAll(ctx, graveyard.Filtered(graveyard.Filter{StreamPrefixes: []string{"user-"}}),
		graveyard.PageSize(4), graveyard.Backwards()))
	if len(users) != 6 || users[0].Position != 17 || !strings.HasPrefix(users[5].Stream, "user-") {
		t.Fatalf("%d user events, first at %d", len(users), users[0].Position)
	}
	both := collect(t, c.ReadAll(ctx, graveyard.Filtered(graveyard.Filter{
		StreamPrefixes: []string{"order-1", "user-1"}, EventTypes: []string{"OrderPlaced", "UserSeen"}})))
	for _, e := range both {
		if !(e.Stream == "order-1" && e.Type == "OrderPlaced" || e.Stream == "user-1" && e.Type == "UserSeen") {
			t.Fatalf("filtered in %s %s", e.Stream, e.Type)
		}
	}
	if len(both) != 5 {
		t.Fatalf("%d events of both filters", len(both))
	}
	limited := collect(t, c.ReadAll(ctx, graveyard.Filtered(graveyard.Filter{EventTypes: []string{"UserSeen"}}),
		graveyard.Limit(4), graveyard.PageSize(3)))
	if len(limited) != 4 {
		t.Fatalf("limit 4 of a filter: %d", len(limited))
	}

	page, err := c.ReadAllPage(ctx, graveyard.Filtered(graveyard.Filter{EventTypes: []string{"OrderPlaced"}}), graveyard.Limit(2))
	if err != nil || len(page) != 2 || page[0].Type != "OrderPlaced" || page[0].Position != 0 || page[1].Position != 3 {
		t.Fatalf("ReadAllPage: %+v, %v", page, err)
	}
	page, err = c.ReadAllPage(ctx, graveyard.From(100))
	if err != nil || len(page) != 0 {
		t.Fatalf("past the end: %d events, %v", len(page), err)
	}

	var n int
	for _, err := range c.ReadAll(ctx, graveyard.PageSize(2)) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
}

func TestMissingAndTombstonedStreams(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	if got := collect(t, c.ReadStream(ctx, "missing")); len(got) != 0 {
		t.Fatalf("a missing stream yields %d events", len(got))
	}
	_, err := c.ReadStreamPage(ctx, "missing")
	wantCode(t, err, graveyard.CodeNotFound)
	_, err = c.StreamInfo(ctx, "missing")
	wantCode(t, err, graveyard.CodeNotFound)
	_, err = c.StreamMetadata(ctx, "missing")
	wantCode(t, err, graveyard.CodeNotFound)
	err = c.DeleteStream(ctx, "missing", graveyard.Any)
	wantCode(t, err, graveyard.CodeNotFound)

	mustAppend(t, c, "doomed", graveyard.NoStream, numbered("E", 3)...)
	if err := c.TombstoneStream(ctx, "doomed", graveyard.Exact(2)); err != nil {
		t.Fatal(err)
	}
	checkDeleted := func(err error) {
		t.Helper()
		e := wantCode(t, err, graveyard.CodeStreamDeleted)
		var sd *graveyard.StreamDeletedError
		if !errors.As(err, &sd) || sd.Stream != "doomed" {
			t.Fatalf("details %v (%s)", sd, e.Details)
		}
	}
	_, err = c.ReadStreamPage(ctx, "doomed")
	checkDeleted(err)
	var iterErr error
	var n int
	for e, err := range c.ReadStream(ctx, "doomed") {
		n++
		if e != nil {
			t.Fatal("an event of a tombstoned stream")
		}
		iterErr = err
	}
	if n != 1 {
		t.Fatalf("%d items", n)
	}
	checkDeleted(iterErr)
	_, err = c.Append(ctx, "doomed", graveyard.Any, ev("E", `{}`))
	checkDeleted(err)
	_, err = c.StreamInfo(ctx, "doomed")
	checkDeleted(err)
	checkDeleted(c.TombstoneStream(ctx, "doomed", graveyard.Any))
	_, err = c.Snapshot(ctx, "doomed")
	checkDeleted(err)
	// Its events stay in $all.
	if all := collect(t, c.ReadAll(ctx)); len(all) != 3 {
		t.Fatalf("$all has %d events", len(all))
	}
	// A tombstone of a stream that never existed blocks the name.
	if err := c.TombstoneStream(ctx, "never", graveyard.NoStream); err != nil {
		t.Fatal(err)
	}
	_, err = c.Append(ctx, "never", graveyard.Any, ev("E", `{}`))
	wantCode(t, err, graveyard.CodeStreamDeleted)
}

func TestWrongExpectedVersion(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	mustAppend(t, c, "acct", graveyard.NoStream, numbered("E", 3)...)
	cases := []struct {
		stream   string
		expected graveyard.ExpectedVersion
		actual   graveyard.CurrentRevision
	}{
		{"acct", graveyard.Exact(5), graveyard.CurrentRevision{Revision: 2, Exists: true}},
		{"acct", graveyard.Exact(1), graveyard.CurrentRevision{Revision: 2, Exists: true}},
		{"acct", graveyard.NoStream, graveyard.CurrentRevision{Revision: 2, Exists: true}},
		{"fresh", graveyard.StreamExists, graveyard.CurrentRevision{}},
		{"fresh", graveyard.Exact(0), graveyard.CurrentRevision{}},
	}
	for _, tc := range cases {
		_, err := c.Append(ctx, tc.stream, tc.expected, ev("E", `{}`))
		if !errors.Is(err, graveyard.ErrWrongExpectedVersion) {
			t.Fatalf("%s %s: %v", tc.stream, tc.expected, err)
		}
		if errors.Is(err, graveyard.ErrStreamDeleted) || errors.Is(err, graveyard.ErrNotFound) {
			t.Fatal("matches another code")
		}
		var wev *graveyard.WrongExpectedVersionError
		if !errors.As(err, &wev) {
			t.Fatalf("no details: %v", err)
		}
		if wev.Stream != tc.stream || wev.Expected != tc.expected || wev.Actual != tc.actual {
			t.Fatalf("details %+v, want expected %s actual %s", wev, tc.expected, tc.actual)
		}
		if rev, ok := wev.Expected.Revision(); ok != (tc.expected == graveyard.Exact(rev)) {
			t.Fatalf("Revision() of %s", wev.Expected)
		}
		if !strings.Contains(err.Error(), "WRONG_EXPECTED_VERSION") {
			t.Fatalf("message %q", err.Error())
		}
	}
	// Nothing was written.
	if info, err := c.StreamInfo(ctx, "acct"); err != nil || info.Current != (graveyard.CurrentRevision{Revision: 2, Exists: true}) || info.NextRevision != 3 {
		t.Fatalf("%+v %v", info, err)
	}
	// A delete checks the expected version too.
	err := c.DeleteStream(ctx, "acct", graveyard.Exact(0))
	var wev *graveyard.WrongExpectedVersionError
	if !errors.As(err, &wev) || wev.Actual.Revision != 2 {
		t.Fatalf("delete: %v", err)
	}
}

func TestStreamInfoMetadataAndDelete(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	mustAppend(t, c, "m", graveyard.NoStream, numbered("E", 6)...)
	info, err := c.StreamInfo(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	if info.Current != (graveyard.CurrentRevision{Revision: 5, Exists: true}) || info.NextRevision != 6 || info.Deleted ||
		info.Shredded || info.Metadata.MaxCount != nil || info.Metadata.MaxAge != nil || info.Metadata.TruncateBefore != nil {
		t.Fatalf("%+v", info)
	}

	// MaxCount: only the last N are visible.
	if err := c.SetStreamMetadata(ctx, "m", graveyard.StreamMetadata{MaxCount: graveyard.Ref[uint64](2)}); err != nil {
		t.Fatal(err)
	}
	if got := revisions(collect(t, c.ReadStream(ctx, "m", graveyard.PageSize(1)))); !equal(got, []uint64{4, 5}) {
		t.Fatalf("max count 2: %v", got)
	}
	// TruncateBefore: revisions below it are hidden.
	if err := c.SetStreamMetadata(ctx, "m", graveyard.StreamMetadata{TruncateBefore: graveyard.Ref[uint64](3)}); err != nil {
		t.Fatal(err)
	}
	if got := revisions(collect(t, c.ReadStream(ctx, "m"))); !equal(got, []uint64{3, 4, 5}) {
		t.Fatalf("truncate before 3: %v", got)
	}
	md, err := c.StreamMetadata(ctx, "m")
	if err != nil || md.MaxCount != nil || md.TruncateBefore == nil || *md.TruncateBefore != 3 {
		t.Fatalf("metadata %+v %v", md, err)
	}
	// MaxAge: an hour hides nothing; a sub-millisecond one is rounded up to 1 ms, never 0 (none).
	all := graveyard.StreamMetadata{MaxAge: graveyard.Ref(time.Hour), MaxCount: graveyard.Ref[uint64](100)}
	if err := c.SetStreamMetadata(ctx, "m", all); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, c.ReadStream(ctx, "m")); len(got) != 6 {
		t.Fatalf("max age 1h: %d events", len(got))
	}
	info, err = c.StreamInfo(ctx, "m")
	if err != nil || info.Metadata.MaxAge == nil || *info.Metadata.MaxAge != time.Hour || *info.Metadata.MaxCount != 100 ||
		info.Metadata.TruncateBefore != nil {
		t.Fatalf("info metadata %+v %v", info.Metadata, err)
	}
	if err := c.SetStreamMetadata(ctx, "m", graveyard.StreamMetadata{MaxAge: graveyard.Ref(time.Microsecond)}); err != nil {
		t.Fatal(err)
	}
	md, err = c.StreamMetadata(ctx, "m")
	if err != nil || md.MaxAge == nil || *md.MaxAge != time.Millisecond {
		t.Fatalf("max age 1µs reads back as %v, %v", md.MaxAge, err)
	}
	time.Sleep(20 * time.Millisecond) // every event is now older than 1 ms
	if got := collect(t, c.ReadStream(ctx, "m")); len(got) != 0 {
		t.Fatalf("max age 1ms: %d events", len(got))
	}
	if err := c.SetStreamMetadata(ctx, "m", graveyard.StreamMetadata{MaxAge: graveyard.Ref(-time.Second)}); err == nil {
		t.Fatal("a negative max age was accepted")
	}
	if err := c.SetStreamMetadata(ctx, "m", graveyard.StreamMetadata{}); err != nil {
		t.Fatal(err)
	}

	// Metadata before the first event.
	if err := c.SetStreamMetadata(ctx, "later", graveyard.StreamMetadata{MaxCount: graveyard.Ref[uint64](1)}); err != nil {
		t.Fatal(err)
	}
	if info, err := c.StreamInfo(ctx, "later"); err != nil || info.Current.Exists || info.NextRevision != 0 || *info.Metadata.MaxCount != 1 {
		t.Fatalf("%+v %v", info, err)
	}

	// Soft delete: hidden, revisions continue, events stay in $all.
	if err := c.DeleteStream(ctx, "m", graveyard.Exact(5)); err != nil {
		t.Fatal(err)
	}
	_, err = c.ReadStreamPage(ctx, "m")
	wantCode(t, err, graveyard.CodeNotFound)
	if got := collect(t, c.ReadStream(ctx, "m")); len(got) != 0 {
		t.Fatalf("a deleted stream yields %d events", len(got))
	}
	info, err = c.StreamInfo(ctx, "m")
	if err != nil || !info.Deleted || info.Current.Exists || info.NextRevision != 6 {
		t.Fatalf("after delete %+v %v", info, err)
	}
	r := mustAppend(t, c, "m", graveyard.NoStream, ev("E", `{}`))
	if r.FirstRevision != 6 {
		t.Fatalf("after delete the next revision is %d", r.FirstRevision)
	}
	if got := revisions(collect(t, c.ReadStream(ctx, "m"))); !equal(got, []uint64{6}) {
		t.Fatalf("after delete and append: %v", got)
	}
	if all := collect(t, c.ReadAll(ctx, graveyard.Filtered(graveyard.Filter{StreamPrefixes: []string{"m"}}))); len(all) != 7 {
		t.Fatalf("$all keeps %d of the stream's events", len(all))
	}
	// Reading a $ stream is allowed; writing one is not.
	err = c.SetStreamMetadata(ctx, "$system", graveyard.StreamMetadata{})
	wantCode(t, err, graveyard.CodeInvalidArgument)
}

func TestListStreams(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	if page, err := c.ListStreams(ctx, graveyard.ListStreamsOptions{}); err != nil || len(page) != 0 {
		t.Fatalf("an empty store: %v %v", page, err)
	}
	for _, name := range []string{"order-2", "order-1", "user-1", "order-3"} {
		mustAppend(t, c, name, graveyard.NoStream, numbered("E", 2)...)
	}
	if err := c.DeleteStream(ctx, "order-2", graveyard.Any); err != nil {
		t.Fatal(err)
	}
	if err := c.TombstoneStream(ctx, "order-3", graveyard.Any); err != nil {
		t.Fatal(err)
	}
	first, err := c.ListStreams(ctx, graveyard.ListStreamsOptions{Prefix: "order-", Limit: 2})
	if err != nil || len(first) != 2 || first[0].Name != "order-1" || first[1].Name != "order-2" {
		t.Fatalf("first page: %+v %v", first, err)
	}
	rest, err := c.ListStreams(ctx, graveyard.ListStreamsOptions{Prefix: "order-", After: first[1].Name, Limit: 2})
	if err != nil || len(rest) != 1 || rest[0].Name != "order-3" || !rest[0].Tombstoned || rest[0].NextRevision != 2 {
		t.Fatalf("next page: %+v %v", rest, err)
	}
	one := first[0]
	if one.NextRevision != 2 || one.LastPosition == nil || *one.LastPosition != 3 || one.Deleted || one.DeletedBefore != 0 ||
		one.Tombstoned || one.Shredded {
		t.Fatalf("order-1: %+v", one)
	}
	if two := first[1]; !two.Deleted || two.DeletedBefore != 2 || two.Tombstoned {
		t.Fatalf("order-2: %+v", two)
	}
	all, err := c.ListStreams(ctx, graveyard.ListStreamsOptions{})
	if err != nil || len(all) != 4 || all[3].Name != "user-1" {
		t.Fatalf("every stream: %+v %v", all, err)
	}
	for _, limit := range []uint64{10_001, 1<<63 - 1, 1 << 63, 1<<64 - 1} {
		_, err = c.ListStreams(ctx, graveyard.ListStreamsOptions{Limit: limit})
		wantCode(t, err, graveyard.CodeInvalidArgument)
	}
}

func TestSnapshots(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	s, err := c.Snapshot(ctx, "snap")
	if err != nil || s != nil {
		t.Fatalf("no stream: %+v, %v", s, err)
	}
	mustAppend(t, c, "snap", graveyard.NoStream, numbered("E", 4)...)
	if s, err := c.Snapshot(ctx, "snap"); err != nil || s != nil {
		t.Fatalf("no snapshot: %+v, %v", s, err)
	}
	if err := c.SaveSnapshot(ctx, "snap", 2, []byte("state@2")); err != nil {
		t.Fatal(err)
	}
	s, err = c.Snapshot(ctx, "snap")
	if err != nil || s == nil {
		t.Fatalf("%+v %v", s, err)
	}
	if s.Stream != "snap" || s.Revision != 2 || string(s.Data) != "state@2" || time.Since(s.Timestamp) > time.Hour {
		t.Fatalf("%+v", s)
	}
	// Last write wins, even at an older revision.
	if err := c.SaveSnapshot(ctx, "snap", 1, nil); err != nil {
		t.Fatal(err)
	}
	if s, err = c.Snapshot(ctx, "snap"); err != nil || s.Revision != 1 || len(s.Data) != 0 {
		t.Fatalf("%+v %v", s, err)
	}
	wantCode(t, c.SaveSnapshot(ctx, "snap", 9, []byte("x")), graveyard.CodeNotFound)
	// A soft delete removes it.
	if err := c.DeleteStream(ctx, "snap", graveyard.Any); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Snapshot(ctx, "snap"); err != nil || s != nil {
		t.Fatalf("after delete: %+v, %v", s, err)
	}
}

func TestHeadPosition(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	if h, err := c.HeadPosition(ctx); err != nil || h != 0 {
		t.Fatalf("empty store: %d %v", h, err)
	}
	mustAppend(t, c, "a", graveyard.Any, numbered("E", 3)...)
	mustAppend(t, c, "b", graveyard.Any, numbered("E", 2)...)
	if h, err := c.HeadPosition(ctx); err != nil || h != 5 {
		t.Fatalf("head %d %v", h, err)
	}
}

const orderSchema = `{"name":"Order","fields":[
	{"name":"qty","type":"integer","required":true,"min":1},
	{"name":"sku","type":"string","pattern":"[A-Z]+"},
	{"name":"note","type":"string","nullable":true}]}`

func TestSchemas(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	u, err := c.UpsertSchemaJSON(ctx, []byte(orderSchema))
	if err != nil {
		t.Fatal(err)
	}
	if u != (graveyard.SchemaUpsert{Name: "Order", Version: 1, Changed: true}) {
		t.Fatalf("%+v", u)
	}
	if u, err = c.UpsertSchemaJSON(ctx, []byte(orderSchema)); err != nil || u.Changed || u.Version != 1 {
		t.Fatalf("same definition again: %+v %v", u, err)
	}

	r := mustAppend(t, c, "orders", graveyard.Any, ev("Order", `{"qty":2,"sku":"AB"}`))
	page, _ := c.ReadStreamPage(ctx, "orders")
	if page[0].SchemaVersion != 1 {
		t.Fatalf("schema version %d", page[0].SchemaVersion)
	}

	_, err = c.Append(ctx, "orders", graveyard.Any, ev("Order", `{"qty":1,"sku":"OK"}`), ev("Order", `{"qty":0,"sku":"abc"}`))
	wantCode(t, err, graveyard.CodeSchemaViolation)
	var sv *graveyard.SchemaViolationError
	if !errors.As(err, &sv) {
		t.Fatalf("no details: %v", err)
	}
	if sv.Schema != "Order" || sv.Version != 1 || sv.Event != 1 || len(sv.Violations) != 2 {
		t.Fatalf("%+v", sv)
	}
	v0, v1 := sv.Violations[0], sv.Violations[1]
	if v0.Path != "qty" || v0.Rule != "min" || string(v0.Value) != "0" || v0.Message == "" {
		t.Fatalf("first violation %+v", v0)
	}
	if v1.Path != "sku" || v1.Rule != "pattern" || string(v1.Value) != `"abc"` {
		t.Fatalf("second violation %+v", v1)
	}
	_, err = c.Append(ctx, "orders", graveyard.Any, ev("Order", `{"sku":"A"}`))
	if !errors.As(err, &sv) || sv.Violations[0].Rule != "required" || string(sv.Violations[0].Value) != "null" {
		t.Fatalf("absent qty: %v", err)
	}
	// Nothing was written.
	if info, _ := c.StreamInfo(ctx, "orders"); info.Current.Revision != r.LastRevision {
		t.Fatalf("%+v", info)
	}

	got, err := c.Schema(ctx, "Order", 0)
	if err != nil || got.Name != "Order" || got.Version != 1 || !json.Valid(got.Schema) || !bytes.Contains(got.Schema, []byte(`"qty"`)) {
		t.Fatalf("Schema: %+v %v", got, err)
	}
	if got, err = c.Schema(ctx, "Order", 1); err != nil || got.Version != 1 {
		t.Fatalf("Schema v1: %+v %v", got, err)
	}
	_, err = c.Schema(ctx, "Order", 2)
	wantCode(t, err, graveyard.CodeNotFound)
	_, err = c.Schema(ctx, "Nope", 0)
	wantCode(t, err, graveyard.CodeNotFound)
	list, err := c.Schemas(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "Order" {
		t.Fatalf("Schemas: %+v %v", list, err)
	}
	// The version is stored in $schema-Order, readable.
	if page, err := c.ReadStreamPage(ctx, "$schema-Order"); err != nil || len(page) != 1 {
		t.Fatalf("$schema-Order: %d events, %v", len(page), err)
	}

	_, err = c.UpsertSchemaJSON(ctx, []byte(`{"name":"Bad","fields":[{"name":"x","type":"integer","min":5,"max":1}]}`))
	wantCode(t, err, graveyard.CodeInvalidSchema)
	var is *graveyard.InvalidSchemaError
	if !errors.As(err, &is) || is.Schema != "Bad" || len(is.Problems) == 0 || is.Problems[0] == "" {
		t.Fatalf("details %+v of %v", is, err)
	}
	_, err = c.UpsertSchemaJSON(ctx, []byte(`{"name":"Bad","fields":[],"misspelt":1}`))
	wantCode(t, err, graveyard.CodeInvalidSchema)
	_, err = c.UpsertSchemaJSON(ctx, []byte(`not json`))
	wantCode(t, err, graveyard.CodeInvalidSchema)
}

type Signup struct {
	Name string `json:"name" graveyard:"required,min_length=1"`
	Age  int    `json:"age" graveyard:"min=18"`
}

func TestUpsertSchemaOfAStruct(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	u, err := c.UpsertSchema(ctx, Signup{})
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "Signup" || u.Version != 1 {
		t.Fatalf("%+v", u)
	}
	if _, err := c.AppendValues(ctx, "signups", graveyard.Any, Signup{Name: "Ann", Age: 30}); err != nil {
		t.Fatal(err)
	}
	_, err = c.AppendValues(ctx, "signups", graveyard.Any, Signup{Name: "", Age: 12})
	var sv *graveyard.SchemaViolationError
	if !errors.As(err, &sv) || len(sv.Violations) != 2 || sv.Violations[0].Path != "name" || sv.Violations[0].Rule != "min_length" ||
		sv.Violations[1].Path != "age" || sv.Violations[1].Rule != "min" {
		t.Fatalf("%v: %+v", err, sv)
	}
	// A type the derivation refuses is reported before the store is called.
	type Bad struct {
		Any any `json:"any"`
	}
	if _, err := c.UpsertSchema(ctx, Bad{}); err == nil {
		t.Fatal("a schema of an interface field was accepted")
	}
}

func TestEncryption(t *testing.T) {
	ctx := testCtx(t)
	key1 := bytes.Repeat([]byte{1}, 32)
	key2 := bytes.Repeat([]byte{2}, 32)
	dir := t.TempDir()
	c, err := graveyard.Open(dir, graveyard.WithoutFsync(), graveyard.WithMasterKey(key1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if enc, err := c.IsEncrypted(ctx); err != nil || !enc {
		t.Fatalf("IsEncrypted: %v %v", enc, err)
	}
	mustAppend(t, c, "secret-1", graveyard.NoStream, graveyard.EventData{Type: "Card", ContentType: "application/json",
		Data: []byte(`{"pan":"4111"}`), Metadata: []byte("meta")})
	mustAppend(t, c, "secret-2", graveyard.NoStream, ev("Card", `{"pan":"5500"}`))
	if err := c.SaveSnapshot(ctx, "secret-1", 0, []byte("snap")); err != nil {
		t.Fatal(err)
	}
	page, err := c.ReadStreamPage(ctx, "secret-1")
	if err != nil || string(page[0].Data) != `{"pan":"4111"}` || string(page[0].Metadata) != "meta" || page[0].Shredded {
		t.Fatalf("%+v %v", page, err)
	}

	if err := c.ShredStream(ctx, "secret-1"); err != nil {
		t.Fatal(err)
	}
	if err := c.ShredStream(ctx, "secret-1"); err != nil {
		t.Fatalf("shredding twice: %v", err)
	}
	wantCode(t, c.ShredStream(ctx, "never-written"), graveyard.CodeNotFound)
	page, err = c.ReadStreamPage(ctx, "secret-1")
	if err != nil || len(page) != 1 {
		t.Fatalf("%+v %v", page, err)
	}
	e := page[0]
	if !e.Shredded || e.Data != nil || e.Metadata != nil || e.Type != "Card" || e.Revision != 0 {
		t.Fatalf("shredded event %+v", e)
	}
	var v map[string]any
	if err := e.Decode(&v); !errors.Is(err, graveyard.ErrShredded) {
		t.Fatalf("Decode of a shredded event: %v", err)
	}
	if info, err := c.StreamInfo(ctx, "secret-1"); err != nil || !info.Shredded {
		t.Fatalf("%+v %v", info, err)
	}
	if s, err := c.Snapshot(ctx, "secret-1"); err != nil || s != nil {
		t.Fatalf("the snapshot of a shredded stream: %+v %v", s, err)
	}
	_, err = c.Append(ctx, "secret-1", graveyard.Any, ev("Card", `{}`))
	wantCode(t, err, graveyard.CodeStreamDeleted)
	all := collect(t, c.ReadAll(ctx))
	if len(all) != 2 || !all[0].Shredded || all[1].Shredded {
		t.Fatalf("$all: %+v", all)
	}

	wantCode(t, c.RotateMasterKey(ctx, []byte("short")), graveyard.CodeInvalidArgument)
	if err := c.RotateMasterKey(ctx, key2); err != nil {
		t.Fatal(err)
	}
	// Still readable while open.
	if page, err := c.ReadStreamPage(ctx, "secret-2"); err != nil || string(page[0].Data) != `{"pan":"5500"}` {
		t.Fatalf("%+v %v", page, err)
	}
	c.Close()

	for _, key := range [][]byte{key1, bytes.Repeat([]byte{3}, 32)} {
		_, err = graveyard.Open(dir, graveyard.WithoutFsync(), graveyard.WithMasterKey(key))
		wantCode(t, err, graveyard.CodeEncryption)
	}
	_, err = graveyard.Open(dir, graveyard.WithoutFsync())
	wantCode(t, err, graveyard.CodeEncryption)
	c2 := openAt(t, dir, graveyard.WithMasterKey(key2))
	if page, err := c2.ReadStreamPage(ctx, "secret-2"); err != nil || string(page[0].Data) != `{"pan":"5500"}` {
		t.Fatalf("after rotation: %+v %v", page, err)
	}

	// A store without a key is not encrypted, and cannot shred; a key for it is refused.
	plainDir := t.TempDir()
	plain := openAt(t, plainDir)
	if enc, err := plain.IsEncrypted(ctx); err != nil || enc {
		t.Fatalf("IsEncrypted of a plain store: %v %v", enc, err)
	}
	mustAppend(t, plain, "s", graveyard.Any, ev("E", `{}`))
	wantCode(t, plain.ShredStream(ctx, "s"), graveyard.CodeInvalidArgument)
	plain.Close()
	_, err = graveyard.Open(plainDir, graveyard.WithMasterKey(key1))
	wantCode(t, err, graveyard.CodeInvalidArgument)
	_, err = graveyard.Open(t.TempDir(), graveyard.WithMasterKey([]byte("too short")))
	wantCode(t, err, graveyard.CodeInvalidArgument)
	// An empty key (an empty key file, a nil variable) is refused, never a store without
	// encryption.
	for _, empty := range [][]byte{nil, {}} {
		_, err = graveyard.Open(t.TempDir(), graveyard.WithMasterKey(empty))
		wantCode(t, err, graveyard.CodeInvalidArgument)
	}
	wantCode(t, c2.RotateMasterKey(ctx, nil), graveyard.CodeInvalidArgument)
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := graveyard.Open(file)
	wantCode(t, err, graveyard.CodeInvalidArgument)

	// Reopening a closed store works, with what it held.
	dir := t.TempDir()
	c := openAt(t, dir)
	mustAppend(t, c, "s", graveyard.Any, numbered("E", 2)...)
	c.Close()
	c = openAt(t, dir)
	if page, err := c.ReadStreamPage(testCtx(t), "s"); err != nil || len(page) != 2 {
		t.Fatalf("%d events, %v", len(page), err)
	}
	_, err = c.OnNode("n1")
	wantCode(t, err, graveyard.CodeUnsupported)
}

func TestCloseThenEveryCallIsClosed(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	mustAppend(t, c, "s", graveyard.Any, ev("E", `{}`))
	if _, err := c.CreateGroup(ctx, "g", graveyard.StreamTarget("s"), graveyard.FromStart, graveyard.GroupSettings{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	calls := map[string]func() error{
		"Append": func() error { _, err := c.Append(ctx, "s", graveyard.Any, ev("E", `{}`)); return err },
		"AppendValues": func() error {
			_, err := c.AppendValues(ctx, "s", graveyard.Any, Shipped{})
			return err
		},
		"ReadStreamPage": func() error { _, err := c.ReadStreamPage(ctx, "s"); return err },
		"ReadAllPage":    func() error { _, err := c.ReadAllPage(ctx); return err },
		"ReadStream":     func() error { return firstErr(c.ReadStream(ctx, "s")) },
		"ReadAll":        func() error { return firstErr(c.ReadAll(ctx)) },
		"HeadPosition":   func() error { _, err := c.HeadPosition(ctx); return err },
		"IsEncrypted":    func() error { _, err := c.IsEncrypted(ctx); return err },
		"StreamInfo":     func() error { _, err := c.StreamInfo(ctx, "s"); return err },
		"SetStreamMetadata": func() error {
			return c.SetStreamMetadata(ctx, "s", graveyard.StreamMetadata{})
		},
		"StreamMetadata":   func() error { _, err := c.StreamMetadata(ctx, "s"); return err },
		"DeleteStream":     func() error { return c.DeleteStream(ctx, "s", graveyard.Any) },
		"TombstoneStream":  func() error { return c.TombstoneStream(ctx, "s", graveyard.Any) },
		"ShredStream":      func() error { return c.ShredStream(ctx, "s") },
		"RotateMasterKey":  func() error { return c.RotateMasterKey(ctx, make([]byte, 32)) },
		"SaveSnapshot":     func() error { return c.SaveSnapshot(ctx, "s", 0, nil) },
		"Snapshot":         func() error { _, err := c.Snapshot(ctx, "s"); return err },
		"UpsertSchemaJSON": func() error { _, err := c.UpsertSchemaJSON(ctx, []byte(orderSchema)); return err },
		"UpsertSchema":     func() error { _, err := c.UpsertSchema(ctx, Signup{}); return err },
		"Schema":           func() error { _, err := c.Schema(ctx, "Order", 0); return err },
		"Schemas":          func() error { _, err := c.Schemas(ctx); return err },
		"SubscribeToStream": func() error {
			_, err := c.SubscribeToStream(ctx, "s", graveyard.SubscribeOptions{})
			return err
		},
		"SubscribeToAll": func() error { _, err := c.SubscribeToAll(ctx, graveyard.SubscribeOptions{}); return err },
		"CreateGroup": func() error {
			_, err := c.CreateGroup(ctx, "g2", graveyard.StreamTarget("s"), graveyard.FromStart, graveyard.GroupSettings{})
			return err
		},
		"UpdateGroup":  func() error { _, err := c.UpdateGroup(ctx, "g", graveyard.GroupSettings{}); return err },
		"GroupInfo":    func() error { _, err := c.GroupInfo(ctx, "g"); return err },
		"Groups":       func() error { _, err := c.Groups(ctx); return err },
		"DeleteGroup":  func() error { return c.DeleteGroup(ctx, "g") },
		"ReplayParked": func() error { _, err := c.ReplayParked(ctx, "g", 0); return err },
		"JoinGroup":    func() error { _, err := c.JoinGroup(ctx, "g", "m"); return err },
		// A Background context takes the path without a cancel token.
		"Append (Background)": func() error {
			_, err := c.Append(context.Background(), "s", graveyard.Any, ev("E", `{}`))
			return err
		},
		"ReadStreamPage (Background)": func() error {
			_, err := c.ReadStreamPage(context.Background(), "s")
			return err
		},
	}
	for name, call := range calls {
		err := call()
		if !errors.Is(err, graveyard.ErrClosed) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
}

func firstErr(seq func(func(*graveyard.RecordedEvent, error) bool)) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}

func TestErrorValues(t *testing.T) {
	if graveyard.CodeWrongExpectedVersion.String() != "WRONG_EXPECTED_VERSION" || graveyard.Code(99).String() != "CODE_99" {
		t.Fatal("Code.String")
	}
	e := &graveyard.Error{Code: graveyard.CodeNotFound, Message: "no stream x"}
	if e.Error() != "graveyard: NOT_FOUND: no stream x" {
		t.Fatalf("%q", e.Error())
	}
	wrapped := fmt.Errorf("loading: %w", e)
	if !errors.Is(wrapped, graveyard.ErrNotFound) || errors.Is(wrapped, graveyard.ErrClosed) {
		t.Fatal("errors.Is through a wrap")
	}
	var sd *graveyard.StreamDeletedError
	if errors.As(wrapped, &sd) {
		t.Fatal("details without details")
	}
	if graveyard.ErrNotFound.Error() != "graveyard: NOT_FOUND" {
		t.Fatal(graveyard.ErrNotFound.Error())
	}
}

func TestConcurrentCallsOnOneClient(t *testing.T) {
	c := openStore(t)
	ctx := testCtx(t)
	const workers, rounds = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			stream := fmt.Sprintf("w-%d", w)
			for i := 0; i < rounds; i++ {
				expected := graveyard.Exact(uint64(i - 1))
				if i == 0 {
					expected = graveyard.NoStream
				}
				r, err := c.Append(ctx, stream, expected, ev("E", fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)))
				if err != nil {
					errs <- err
					return
				}
				if r.FirstRevision != uint64(i) {
					errs <- fmt.Errorf("%s: revision %d, want %d", stream, r.FirstRevision, i)
					return
				}
				// Read this stream and the shared log while the others write.
				n := 0
				for e, err := range c.ReadStream(ctx, stream, graveyard.PageSize(3)) {
					if err != nil || e.Stream != stream {
						errs <- fmt.Errorf("read %s: %v", stream, err)
						return
					}
					n++
				}
				if n != i+1 {
					errs <- fmt.Errorf("%s has %d events, want %d", stream, n, i+1)
					return
				}
				if _, err := c.ReadAllPage(ctx, graveyard.Backwards(), graveyard.Limit(5)); err != nil {
					errs <- err
					return
				}
				if _, err := c.StreamInfo(ctx, stream); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if head, err := c.HeadPosition(ctx); err != nil || head != workers*rounds {
		t.Fatalf("head %d, %v", head, err)
	}
	positions := map[uint64]bool{}
	for _, e := range collect(t, c.ReadAll(ctx, graveyard.PageSize(64))) {
		positions[e.Position] = true
	}
	if len(positions) != workers*rounds {
		t.Fatalf("%d distinct positions", len(positions))
	}
}

func TestCloseWhileCallsAreInFlight(t *testing.T) {
	for round := 0; round < 3; round++ {
		c, err := graveyard.Open(t.TempDir(), graveyard.WithoutFsync())
		if err != nil {
			t.Fatal(err)
		}
		ctx := testCtx(t)
		mustAppend(t, c, "s", graveyard.Any, numbered("E", 50)...)
		sub, err := c.SubscribeToAll(ctx, graveyard.SubscribeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		start := make(chan struct{})
		for w := 0; w < 12; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				<-start
				for i := 0; ; i++ {
					var err error
					switch (w + i) % 4 {
					case 0:
						_, err = c.Append(ctx, fmt.Sprintf("w-%d", w), graveyard.Any, ev("E", `{}`))
					case 1:
						_, err = c.ReadStreamPage(ctx, "s")
					case 2:
						err = firstErr(c.ReadAll(ctx, graveyard.PageSize(7)))
					case 3:
						_, err = c.StreamInfo(context.Background(), "s")
					}
					if err != nil {
						if !errors.Is(err, graveyard.ErrClosed) {
							errs <- fmt.Errorf("worker %d: %v", w, err)
						}
						return
					}
				}
			}(w)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for {
				_, err := sub.Next(ctx)
				if err != nil {
					if !errors.Is(err, graveyard.ErrClosed) && !errors.Is(err, graveyard.ErrSessionClosed) {
						errs <- fmt.Errorf("subscription: %v", err)
					}
					return
				}
			}
		}()
		close(start)
		time.Sleep(time.Duration(round) * 5 * time.Millisecond)
		var closers sync.WaitGroup
		for i := 0; i < 3; i++ {
			closers.Add(1)
			go func() { defer closers.Done(); c.Close() }()
		}
		closers.Wait()
		wg.Wait()
		sub.Close()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}

// TestSIGPIPE: the library's runtime threads write to cluster nodes' sockets; SIGPIPE raised on
// one of them (not a Go thread) would end the process when a node goes away, so the library
// blocks it in those threads. The process's disposition is left alone: a Go program's write to a
// closed stdout still ends it with SIGPIPE, as Go documents.
// startRuntime makes the library start its shared runtime (a call with a cancellable context
// runs there).
func startRuntime(t *testing.T) {
	c, err := graveyard.Open(t.TempDir(), graveyard.WithoutFsync())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := c.HeadPosition(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSIGPIPE(t *testing.T) {
	if os.Getenv("SDKGO_TEST_STDOUT_CHILD") == "1" {
		// The child: the SDK is loaded and its runtime started. Write until the pipe breaks.
		startRuntime(t)
		for i := 0; i < 10000; i++ {
			if _, err := os.Stdout.Write([]byte("x\n")); err != nil {
				fmt.Fprintln(os.Stderr, "write failed without SIGPIPE:", err)
				os.Exit(3)
			}
		}
		os.Exit(4)
	}
	if runtime.GOOS == "linux" {
		startRuntime(t)
		tasks, err := filepath.Glob("/proc/self/task/*")
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, task := range tasks {
			comm, err := os.ReadFile(filepath.Join(task, "comm"))
			if err != nil || strings.TrimSpace(string(comm)) != "graveyard" {
				continue
			}
			status, err := os.ReadFile(filepath.Join(task, "status"))
			if err != nil {
				continue // the thread ended meanwhile
			}
			for _, line := range strings.Split(string(status), "\n") {
				if rest, ok := strings.CutPrefix(line, "SigBlk:"); ok {
					blocked, err := strconv.ParseUint(strings.TrimSpace(rest), 16, 64)
					if err != nil {
						t.Fatal(err)
					}
					if blocked&(1<<(syscall.SIGPIPE-1)) == 0 {
						t.Fatalf("the library's runtime thread %s does not block SIGPIPE (SigBlk %x)", task, blocked)
					}
					checked++
				}
			}
		}
		if checked == 0 {
			t.Fatal("no runtime thread of the library (named graveyard) found")
		}
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGPIPE$")
	cmd.Env = append(os.Environ(), "SDKGO_TEST_STDOUT_CHILD=1")
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	r.Close() // nobody reads: the child's first write breaks the pipe
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	err = cmd.Wait()
	status, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !status.Signaled() || status.Signal() != syscall.SIGPIPE {
		t.Fatalf("the child writing to a closed stdout ended with %v (%v), want SIGPIPE; stderr: %s", cmd.ProcessState, err, stderr.String())
	}
}

func TestOpenOptions(t *testing.T) {
	c := openStore(t, graveyard.WithMaxEventSize(200), graveyard.WithMaxJSONDepth(2),
		graveyard.WithMapSize(64<<20), graveyard.WithMaxReaders(32))
	ctx := testCtx(t)
	mustAppend(t, c, "s", graveyard.Any, ev("E", `{"a":[1]}`))
	_, err := c.Append(ctx, "s", graveyard.Any, ev("E", `{"a":[[1]]}`))
	wantCode(t, err, graveyard.CodeInvalidArgument)
	_, err = c.Append(ctx, "s", graveyard.Any, graveyard.EventData{Type: "E", ContentType: "application/octet-stream",
		Data: bytes.Repeat([]byte{1}, 300)})
	wantCode(t, err, graveyard.CodeInvalidArgument)
	wantCode(t, c.SaveSnapshot(ctx, "s", 0, bytes.Repeat([]byte{1}, 300)), graveyard.CodeInvalidArgument)
	if page, err := c.ReadStreamPage(ctx, "s"); err != nil || len(page) != 1 {
		t.Fatalf("%d events, %v", len(page), err)
	}
	// Durable by default: reopened, a store opened with fsync keeps what it acknowledged.
	dir := t.TempDir()
	durable, err := graveyard.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, durable, "d", graveyard.NoStream, numbered("E", 3)...)
	durable.Close()
	reopened := openAt(t, dir)
	if info, err := reopened.StreamInfo(ctx, "d"); err != nil || info.NextRevision != 3 {
		t.Fatalf("%+v %v", info, err)
	}
}

// TestOpenTwiceInOneProcess: a second Open of a directory is another Client on the same store;
// closing one leaves the other working.
func TestOpenTwiceInOneProcess(t *testing.T) {
	dir := t.TempDir()
	ctx := testCtx(t)
	a := openAt(t, dir)
	b := openAt(t, dir)
	mustAppend(t, a, "s", graveyard.NoStream, ev("E", `{}`))
	if page, err := b.ReadStreamPage(ctx, "s"); err != nil || len(page) != 1 {
		t.Fatalf("the second Client does not see the first's append: %d, %v", len(page), err)
	}
	a.Close()
	_, err := a.HeadPosition(ctx)
	wantCode(t, err, graveyard.CodeClosed)
	mustAppend(t, b, "s", graveyard.Exact(0), ev("E", `{}`))
	// Other options than those in force: refused.
	_, err = graveyard.Open(dir, graveyard.WithoutFsync(), graveyard.WithMaxEventSize(10))
	wantCode(t, err, graveyard.CodeInvalidArgument)
}
