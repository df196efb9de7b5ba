// Package graveyard is the Go SDK of GraveyardDB, an event store: an append-only log of
// streams with optimistic concurrency, catch-up subscriptions, consumer groups, schemas
// enforced on append, and encryption with crypto-shredding. The same *Client works on an
// embedded store (Open: the store runs in this process, on a local directory) and on a cluster
// of nodes (Connect).
//
// Every method takes a context first: a cancelled context (or a passed deadline) unblocks a
// waiting call and returns ctx.Err(); an append that was already handed to the store may still
// commit, as with any remote call. Errors are *Error values with a Code; errors.Is matches the
// sentinels (ErrWrongExpectedVersion, ...) and errors.As reaches their typed details
// (*WrongExpectedVersionError, *SchemaViolationError, ...). A Client is safe for concurrent use.
package graveyard

/*
#include "graveyard.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime"
	"sync"
	"time"
)

// Client is a GraveyardDB store, embedded or a cluster. Close it when done.
type Client struct {
	h        C.gy_handle
	embedded bool
	// owner: Close closes the store (for every Client on it); a Client of OnNode only frees
	// its own handle.
	owner bool
	// parent is the Client an OnNode Client came from, kept reachable by it: the parent's
	// finalizer would otherwise close the connection both use.
	parent *Client
	once   sync.Once
}

// emptyKey is where an empty master key points.
var emptyKey C.uint8_t

type openConfig struct {
	durability   int32
	mapSize      uint64
	maxEventSize uint64
	maxReaders   uint32
	maxJSONDepth uint32
	masterKey    []byte
	// keyGiven: WithMasterKey was used, so an empty key is a key (that the store refuses),
	// never a store without encryption.
	keyGiven bool
}

// OpenOption configures Open.
type OpenOption func(*openConfig)

// WithoutFsync commits without fsync: fast, and a crash may lose the latest commits. For tests
// and throwaway data only.
func WithoutFsync() OpenOption {
	return func(c *openConfig) { c.durability = durabilityNoFsyncUnsafe }
}

// WithMapSize sets the largest size the store may grow to, in bytes.
func WithMapSize(bytes uint64) OpenOption {
	return func(c *openConfig) { c.mapSize = bytes }
}

// WithMaxEventSize sets the largest event (data and metadata), in bytes.
func WithMaxEventSize(bytes uint64) OpenOption {
	return func(c *openConfig) { c.maxEventSize = bytes }
}

// WithMaxReaders sets how many threads may read at once.
func WithMaxReaders(n uint32) OpenOption {
	return func(c *openConfig) { c.maxReaders = n }
}

// WithMaxJSONDepth sets the deepest nesting accepted in application/json data.
func WithMaxJSONDepth(n uint32) OpenOption {
	return func(c *openConfig) { c.maxJSONDepth = n }
}

// WithMasterKey encrypts the store at rest under a 32-byte master key (each stream under its
// own data key, which ShredStream destroys). The SDK keeps no copy of the key.
func WithMasterKey(key []byte) OpenOption {
	return func(c *openConfig) { c.masterKey, c.keyGiven = key, true }
}

// Open opens (creating it if needed) an embedded store in the directory path.
func Open(path string, opts ...OpenOption) (*Client, error) {
	if abiError != nil {
		return nil, abiError
	}
	cfg := openConfig{durability: durabilityFsync}
	for _, o := range opts {
		o(&cfg)
	}
	p, pl := cStr(path)
	k, kl := cBytes(cfg.masterKey)
	if cfg.keyGiven && k == nil {
		// A null key is none: an empty one crosses as a non-null pointer of length 0.
		k = &emptyKey
	}
	var h C.gy_handle
	c := &call{ctx: context.Background(), err: new(C.gy_error)}
	status := C.gy_open(p, pl, C.int32_t(cfg.durability), C.uint64_t(cfg.mapSize), C.uint64_t(cfg.maxEventSize),
		C.uint32_t(cfg.maxReaders), C.uint32_t(cfg.maxJSONDepth), k, kl, &h, c.err)
	runtime.KeepAlive(path)
	runtime.KeepAlive(cfg.masterKey)
	if err := c.status(status); err != nil {
		return nil, err
	}
	return newClient(h, true, true), nil
}

type connectConfig struct {
	token          string
	caPEM          []byte
	connectTimeout time.Duration
	requestTimeout time.Duration
	retries        int32
	retryBackoff   time.Duration
}

// ConnectOption configures Connect.
type ConnectOption func(*connectConfig)

// WithToken sends a bearer token with every request.
func WithToken(token string) ConnectOption {
	return func(c *connectConfig) { c.token = token }
}

// WithCACertificate trusts the CA whose PEM signs the nodes' certificates (TLS endpoints).
func WithCACertificate(pem []byte) ConnectOption {
	return func(c *connectConfig) { c.caPEM = pem }
}

// WithConnectTimeout bounds the time to connect to a node.
func WithConnectTimeout(d time.Duration) ConnectOption {
	return func(c *connectConfig) { c.connectTimeout = d }
}

// WithRequestTimeout bounds every request (none by default: use contexts).
func WithRequestTimeout(d time.Duration) ConnectOption {
	return func(c *connectConfig) { c.requestTimeout = d }
}

// WithRetries sets how many times a request that found no leader (or an unreachable node) is
// retried, and the pause before the first retry.
func WithRetries(retries int, backoff time.Duration) ConnectOption {
	return func(c *connectConfig) { c.retries, c.retryBackoff = int32(retries), backoff }
}

func durationMs(d time.Duration) C.int64_t {
	if d <= 0 {
		return -1
	}
	return C.int64_t(millisCeil(d))
}

// Connect connects to a cluster through any of endpoints ("http://127.0.0.1:7070", or https
// with WithCACertificate).
func Connect(ctx context.Context, endpoints []string, opts ...ConnectOption) (*Client, error) {
	if len(endpoints) == 0 {
		return nil, &Error{Code: CodeInvalidArgument, Message: "no endpoints to connect to"}
	}
	cfg := connectConfig{retries: -1}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	defer c.end()
	if dl, ok := ctx.Deadline(); ok && cfg.connectTimeout == 0 {
		cfg.connectTimeout = time.Until(dl)
	}
	joined := joinEndpoints(endpoints)
	e, el := cStr(joined)
	t, tl := cOptStr(cfg.token)
	p, pl := cBytes(cfg.caPEM)
	var h C.gy_handle
	status := C.gy_connect(e, el, t, tl, p, pl, durationMs(cfg.connectTimeout), durationMs(cfg.requestTimeout),
		C.int32_t(cfg.retries), durationMs(cfg.retryBackoff), &h, c.err)
	runtime.KeepAlive(joined)
	runtime.KeepAlive(cfg)
	if err := c.status(status); err != nil {
		return nil, err
	}
	return newClient(h, false, true), nil
}

func newClient(h C.gy_handle, embedded, owner bool) *Client {
	client := &Client{h: h, embedded: embedded, owner: owner}
	// A Client dropped without Close still lets its handle go (an embedded store stays open
	// until then: close explicitly to release the directory).
	runtime.SetFinalizer(client, (*Client).Close)
	return client
}

// Close closes the store: every later call, and every call of a Client of OnNode, fails with
// ErrClosed; open subscriptions and members end. Closing twice is harmless.
func (c *Client) Close() error {
	c.once.Do(func() {
		runtime.SetFinalizer(c, nil)
		if c.owner {
			C.gy_store_close(c.h)
		} else {
			C.gy_store_free(c.h)
		}
	})
	return nil
}

// IsEmbedded says whether the store runs in this process.
func (c *Client) IsEmbedded() bool {
	return c.embedded
}

// OnNode is a Client on the same connection whose node-scoped calls ($all, HeadPosition,
// groups on $all) go to cluster member nodeID. ErrUnsupported on an embedded store. Closing it
// leaves the connection open.
func (c *Client) OnNode(nodeID string) (*Client, error) {
	call, err := begin(context.Background())
	if err != nil {
		return nil, err
	}
	n, nl := cStr(nodeID)
	var h C.gy_handle
	status := C.gy_store_on_node(c.h, n, nl, &h, call.err)
	runtime.KeepAlive(nodeID)
	if err := call.status(status); err != nil {
		return nil, err
	}
	node := newClient(h, false, false)
	node.parent = c
	return node, nil
}

// IsEncrypted says whether the store encrypts at rest (ErrUnsupported on a cluster).
func (c *Client) IsEncrypted(ctx context.Context) (bool, error) {
	call, err := begin(ctx)
	if err != nil {
		return false, err
	}
	defer call.end()
	var out C.bool
	if err := call.status(C.gy_is_encrypted(c.h, &out, call.err)); err != nil {
		return false, err
	}
	return bool(out), nil
}

// Append appends events to stream atomically if expected holds.
func (c *Client) Append(ctx context.Context, stream string, expected ExpectedVersion, events ...EventData) (AppendResult, error) {
	packed, err := packEvents(events)
	if err != nil {
		return AppendResult{}, err
	}
	call, err := begin(ctx)
	if err != nil {
		return AppendResult{}, err
	}
	defer call.end()
	s, sl := cStr(stream)
	e, el := cBytes(packed)
	var out [4]C.uint64_t
	status := C.gy_append(c.h, s, sl, C.int32_t(expected.kind), C.uint64_t(expected.revision), e, el, call.token, &out, call.err)
	runtime.KeepAlive(stream)
	runtime.KeepAlive(packed)
	if err := call.status(status); err != nil {
		return AppendResult{}, err
	}
	return AppendResult{uint64(out[0]), uint64(out[1]), uint64(out[2]), uint64(out[3])}, nil
}

// NewEvent is an event of a struct value: its data v as encoding/json writes it, its type the
// entity name of v's type (the `graveyard:"entity=..."` tag of a blank field, else the type's
// name: the name UpsertSchema registers its schema under).
func NewEvent(v any) (EventData, error) {
	name, err := EntityName(v)
	if err != nil {
		return EventData{}, err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return EventData{}, err
	}
	return EventData{Type: name, ContentType: "application/json", Data: data}, nil
}

// AppendValues appends struct values, each as NewEvent makes it.
func (c *Client) AppendValues(ctx context.Context, stream string, expected ExpectedVersion, values ...any) (AppendResult, error) {
	events := make([]EventData, len(values))
	for i, v := range values {
		e, err := NewEvent(v)
		if err != nil {
			return AppendResult{}, err
		}
		events[i] = e
	}
	return c.Append(ctx, stream, expected, events...)
}

// bufCall runs a call that fills a buffer, and returns the buffer's bytes copied into Go
// memory (the library's copy is freed).
func bufCall(ctx context.Context, f func(token C.gy_handle, buf *C.gy_buf, err *C.gy_error) C.int32_t) ([]byte, error) {
	call, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	defer call.end()
	var buf C.gy_buf
	if err := call.status(f(call.token, &buf, call.err)); err != nil {
		return nil, err
	}
	return take(&buf), nil
}

// jsonCall runs a call that fills a buffer of JSON and decodes it into out.
func jsonCall(ctx context.Context, out any, f func(token C.gy_handle, buf *C.gy_buf, err *C.gy_error) C.int32_t) error {
	b, err := bufCall(ctx, f)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return &Error{Code: CodeInternal, Message: "the library returned JSON this SDK cannot read: " + err.Error()}
	}
	return nil
}

// unitCall runs a call without a result.
func unitCall(ctx context.Context, f func(token C.gy_handle, err *C.gy_error) C.int32_t) error {
	call, err := begin(ctx)
	if err != nil {
		return err
	}
	defer call.end()
	return call.status(f(call.token, call.err))
}

// HeadPosition is the position the next event of $all gets.
func (c *Client) HeadPosition(ctx context.Context) (uint64, error) {
	call, err := begin(ctx)
	if err != nil {
		return 0, err
	}
	defer call.end()
	var out C.uint64_t
	if err := call.status(C.gy_head_position(c.h, call.token, &out, call.err)); err != nil {
		return 0, err
	}
	return uint64(out), nil
}

// ListStreams returns one page of the streams this store holds (on a cluster, those of the
// client's node: OnNode lists the others), in byte order of their names. A page shorter than
// the limit is the last; the next one starts After the last name of this one.
func (c *Client) ListStreams(ctx context.Context, opts ListStreamsOptions) ([]StreamSummary, error) {
	// 0 asks for the core's default page; a limit past int64 is refused by the core as past
	// 10,000.
	limit := optionalCount(opts.Limit)
	page := []StreamSummary{}
	p, pl := cStr(opts.Prefix)
	a, al := cOptStr(opts.After)
	err := jsonCall(ctx, &page, func(t C.gy_handle, b *C.gy_buf, e *C.gy_error) C.int32_t {
		return C.gy_list_streams(c.h, p, pl, a, al, limit, t, b, e)
	})
	runtime.KeepAlive(opts.Prefix)
	runtime.KeepAlive(opts.After)
	return page, err
}

// StreamInfo is a stream's state. ErrNotFound when it never had events or metadata.
func (c *Client) StreamInfo(ctx context.Context, stream string) (StreamInfo, error) {
	var info StreamInfo
	s, sl := cStr(stream)
	err := jsonCall(ctx, &info, func(t C.gy_handle, b *C.gy_buf, e *C.gy_error) C.int32_t {
		return C.gy_stream_info(c.h, s, sl, t, b, e)
	})
	runtime.KeepAlive(stream)
	return info, err
}

// SetStreamMetadata replaces a stream's metadata (allowed before its first event).
func (c *Client) SetStreamMetadata(ctx context.Context, stream string, metadata StreamMetadata) error {
	j, err := json.Marshal(metadata)
	if err != nil {
		return err
	}
	s, sl := cStr(stream)
	m, ml := cBytes(j)
	err = unitCall(ctx, func(t C.gy_handle, e *C.gy_error) C.int32_t {
		return C.gy_set_stream_metadata(c.h, s, sl, m, ml, t, e)
	})
	runtime.KeepAlive(stream)
	runtime.KeepAlive(j)
	return err
}

// StreamMetadata is a stream's metadata.
func (c *Client) StreamMetadata(ctx context.Context, stream string) (StreamMetadata, error) {
	var m StreamMetadata
	s, sl := cStr(stream)
	err := jsonCall(ctx, &m, func(t C.gy_handle, b *C.gy_buf, e *C.gy_error) C.int32_t {
		return C.gy_get_stream_metadata(c.h, s, sl, t, b, e)
	})
	runtime.KeepAlive(stream)
	return m, err
}

func (c *Client) deleteStream(ctx context.Context, stream string, expected ExpectedVersion, tombstone bool) error {
	s, sl := cStr(stream)
	err := unitCall(ctx, func(t C.gy_handle, e *C.gy_error) C.int32_t {
		return C.gy_delete_stream(c.h, s, sl, C.int32_t(expected.kind), C.uint64_t(expected.revision), C.bool(tombstone), t, e)
	})
	runtime.KeepAlive(stream)
	return err
}

// DeleteStream soft-deletes a stream: its events are hidden, a later append continues its
// revisions.
func (c *Client) DeleteStream(ctx context.Context, stream string, expected ExpectedVersion) error {
	return c.deleteStream(ctx, stream, expected, false)
}

// TombstoneStream deletes a stream for good: every later operation on the name is
// ErrStreamDeleted.
func (c *Client) TombstoneStream(ctx context.Context, stream string, expected ExpectedVersion) error {
	return c.deleteStream(ctx, stream, expected, true)
}

// ShredStream crypto-shreds a stream of an encrypted store: its data key is destroyed, and its
// events read back Shredded, without data or metadata.
func (c *Client) ShredStream(ctx context.Context, stream string) error {
	s, sl := cStr(stream)
	err := unitCall(ctx, func(t C.gy_handle, e *C.gy_error) C.int32_t {
		return C.gy_shred_stream(c.h, s, sl, t, e)
	})
	runtime.KeepAlive(stream)
	return err
}

// RotateMasterKey rewraps every data key under a new 32-byte master key.
func (c *Client) RotateMasterKey(ctx context.Context, newKey []byte) error {
	k, kl := cBytes(newKey)
	err := unitCall(ctx, func(t C.gy_handle, e *C.gy_error) C.int32_t {
		return C.gy_rotate_master_key(c.h, k, kl, t, e)
	})
	runtime.KeepAlive(newKey)
	return err
}

// SaveSnapshot saves a stream's state at revision.
func (c *Client) SaveSnapshot(ctx context.Context, stream string, revision uint64, data []byte) error {
	s, sl := cStr(stream)
	d, dl := cBytes(data)
	err := unitCall(ctx, func(t C.gy_handle, e *C.gy_error) C.int32_t {
		return C.gy_save_snapshot(c.h, s, sl, C.uint64_t(revision), d, dl, t, e)
	})
	runtime.KeepAlive(stream)
	runtime.KeepAlive(data)
	return err
}

// Snapshot is a stream's latest snapshot, nil when it has none.
func (c *Client) Snapshot(ctx context.Context, stream string) (*Snapshot, error) {
	s, sl := cStr(stream)
	b, err := bufCall(ctx, func(t C.gy_handle, buf *C.gy_buf, e *C.gy_error) C.int32_t {
		return C.gy_get_snapshot(c.h, s, sl, t, buf, e)
	})
	runtime.KeepAlive(stream)
	if err != nil || len(b) == 0 {
		return nil, err
	}
	return unpackSnapshot(b)
}

// UpsertSchemaJSON registers a schema from its JSON definition (docs/semantics.md).
func (c *Client) UpsertSchemaJSON(ctx context.Context, definition []byte) (SchemaUpsert, error) {
	var u SchemaUpsert
	d, dl := cBytes(definition)
	err := jsonCall(ctx, &u, func(t C.gy_handle, b *C.gy_buf, e *C.gy_error) C.int32_t {
		return C.gy_upsert_schema(c.h, d, dl, t, b, e)
	})
	runtime.KeepAlive(definition)
	return u, err
}

// Schema is a version of a schema; version 0 for the latest.
func (c *Client) Schema(ctx context.Context, name string, version uint32) (RegisteredSchema, error) {
	var r RegisteredSchema
	v := C.int64_t(-1)
	if version > 0 {
		v = C.int64_t(version)
	}
	n, nl := cStr(name)
	err := jsonCall(ctx, &r, func(t C.gy_handle, b *C.gy_buf, e *C.gy_error) C.int32_t {
		return C.gy_get_schema(c.h, n, nl, v, t, b, e)
	})
	runtime.KeepAlive(name)
	return r, err
}

// Schemas is the latest version of every schema, by name.
func (c *Client) Schemas(ctx context.Context) ([]RegisteredSchema, error) {
	var r []RegisteredSchema
	err := jsonCall(ctx, &r, func(t C.gy_handle, b *C.gy_buf, e *C.gy_error) C.int32_t {
		return C.gy_list_schemas(c.h, t, b, e)
	})
	return r, err
}
