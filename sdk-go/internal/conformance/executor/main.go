// Command executor is the Go SDK's executor of the conformance protocol (conformance/README.md,
// "Running the scenarios in an SDK"): one JSON request per line on stdin, one JSON answer per
// line on stdout. It only dispatches: each request is one call of the SDK's public API, and each
// answer the result or the error in the protocol's form. The scenarios are parsed and matched by
// the shared runner, graveyard-conformance, which conformance_test.go runs over this program.
//
// Without flags every scenario runs on an embedded store (graveyard.Open, without fsync, in a
// fresh temporary directory). With --node it runs on one real node (graveyard serve, the binary
// --server names) started for the scenario on a free loopback port, reached with
// graveyard.Connect; reopen restarts the node on the same data.
//
// Logs go to stderr: stdout carries the answers only.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	graveyard "github.com/graveyard-db/graveyard/sdk-go"
)

func main() {
	node := flag.Bool("node", false, "run each scenario on one real node instead of an embedded store")
	server := flag.String("server", "", "the server binary (graveyard) for --node")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("go executor: ")
	if *node && *server == "" {
		log.Fatal("--node needs --server <path of the graveyard binary>")
	}

	x := &executor{node: *node, server: *server}
	defer x.end()
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out) // one object per line: Encode ends each with '\n'
	enc.SetEscapeHTML(false)
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			// Returning (not exiting) lets the deferred end stop a node and remove its data.
			if err := enc.Encode(x.answer(line)); err != nil {
				log.Printf("cannot encode an answer: %v", err)
				return
			}
			if err := out.Flush(); err != nil {
				log.Printf("cannot write an answer: %v", err)
				return
			}
		}
		if err == io.EOF {
			return // the runner closed stdin: the run is over
		}
		if err != nil {
			log.Printf("cannot read a request: %v", err)
			return
		}
	}
}

// object is a JSON object of an answer.
type object = map[string]any

// unexpressible is a value the scenario wrote that the SDK's types cannot carry (a key no
// setting has, a setting of the wrong type, a zero that the SDK reads as "the default"): a Go
// user is refused it while building the arguments, so the answer is INVALID_ARGUMENT
// (conformance/README.md, "Notes for executors").
type unexpressible struct{ why string }

func (u *unexpressible) Error() string { return u.why }

func refuse(format string, args ...any) error {
	return &unexpressible{fmt.Sprintf(format, args...)}
}

// failure is a request this executor cannot run at all (a protocol error, an executor bug): a
// {"fail": ...} answer.
type failure struct{ why string }

func (f *failure) Error() string { return f.why }

func fail(format string, args ...any) error {
	return &failure{fmt.Sprintf(format, args...)}
}

// answer is the answer to one request line: ok, error or fail, as the protocol has them.
func (x *executor) answer(line []byte) (answer object) {
	var r request
	defer func() {
		// A panic (of this executor or of the SDK) fails the step, not the whole run.
		if p := recover(); p != nil {
			log.Printf("panic in %s: %v\n%s", r.Op, p, debug.Stack())
			answer = object{"fail": fmt.Sprintf("%s: panic: %v", r.Op, p)}
		}
	}()
	if err := json.Unmarshal(line, &r); err != nil {
		return object{"fail": "the request is not one this executor reads: " + err.Error()}
	}
	result, err := x.run(&r)
	if err == nil {
		return object{"ok": result}
	}
	var gerr *graveyard.Error
	var refused *unexpressible
	switch {
	case errors.As(err, &gerr):
		return object{"error": errorJSON(gerr)}
	case errors.As(err, &refused):
		return object{"error": object{"code": "INVALID_ARGUMENT", "message": "refused by the Go SDK's types: " + refused.why}}
	default:
		// A failure of this executor, or an error of the SDK without a code (which the SDK
		// must never return from a call of the store).
		return object{"fail": fmt.Sprintf("%s: %v (%T)", r.Op, err, err)}
	}
}

