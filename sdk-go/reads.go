package graveyard

/*
#include "graveyard.h"
*/
import "C"

import (
	"context"
	"errors"
	"iter"
	"runtime"
)

type readConfig struct {
	backwards bool
	from      int64
	limit     int64
	pageSize  uint64
	filter    Filter
}

// ReadOption configures a read.
type ReadOption func(*readConfig)

// Backwards reads from the end (or From) towards the start.
func Backwards() ReadOption {
	return func(c *readConfig) { c.backwards = true }
}

// From starts the read at a revision (ReadStream) or a position (ReadAll), inclusive.
func From(n uint64) ReadOption {
	return func(c *readConfig) { c.from = clampInt64(n) }
}

// Limit reads at most n events.
func Limit(n uint64) ReadOption {
	return func(c *readConfig) { c.limit = clampInt64(n) }
}

// PageSize sets how many events an iterator fetches per call into the store (default 512).
func PageSize(n int) ReadOption {
	return func(c *readConfig) { c.pageSize = uint64(max(n, 1)) }
}

// Filtered reads only the events of $all that f selects (ReadAll only).
func Filtered(f Filter) ReadOption {
	return func(c *readConfig) { c.filter = f }
}

const defaultPageSize = 512

func readConfigOf(opts []ReadOption) readConfig {
	cfg := readConfig{from: -1, limit: -1, pageSize: defaultPageSize}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

func (cfg *readConfig) direction() C.int32_t {
	if cfg.backwards {
		return directionBackwards
	}
	return directionForwards
}

// pageCall runs a read that fills a packed page, and decodes it: one copy of the page into Go
// memory, which the events' strings and bytes alias.
func pageCall(ctx context.Context, f func(token C.gy_handle, buf *C.gy_buf, err *C.gy_error) C.int32_t) ([]RecordedEvent, error) {
	b, err := bufCall(ctx, f)
	if err != nil {
		return nil, err
	}
	return unpackPage(b)
}

// ReadStreamPage reads a stream's events in one call: everything the options select (mind
// Limit on a long stream). ErrNotFound when the stream has no visible events (never written,
// or soft-deleted), ErrStreamDeleted when it was tombstoned.
func (c *Client) ReadStreamPage(ctx context.Context, stream string, opts ...ReadOption) ([]RecordedEvent, error) {
	cfg := readConfigOf(opts)
	if !cfg.filter.isZero() {
		return nil, &Error{Code: CodeInvalidArgument, Message: "a filter applies to ReadAll, not to a stream"}
	}
	return c.readStreamPage(ctx, stream, &cfg, cfg.from, cfg.limit)
}

func (c *Client) readStreamPage(ctx context.Context, stream string, cfg *readConfig, from, limit int64) ([]RecordedEvent, error) {
	s, sl := cStr(stream)
	page, err := pageCall(ctx, func(t C.gy_handle, b *C.gy_buf, e *C.gy_error) C.int32_t {
		return C.gy_read_stream(c.h, s, sl, cfg.direction(), C.int64_t(from), C.int64_t(limit), t, b, e)
	})
	runtime.KeepAlive(stream)
	return page, err
}

// ReadAllPage reads $all in one call (on a cluster, the log of the Client's node).
func (c *Client) ReadAllPage(ctx context.Context, opts ...ReadOption) ([]RecordedEvent, error) {
	cfg := readConfigOf(opts)
	return c.readAllPage(ctx, &cfg, cfg.from, cfg.limit)
}

func (c *Client) readAllPage(ctx context.Context, cfg *readConfig, from, limit int64) ([]RecordedEvent, error) {
	filter := cfg.filter.json()
	f, fl := cOptStr(filter)
	page, err := pageCall(ctx, func(t C.gy_handle, b *C.gy_buf, e *C.gy_error) C.int32_t {
		return C.gy_read_all(c.h, cfg.direction(), C.int64_t(from), C.int64_t(limit), f, fl, t, b, e)
	})
	runtime.KeepAlive(filter)
	return page, err
}

// ReadStream iterates over a stream's events, a page at a time:
//
//	for ev, err := range client.ReadStream(ctx, "order-1") { ... }
//
// A stream with no visible events (never written, or soft-deleted) yields nothing: use
// StreamInfo to tell which. A tombstoned one yields ErrStreamDeleted. Breaking out of the loop
// stops the read; an error ends it.
func (c *Client) ReadStream(ctx context.Context, stream string, opts ...ReadOption) iter.Seq2[*RecordedEvent, error] {
	cfg := readConfigOf(opts)
	return func(yield func(*RecordedEvent, error) bool) {
		if !cfg.filter.isZero() {
			yield(nil, &Error{Code: CodeInvalidArgument, Message: "a filter applies to ReadAll, not to a stream"})
			return
		}
		paginate(&cfg, func(from, limit int64) ([]RecordedEvent, error) {
			page, err := c.readStreamPage(ctx, stream, &cfg, from, limit)
			// No visible events is an empty stream to an iterator; a stream deleted between two
			// pages ends the read where it was.
			if errors.Is(err, ErrNotFound) {
				return nil, nil
			}
			return page, err
		}, func(e *RecordedEvent) uint64 { return e.Revision }, yield)
	}
}

// ReadAll iterates over $all (on a cluster, the log of the Client's node), a page at a time.
func (c *Client) ReadAll(ctx context.Context, opts ...ReadOption) iter.Seq2[*RecordedEvent, error] {
	cfg := readConfigOf(opts)
	return func(yield func(*RecordedEvent, error) bool) {
		paginate(&cfg, func(from, limit int64) ([]RecordedEvent, error) {
			return c.readAllPage(ctx, &cfg, from, limit)
		}, func(e *RecordedEvent) uint64 { return e.Position }, yield)
	}
}

// paginate reads page after page, each from where the last ended, until the limit or the end.
func paginate(cfg *readConfig, read func(from, limit int64) ([]RecordedEvent, error), cursor func(*RecordedEvent) uint64,
	yield func(*RecordedEvent, error) bool) {
	from, left := cfg.from, cfg.limit
	for left != 0 {
		n := int64(cfg.pageSize)
		if left > 0 && left < n {
			n = left
		}
		page, err := read(from, n)
		if err != nil {
			yield(nil, err)
			return
		}
		for i := range page {
			if !yield(&page[i], nil) {
				return
			}
		}
		if int64(len(page)) < n {
			return
		}
		if left > 0 {
			left -= int64(len(page))
		}
		last := cursor(&page[len(page)-1])
		if cfg.backwards {
			if last == 0 {
				return
			}
			from = int64(last - 1)
		} else {
			from = int64(last + 1)
		}
	}
}