// errorJSON is the code, the message and the typed fields of the error's Details, in one object.
func errorJSON(e *graveyard.Error) object {
	out := object{}
	if len(e.Details) > 0 && string(e.Details) != "null" {
		var details map[string]json.RawMessage
		if err := json.Unmarshal(e.Details, &details); err != nil {
			// Kept visible: the runner refuses an answer with a key it does not know.
			out["details_not_an_object"] = string(e.Details)
		}
		for k, v := range details {
			out[k] = v
		}
	}
	out["code"] = e.Code.String()
	out["message"] = e.Message
	return out
}

// request is every argument any request carries; each op reads its own. Values the scenarios
// write wrong on purpose (group targets and settings, schema definitions) stay raw JSON.
type request struct {
	Op       string `json:"op"`
	Scenario string `json:"scenario"`
	Options  struct {
		MaxEventSize *uint64 `json:"max_event_size"`
		MasterKey    *string `json:"master_key"`
	} `json:"options"`
	Streams []string `json:"streams"`

	Stream          string            `json:"stream"`
	ExpectedVersion json.RawMessage   `json:"expected_version"`
	Events          []eventArg        `json:"events"`
	Direction       string            `json:"direction"`
	From            *uint64           `json:"from"`
	Limit           *uint64           `json:"limit"`
	Filter          *graveyard.Filter `json:"filter"`
	Metadata        struct {
		MaxCount       *uint64 `json:"max_count"`
		MaxAgeMs       *uint64 `json:"max_age_ms"`
		TruncateBefore *uint64 `json:"truncate_before"`
	} `json:"metadata"`
	Revision uint64          `json:"revision"`
	Data     string          `json:"data"`
	Schema   json.RawMessage `json:"schema"`
	Name     string          `json:"name"`
	Version  *uint64         `json:"version"`

	Session    string          `json:"session"`
	Start      json.RawMessage `json:"start"`
	PageSize   *uint64         `json:"page_size"`
	Group      string          `json:"group"`
	Target     json.RawMessage `json:"target"`
	Settings   json.RawMessage `json:"settings"`
	Member     string          `json:"member"`
	TimeoutMs  uint64          `json:"timeout_ms"`
	Deliveries []string        `json:"deliveries"`
	Action     string          `json:"action"`
}

type eventArg struct {
	ID          *string `json:"id"`
	Type        string  `json:"type"`
	ContentType string  `json:"content_type"`
	Data        string  `json:"data"`
	Metadata    string  `json:"metadata"`
}

// executor holds the scenario being run.
type executor struct {
	node   bool
	server string
	sc     *scenario
}

type scenario struct {
	dir      string
	embedded []graveyard.OpenOption // the options to open the embedded store again with
	node     *node                  // with --node
	client   *graveyard.Client
	sessions map[string]*session
}

// session is a subscription or a member, kept under the name the scenario gave it.
type session struct {
	sub    *graveyard.Subscription
	member *graveyard.Member
	// cancelled: the executor closed it for a cancel, so ErrSessionClosed is its end.
	cancelled bool
}

func (s *session) close() {
	if s.sub != nil {
		s.sub.Close()
	} else {
		s.member.Close()
	}
}

// ctx is the context of every call but next's: the runner bounds each answer already, and a call
// that hangs is what the runner reports.
var ctx = context.Background()

func (x *executor) run(r *request) (any, error) {
	switch r.Op {
	case "begin":
		x.end()
		return object{}, x.begin(r)
	case "end":
		x.end()
		return object{}, nil
	}
	if x.sc == nil {
		return nil, fail("no scenario is open (\"begin\" first)")
	}
	return x.step(r)
}

func (x *executor) begin(r *request) error {
	dir, err := os.MkdirTemp("", "graveyard-conformance-go-")
	if err != nil {
		return fail("cannot create a directory: %v", err)
	}
	sc := &scenario{dir: dir, sessions: map[string]*session{}}
	x.sc = sc // so that end removes the directory whatever happens next
	var key []byte
	if r.Options.MasterKey != nil {
		if key, err = hex.DecodeString(*r.Options.MasterKey); err != nil || len(key) != 32 {
			return fail("the master key is not 64 hex digits: %q", *r.Options.MasterKey)
		}
	}
	if x.node {
		sc.node = &node{bin: x.server, dir: dir}
		if err := sc.node.start(r.Options.MaxEventSize, key); err != nil {
			return err
		}
		sc.client, err = sc.node.connect()
		return err
	}
	// No scenario depends on fsync (conformance/README.md, "Running a scenario").
	sc.embedded = []graveyard.OpenOption{graveyard.WithoutFsync()}
	if r.Options.MaxEventSize != nil {
		sc.embedded = append(sc.embedded, graveyard.WithMaxEventSize(*r.Options.MaxEventSize))
	}
	if key != nil {
		sc.embedded = append(sc.embedded, graveyard.WithMasterKey(key))
	}
	sc.client, err = graveyard.Open(filepath.Join(dir, "store"), sc.embedded...)
	return err
}

// end ends the scenario being run: its sessions, its client, its node, its directory.
func (x *executor) end() {
	sc := x.sc
	if sc == nil {
		return
	}
	x.sc = nil
	sc.closeSessions()
	if sc.client != nil {
		sc.client.Close()
	}
	if sc.node != nil {
		if err := sc.node.stop(); err != nil {
			log.Print(err)
		}
	}
	if err := os.RemoveAll(sc.dir); err != nil {
		log.Printf("cannot remove %s: %v", sc.dir, err)
	}
}

func (sc *scenario) closeSessions() {
	for _, s := range sc.sessions {
		s.close()
	}
	clear(sc.sessions)
}

// reopen drops every session, closes the store and opens the same data again.
func (sc *scenario) reopen() error {
	sc.closeSessions()
	sc.client.Close()
	var err error
	if sc.node != nil {
		if err = sc.node.stop(); err != nil {
			return err
		}
		if err = sc.node.restart(); err != nil {
			return err
		}
		sc.client, err = sc.node.connect()
	} else {
		sc.client, err = graveyard.Open(filepath.Join(sc.dir, "store"), sc.embedded...)
	}
	if err != nil {
		// Later steps then fail like on a closed store rather than on a nil client.
		return fail("cannot open the store again: %v", err)
	}
	return nil
}

func (sc *scenario) session(name string) (*session, error) {
	s, ok := sc.sessions[name]
	if !ok {
		return nil, fail("no session %q is open", name)
	}
	return s, nil
}

// open keeps a new session under its name (closing one left under it, which the runner never
// does).
func (sc *scenario) open(name string, s *session) {
	if old, ok := sc.sessions[name]; ok {
		old.close()
	}
	sc.sessions[name] = s
}

// step runs one operation of a scenario.
func (x *executor) step(r *request) (any, error) {
	sc := x.sc
	c := sc.client
	if c == nil {
		return nil, fail("the store could not be opened again")
	}
	switch r.Op {
	case "append":
		expected, err := expectedVersion(r.ExpectedVersion)
		if err != nil {
			return nil, err
		}
		events := make([]graveyard.EventData, len(r.Events))
		for i, e := range r.Events {
			if events[i], err = eventData(e); err != nil {
				return nil, err
			}
		}
		res, err := c.Append(ctx, r.Stream, expected, events...)
		if err != nil {
			return nil, err
		}
		return object{"first_revision": res.FirstRevision, "last_revision": res.LastRevision,
			"first_position": res.FirstPosition, "last_position": res.LastPosition}, nil

	case "read_stream", "read_all":
		opts := []graveyard.ReadOption{}
		switch r.Direction {
		case "forwards":
		case "backwards":
			opts = append(opts, graveyard.Backwards())
		default:
			return nil, fail("unknown direction %q", r.Direction)
		}
		if r.From != nil {
			opts = append(opts, graveyard.From(*r.From))
		}
		if r.Limit != nil {
			opts = append(opts, graveyard.Limit(*r.Limit))
		}
		// The Page forms: ReadStream's iterator reads a stream without events as empty, where
		// the scenarios expect NOT_FOUND.
		var events []graveyard.RecordedEvent
		var err error
		if r.Op == "read_stream" {
			events, err = c.ReadStreamPage(ctx, r.Stream, opts...)
		} else {
			if r.Filter != nil {
				opts = append(opts, graveyard.Filtered(*r.Filter))
			}
			events, err = c.ReadAllPage(ctx, opts...)
		}
		if err != nil {
			return nil, err
		}
		list := make([]object, len(events))
		for i := range events {
			list[i] = eventJSON(&events[i])
		}
		return object{"events": list}, nil

	case "stream_info":
		info, err := c.StreamInfo(ctx, r.Stream)
		if err != nil {
			return nil, err
		}
		return object{"current": currentJSON(info.Current), "next_revision": info.NextRevision,
			"deleted": info.Deleted, "shredded": info.Shredded, "metadata": metadataJSON(info.Metadata)}, nil

	case "set_stream_metadata":
		m := graveyard.StreamMetadata{MaxCount: r.Metadata.MaxCount, TruncateBefore: r.Metadata.TruncateBefore}
		if ms := r.Metadata.MaxAgeMs; ms != nil {
			if *ms > math.MaxInt64/uint64(time.Millisecond) {
				return nil, refuse("max_age_ms %d does not fit a time.Duration", *ms)
			}
			m.MaxAge = graveyard.Ref(time.Duration(*ms) * time.Millisecond)
		}
		return object{}, c.SetStreamMetadata(ctx, r.Stream, m)

	case "get_stream_metadata":
		m, err := c.StreamMetadata(ctx, r.Stream)
		if err != nil {
			return nil, err
		}
		return metadataJSON(m), nil

	case "delete_stream", "tombstone_stream":
		expected, err := expectedVersion(r.ExpectedVersion)
		if err != nil {
			return nil, err
		}
		if r.Op == "delete_stream" {
			err = c.DeleteStream(ctx, r.Stream, expected)
		} else {
			err = c.TombstoneStream(ctx, r.Stream, expected)
		}
		return object{}, err

	case "shred_stream":
		return object{}, c.ShredStream(ctx, r.Stream)

	case "save_snapshot":
		data, err := base64.StdEncoding.DecodeString(r.Data)
		if err != nil {
			return nil, fail("data is not base64: %v", err)
		}
		return object{}, c.SaveSnapshot(ctx, r.Stream, r.Revision, data)

	case "get_snapshot":
		s, err := c.Snapshot(ctx, r.Stream)
		if err != nil {
			return nil, err
		}
		if s == nil {
			return object{"snapshot": nil}, nil
		}
		return object{"snapshot": object{"stream": s.Stream, "revision": s.Revision,
			"data": base64.StdEncoding.EncodeToString(s.Data), "timestamp": s.Timestamp.UnixMicro()}}, nil

	case "head_position":
		p, err := c.HeadPosition(ctx)
		if err != nil {
			return nil, err
		}
		return object{"head_position": p}, nil

	case "upsert_schema":
		// The definition as the scenario wrote it: the core refuses what is wrong.
		u, err := c.UpsertSchemaJSON(ctx, r.Schema)
		if err != nil {
			return nil, err
		}
		return object{"name": u.Name, "version": u.Version, "changed": u.Changed}, nil

	case "get_schema":
		var version uint32 // 0: the latest
		if r.Version != nil {
			if *r.Version == 0 || *r.Version > math.MaxUint32 {
				return nil, refuse("schema version %d: Schema takes a uint32, 0 naming the latest", *r.Version)
			}
			version = uint32(*r.Version)
		}
		s, err := c.Schema(ctx, r.Name, version)
		if err != nil {
			return nil, err
		}
		return schemaJSON(s), nil

	case "list_schemas":
		list, err := c.Schemas(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]object, len(list))
		for i, s := range list {
			out[i] = schemaJSON(s)
		}
		return object{"schemas": out}, nil

	case "close":
		// The sessions stay, and fail like the store.
		return object{}, c.Close()

	case "reopen":
		return object{}, sc.reopen()

	case "subscribe_to_stream", "subscribe_to_all":
		start, err := startOf(r.Start)
		if err != nil {
			return nil, err
		}
		opts := graveyard.SubscribeOptions{Start: start}
		if r.PageSize != nil {
			// The SDK reads a PageSize of 0 as "the store's default", so it cannot ask for 0.
			if *r.PageSize == 0 || *r.PageSize > math.MaxUint32 {
				return nil, refuse("page size %d: PageSize is a uint32 where 0 takes the default", *r.PageSize)
			}
			opts.PageSize = uint32(*r.PageSize)
		}
		var sub *graveyard.Subscription
		if r.Op == "subscribe_to_stream" {
			sub, err = c.SubscribeToStream(ctx, r.Stream, opts)
		} else {
			if r.Filter != nil {
				opts.Filter = *r.Filter
			}
			sub, err = c.SubscribeToAll(ctx, opts)
		}
		if err != nil {
			return nil, err
		}
		sc.open(r.Session, &session{sub: sub})
		return object{}, nil

	case "create_group":
		target, err := groupTarget(r.Target)
		if err != nil {
			return nil, err
		}
		start, err := startOf(r.Start)
		if err != nil {
			return nil, err
		}
		settings, err := groupSettings(r.Settings)
		if err != nil {
			return nil, err
		}
		info, err := c.CreateGroup(ctx, r.Group, target, start, settings)
		if err != nil {
			return nil, err
		}
		return groupJSON(info), nil

	case "update_group":
		settings, err := groupSettings(r.Settings)
		if err != nil {
			return nil, err
		}
		info, err := c.UpdateGroup(ctx, r.Group, settings)
		if err != nil {
			return nil, err
		}
		return groupJSON(info), nil

	case "delete_group":
		return object{}, c.DeleteGroup(ctx, r.Group)

	case "group_info":
		info, err := c.GroupInfo(ctx, r.Group)
		if err != nil {
			return nil, err
		}
		return groupJSON(info), nil

	case "list_groups":
		names, err := c.Groups(ctx)
		if err != nil {
			return nil, err
		}
		if names == nil {
			names = []string{}
		}
		return object{"groups": names}, nil

	case "replay_parked":
		var limit uint64 // 0: every parked event
		if r.Limit != nil {
			if *r.Limit == 0 {
				return nil, refuse("limit 0: ReplayParked reads a limit of 0 as \"every parked event\"")
			}
			limit = *r.Limit
		}
		info, err := c.ReplayParked(ctx, r.Group, limit)
		if err != nil {
			return nil, err
		}
		return object{"from": info.From, "to": info.To, "parked": info.Parked, "replaying": info.Replaying}, nil

	case "join_group":
		m, err := c.JoinGroup(ctx, r.Group, r.Member)
		if err != nil {
			return nil, err
		}
		sc.open(r.Session, &session{member: m})
		return object{}, nil

	case "next":
		s, err := sc.session(r.Session)
		if err != nil {
			return nil, err
		}
		return next(s, time.Duration(r.TimeoutMs)*time.Millisecond)

	case "ack", "nack":
		s, err := sc.session(r.Session)
		if err != nil {
			return nil, err
		}
		if s.member == nil {
			return nil, fail("%s names a subscription, not a member", r.Op)
		}
		ids := make([]uint64, len(r.Deliveries))
		for i, id := range r.Deliveries {
			n, err := strconv.ParseUint(id, 10, 64)
			if err != nil {
				// Not a number: an id this executor never handed out. Ask the SDK with one it
				// never handed out either, as the reference executor does.
				n = math.MaxUint64
			}
			ids[i] = n
		}
		if r.Op == "ack" {
			return object{}, s.member.Ack(ctx, ids...)
		}
		var action graveyard.NackAction
		switch r.Action {
		case "retry":
			action = graveyard.Retry
		case "park":
			action = graveyard.Park
		case "skip":
			action = graveyard.Skip
		default:
			return nil, fail("unknown nack action %q", r.Action)
		}
		return object{}, s.member.Nack(ctx, action, ids...)

	case "cancel":
		s, err := sc.session(r.Session)
		if err != nil {
			return nil, err
		}
		// Close is the SDK's one way to end a session's waits for good; its Next then says
		// ErrSessionClosed, which the protocol calls "ended".
		s.cancelled = true
		s.close()
		return object{}, nil

	case "close_session":
		s, err := sc.session(r.Session)
		if err != nil {
			return nil, err
		}
		s.close()
		delete(sc.sessions, r.Session)
		return object{}, nil
	}
	return nil, fail("unknown op %q", r.Op)
}

// next is the session's next message, waiting at most timeout (the deadline of Next's context).
func next(s *session, timeout time.Duration) (any, error) {
	nctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out object
	var err error
	if s.sub != nil {
		var m graveyard.Message
		if m, err = s.sub.Next(nctx); err == nil {
			if m.CaughtUp {
				out = object{"caught_up": true}
			} else {
				out = object{"event": eventJSON(m.Event)}
			}
		}
	} else {
		var d *graveyard.Delivery
		if d, err = s.member.Next(nctx); err == nil {
			var parked any
			if d.ParkedRevision != nil {
				parked = *d.ParkedRevision
			}
			out = object{"delivery": object{
				// A string: ids use all 64 bits, beyond what every JSON reader keeps.
				"id":              strconv.FormatUint(d.ID, 10),
				"attempt":         d.Attempt,
				"parked_revision": parked,
				"event":           eventJSON(&d.Event),
			}}
		}
	}
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, context.DeadlineExceeded):
		return object{"timeout": true}, nil
	case errors.Is(err, graveyard.ErrSessionClosed) && s.cancelled:
		return object{"ended": true}, nil
	}
	// ErrSessionClosed for a session the executor did not close falls through to a fail: the
	// SDK ended it on its own.
	return nil, err
}

// ---- arguments: the protocol's JSON forms to the SDK's types ----------------------------------

func expectedVersion(raw json.RawMessage) (graveyard.ExpectedVersion, error) {
	var v graveyard.ExpectedVersion
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fail("expected_version: %v", err)
	}
	return v, nil
}

func eventData(e eventArg) (graveyard.EventData, error) {
	data, err := base64.StdEncoding.DecodeString(e.Data)
	if err != nil {
		return graveyard.EventData{}, fail("event data is not base64: %v", err)
	}
	metadata, err := base64.StdEncoding.DecodeString(e.Metadata)
	if err != nil {
		return graveyard.EventData{}, fail("event metadata is not base64: %v", err)
	}
	ev := graveyard.EventData{Type: e.Type, ContentType: e.ContentType, Data: data, Metadata: metadata}
	if e.ID != nil {
		if ev.ID, err = graveyard.ParseUUID(*e.ID); err != nil {
			return ev, fail("event id: %v", err)
		}
		// The zero UUID asks the store for a new id in the Go SDK: the nil id the scenarios
		// send to check that it is refused cannot be sent.
		if ev.ID.IsZero() {
			return ev, refuse("the nil UUID: EventData.ID reads it as \"generate an id\"")
		}
	}
	return ev, nil
}

// startOf reads "start", "end" or {"after": n}.
func startOf(raw json.RawMessage) (graveyard.Start, error) {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		switch name {
		case "start":
			return graveyard.FromStart, nil
		case "end":
			return graveyard.FromEnd, nil
		}
		return graveyard.Start{}, fail("unknown start %q", name)
	}
	var after struct {
		After *uint64 `json:"after"`
	}
	if err := strict(raw, &after); err != nil || after.After == nil {
		return graveyard.Start{}, fail("unknown start %s", raw)
	}
	return graveyard.After(*after.After), nil
}

// groupTarget reads {"stream": name} or {"all": filter} as the scenario wrote it.
func groupTarget(raw json.RawMessage) (graveyard.GroupTarget, error) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil || fields == nil || len(fields) != 1 {
		return graveyard.GroupTarget{}, refuse("a group target is {\"stream\": name} or {\"all\": filter}, not %s", raw)
	}
	if v, ok := fields["stream"]; ok {
		var stream string
		if json.Unmarshal(v, &stream) != nil {
			return graveyard.GroupTarget{}, refuse("a target stream is a string, not %s", v)
		}
		return graveyard.StreamTarget(stream), nil
	}
	if v, ok := fields["all"]; ok {
		f, err := filterOf(v)
		return graveyard.AllTarget(f), err
	}
	return graveyard.GroupTarget{}, refuse("a group target is {\"stream\": name} or {\"all\": filter}, not %s", raw)
}

// filterOf reads a filter as the scenario wrote it: only the two lists, each of strings.
func filterOf(raw json.RawMessage) (graveyard.Filter, error) {
	var f graveyard.Filter
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil || fields == nil {
		return f, refuse("a filter is an object, not %s", raw)
	}
	for k, v := range fields {
		var list []string
		if json.Unmarshal(v, &list) != nil || list == nil {
			return f, refuse("filter.%s is a list of strings, not %s", k, v)
		}
		switch k {
		case "stream_prefixes":
			f.StreamPrefixes = list
		case "event_types":
			f.EventTypes = list
		default:
			return f, refuse("a Filter has no %q", k)
		}
	}
	return f, nil
}

// groupSettings reads group settings as the scenario wrote them; what is left out takes the
// default (the zero value of its field).
func groupSettings(raw json.RawMessage) (graveyard.GroupSettings, error) {
	var s graveyard.GroupSettings
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil || fields == nil {
		return s, refuse("group settings are an object, not %s", raw)
	}
	for k, v := range fields {
		switch k {
		case "max_retries":
			n, err := uintOf(k, v, math.MaxUint32)
			if err != nil {
				return s, err
			}
			s.MaxRetries = graveyard.Ref(uint32(n))
		case "ack_timeout_ms":
			n, err := uintOf(k, v, math.MaxInt64/uint64(time.Millisecond))
			if err != nil {
				return s, err
			}
			if n == 0 {
				return s, refuse("ack_timeout_ms 0: GroupSettings reads an AckTimeout of 0 as the default")
			}
			s.AckTimeout = time.Duration(n) * time.Millisecond
		case "max_in_flight":
			n, err := uintOf(k, v, math.MaxUint32)
			if err != nil {
				return s, err
			}
			if n == 0 {
				return s, refuse("max_in_flight 0: GroupSettings reads a MaxInFlight of 0 as the default")
			}
			s.MaxInFlight = uint32(n)
		case "strategy":
			// Any string goes to the core, which refuses the ones it does not know.
			var name string
			if json.Unmarshal(v, &name) != nil || name == "" {
				return s, refuse("strategy is a Strategy (a non-empty string), not %s", v)
			}
			s.Strategy = graveyard.Strategy(name)
		default:
			return s, refuse("GroupSettings has no %q", k)
		}
	}
	return s, nil
}

// uintOf reads a JSON integer in 0..=most, the range of the Go field it goes to.
func uintOf(what string, raw json.RawMessage, most uint64) (uint64, error) {
	n, err := strconv.ParseUint(string(bytes.TrimSpace(raw)), 10, 64)
	if err != nil || n > most {
		return 0, refuse("%s is an integer in 0..=%d, not %s", what, most, raw)
	}
	return n, nil
}

// strict decodes raw into v, refusing keys v does not have.
func strict(raw json.RawMessage, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// ---- results: the SDK's types to the protocol's JSON forms -----------------------------------

func eventJSON(e *graveyard.RecordedEvent) object {
	var schemaVersion any
	if e.SchemaVersion != 0 {
		schemaVersion = e.SchemaVersion
	}
	return object{
		"stream":         e.Stream,
		"revision":       e.Revision,
		"position":       e.Position,
		"id":             e.ID.String(),
		"type":           e.Type,
		"content_type":   e.ContentType,
		"data":           base64.StdEncoding.EncodeToString(e.Data),
		"metadata":       base64.StdEncoding.EncodeToString(e.Metadata),
		"timestamp":      e.Timestamp.UnixMicro(),
		"shredded":       e.Shredded,
		"schema_version": schemaVersion,
	}
}

func currentJSON(c graveyard.CurrentRevision) any {
	if !c.Exists {
		return "no_stream"
	}
	return c.Revision
}

func metadataJSON(m graveyard.StreamMetadata) object {
	out := object{"max_count": m.MaxCount, "max_age_ms": nil, "truncate_before": m.TruncateBefore}
	if m.MaxAge != nil {
		out["max_age_ms"] = millisCeil(*m.MaxAge)
	}
	return out
}

// millisCeil is a duration in whole milliseconds, rounded up (docs/boundary.md, "JSON").
func millisCeil(d time.Duration) int64 {
	ms := int64(d / time.Millisecond)
	if d%time.Millisecond != 0 {
		ms++
	}
	return ms
}

func schemaJSON(s graveyard.RegisteredSchema) object {
	return object{"name": s.Name, "version": s.Version, "schema": s.Schema}
}

func filterJSON(f graveyard.Filter) object {
	return object{"stream_prefixes": nonNil(f.StreamPrefixes), "event_types": nonNil(f.EventTypes)}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func groupJSON(g graveyard.GroupInfo) object {
	target := object{"stream": g.Target.Stream}
	if g.Target.All {
		target = object{"all": filterJSON(g.Target.Filter)}
	}
	return object{
		"name":   g.Name,
		"target": target,
		"settings": object{
			"max_retries":    g.Settings.MaxRetries, // nil (null) would be an SDK bug, kept visible
			"ack_timeout_ms": millisCeil(g.Settings.AckTimeout),
			"max_in_flight":  g.Settings.MaxInFlight,
			"strategy":       g.Settings.Strategy,
		},
		"checkpoint":    g.Checkpoint,
		"lag":           g.Lag,
		"members":       nonNil(g.Members),
		"in_flight":     g.InFlight,
		"buffered":      g.Buffered,
		"parked_stream": g.ParkedStream,
		"parked":        g.Parked,
		"replaying":     g.Replaying,
	}
}

// ---- one real node -------------------------------------------------------------------------------

// startTimeout bounds a node's start (until it answers) and its stop (after SIGTERM).
const startTimeout = 30 * time.Second

// node is one `graveyard serve` with its data in the scenario's directory, on a loopback port
// chosen at its first start and kept across restarts.
type node struct {
	bin, dir string
	args     []string
	port     int
	cmd      *exec.Cmd
	exited   chan struct{} // closed when cmd has been waited for
}

func (n *node) start(maxEventSize *uint64, key []byte) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail("cannot find a free port: %v", err)
	}
	n.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	n.args = []string{"serve", "--listen", n.addr(), "--data", filepath.Join(n.dir, "data")}
	if maxEventSize != nil {
		n.args = append(n.args, "--max-event-size", strconv.FormatUint(*maxEventSize, 10))
	}
	if key != nil {
		// Beside (not inside) the node's data directory; the node reads 64 hex digits.
		file := filepath.Join(n.dir, "master.key")
		if err := os.WriteFile(file, []byte(hex.EncodeToString(key)), 0o600); err != nil {
			return fail("cannot write the master key: %v", err)
		}
		n.args = append(n.args, "--master-key-file", file)
	}
	return n.restart()
}

func (n *node) addr() string {
	return "127.0.0.1:" + strconv.Itoa(n.port)
}

// restart starts the node process (again) with the arguments of start.
func (n *node) restart() error {
	logFile, err := os.OpenFile(filepath.Join(n.dir, "node.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fail("cannot open the node's log: %v", err)
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(n.bin, n.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The flags are the whole configuration: no GRAVEYARD_* variable of the caller's leaks in.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GRAVEYARD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		return fail("cannot start the node %s: %v", n.bin, err)
	}
	n.cmd, n.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) {
		cmd.Wait()
		close(exited)
	}(n.exited)
	return nil
}

// connect connects once the node answers (it may still be starting); the node's log on failure.
func (n *node) connect() (*graveyard.Client, error) {
	deadline := time.Now().Add(startTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-n.exited:
			return nil, fail("the node exited (%v); its log: %s", n.cmd.ProcessState, n.log())
		default:
		}
		if last = n.try(); last == nil {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			client, err := graveyard.Connect(cctx, []string{"http://" + n.addr()})
			cancel()
			if err == nil {
				return client, nil
			}
			last = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fail("the node on %s did not answer within %s: %v; its log: %s", n.addr(), startTimeout, last, n.log())
}

// try says whether the node accepts connections yet.
func (n *node) try() error {
	conn, err := net.DialTimeout("tcp", n.addr(), time.Second)
	if err == nil {
		conn.Close()
	}
	return err
}

// stop stops the node: SIGTERM (it shuts down cleanly), SIGKILL if it does not exit in time.
func (n *node) stop() error {
	if n.cmd == nil {
		return nil
	}
	cmd := n.cmd
	n.cmd = nil
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
		return nil
	case <-time.After(startTimeout):
		cmd.Process.Kill()
		<-n.exited
		return fail("the node did not stop within %s of SIGTERM", startTimeout)
	}
}

// log is the end of the node's log.
func (n *node) log() string {
	b, err := os.ReadFile(filepath.Join(n.dir, "node.log"))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	if len(b) > 2000 {
		return "..." + string(b[len(b)-2000:])
	}
	return string(b)
}
