// Command bench measures the Go SDK on an embedded, durable store (Open with the default fsync
// per commit) and, in the same run, the Rust core on the same workloads (graveyard-bench
// embedded, bench/), so that each row has a ratio: SDK events/s ÷ core events/s. The workloads
// copy bench/src/workload.rs: the same ~100-byte JSON event (payload), stream names (bench-i),
// expected versions (Exact(previous)), writer counts, durations and sizes, a fresh store per
// workload. Every write workload checks afterwards that the store holds exactly what it
// acknowledged, and every read that it got every event in order: a wrong store fails the run.
//
//	go run ./internal/bench [--quick] [--only W,W] [--core PATH] [--markdown FILE] [--dir DIR]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	graveyard "github.com/graveyard-db/graveyard/sdk-go"
)

type scale struct {
	write         time.Duration
	streamEvents  uint64
	logEvents     uint64
	logStreams    uint64
	page          uint64
	preloadBatch  uint64
	readMin       time.Duration
	readMinRounds int
}

var (
	full  = scale{5 * time.Second, 100_000, 1_000_000, 100, 10_000, 1_000, 2 * time.Second, 3}
	quick = scale{300 * time.Millisecond, 2_000, 20_000, 10, 10_000, 1_000, 100 * time.Millisecond, 2}
)

type workload struct {
	name, what string
	// core is the graveyard-bench workload it divides by.
	core string
	run  func(dir string, s scale) (result, error)
}

type result struct {
	events  uint64
	ops     uint64
	seconds float64
	lat     []time.Duration
}

func (r result) perSecond() float64 { return float64(r.events) / max(r.seconds, 1e-9) }

func (r result) percentile(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	slices.Sort(r.lat)
	return r.lat[min(len(r.lat)-1, int(p*float64(len(r.lat))))]
}

var workloads = []workload{
	{"append-1", "1 event per append, 1 goroutine, own stream", "append-1", appendWorkload(1, 1)},
	{"append-8", "1 event per append, 8 goroutines, each on its own stream", "append-8", appendWorkload(8, 1)},
	{"append-64", "1 event per append, 64 goroutines, each on its own stream", "append-64", appendWorkload(64, 1)},
	{"batch-100", "100 events per append, 8 goroutines, each on its own stream", "batch-100", appendWorkload(8, 100)},
	{"read-stream", "ReadStreamPage of a 100k-event stream, whole stream per call", "read-stream", readStream},
	{"scan-all", "ReadAllPage of a 1M-event log (100 streams) in pages of 10,000", "scan-all", scanAll},
}

// payload is bench/src/workload.rs's payload(seq), byte for byte.
func payload(seq uint64) []byte {
	return fmt.Appendf(nil, `{"order_id":"ord-%012d","customer":"cust-%06d","amount_cents":%d,"currency":"EUR","items":%d}`,
		seq, seq%1_000_000, 10_000_000+(seq*7919)%90_000_000, 1+seq%9)
}

func event(seq uint64) graveyard.EventData {
	return graveyard.EventData{Type: "Bench", ContentType: "application/json", Data: payload(seq)}
}

func streamName(i uint64) string { return "bench-" + strconv.FormatUint(i, 10) }

// appendWorkload: writers goroutines, each appending batch events per call to its own stream
// with Exact(previous) until the time is up.
func appendWorkload(writers int, batch int) func(string, scale) (result, error) {
	return func(dir string, s scale) (result, error) {
		ctx := context.Background()
		c, err := graveyard.Open(dir)
		if err != nil {
			return result{}, err
		}
		defer c.Close()
		var mu sync.Mutex
		var all []time.Duration
		written := make([]uint64, writers)
		errs := make([]error, writers)
		start := time.Now()
		deadline := start.Add(s.write)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var lat []time.Duration
				expected := graveyard.NoStream
				seq := uint64(w) << 40
				events := make([]graveyard.EventData, batch)
				for time.Now().Before(deadline) {
					for i := range events {
						events[i] = event(seq)
						seq++
					}
					t := time.Now()
					r, err := c.Append(ctx, streamName(uint64(w)), expected, events...)
					lat = append(lat, time.Since(t))
					if err != nil {
						errs[w] = err
						return
					}
					expected = graveyard.Exact(r.LastRevision)
					written[w] += uint64(batch)
				}
				mu.Lock()
				all = append(all, lat...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		elapsed := time.Since(start).Seconds()
		if err := errors.Join(errs...); err != nil {
			return result{}, err
		}
		var total uint64
		for w, n := range written {
			total += n
			info, err := c.StreamInfo(ctx, streamName(uint64(w)))
			if err != nil {
				return result{}, err
			}
			if !info.Current.Exists || info.Current.Revision+1 != n {
				return result{}, fmt.Errorf("stream %s holds %v events, %d were acknowledged", streamName(uint64(w)), info.Current, n)
			}
		}
		return result{events: total, ops: uint64(len(all)), seconds: elapsed, lat: all}, nil
	}
}

// preload writes count events over streams streams in appends of s.preloadBatch without fsync,
// then reopens the store with the defaults (reads are the same either way; it loads faster).
func preload(dir string, s scale, count, streams uint64) (*graveyard.Client, error) {
	ctx := context.Background()
	c, err := graveyard.Open(dir, graveyard.WithoutFsync())
	if err != nil {
		return nil, err
	}
	batch := make([]graveyard.EventData, 0, s.preloadBatch)
	for seq := uint64(0); seq < count; {
		batch = batch[:0]
		stream := streamName((seq / s.preloadBatch) % streams)
		for len(batch) < int(s.preloadBatch) && seq < count {
			batch = append(batch, event(seq))
			seq++
		}
		if _, err := c.Append(ctx, stream, graveyard.Any, batch...); err != nil {
			c.Close()
			return nil, err
		}
	}
	c.Close()
	return graveyard.Open(dir)
}

// repeat runs round until s.readMin passed and at least s.readMinRounds rounds ran.
func repeat(s scale, round func() (uint64, uint64, error)) (result, error) {
	var r result
	start := time.Now()
	for rounds := 0; rounds < s.readMinRounds || time.Since(start) < s.readMin; rounds++ {
		events, ops, err := round()
		if err != nil {
			return result{}, err
		}
		r.events += events
		r.ops += ops
	}
	r.seconds = time.Since(start).Seconds()
	return r, nil
}

func readStream(dir string, s scale) (result, error) {
	c, err := preload(dir, s, s.streamEvents, 1)
	if err != nil {
		return result{}, err
	}
	defer c.Close()
	var lat []time.Duration
	r, err := repeat(s, func() (uint64, uint64, error) {
		t := time.Now()
		events, err := c.ReadStreamPage(context.Background(), streamName(0))
		lat = append(lat, time.Since(t))
		if err != nil {
			return 0, 0, err
		}
		for i := range events {
			if events[i].Revision != uint64(i) || len(events[i].Data) == 0 {
				return 0, 0, fmt.Errorf("read-stream: event %d is revision %d", i, events[i].Revision)
			}
		}
		if uint64(len(events)) != s.streamEvents {
			return 0, 0, fmt.Errorf("read-stream: %d events read, %d preloaded", len(events), s.streamEvents)
		}
		return uint64(len(events)), 1, nil
	})
	r.lat = lat
	return r, err
}

func scanAll(dir string, s scale) (result, error) {
	c, err := preload(dir, s, s.logEvents, s.logStreams)
	if err != nil {
		return result{}, err
	}
	defer c.Close()
	var lat []time.Duration
	r, err := repeat(s, func() (uint64, uint64, error) {
		var read, pages uint64
		for {
			t := time.Now()
			page, err := c.ReadAllPage(context.Background(), graveyard.From(read), graveyard.Limit(s.page))
			lat = append(lat, time.Since(t))
			if err != nil {
				return 0, 0, err
			}
			for i := range page {
				if page[i].Position != read+uint64(i) {
					return 0, 0, fmt.Errorf("scan-all: position %d where %d belongs", page[i].Position, read+uint64(i))
				}
			}
			read += uint64(len(page))
			pages++
			if uint64(len(page)) < s.page {
				break
			}
		}
		if read != s.logEvents {
			return 0, 0, fmt.Errorf("scan-all: %d events read, %d preloaded", read, s.logEvents)
		}
		return read, pages, nil
	})
	r.lat = lat
	return r, err
}

// coreRow runs graveyard-bench on one workload and reads the GraveyardDB row of its Markdown.
func coreRow(bin, name string, q bool, dir string) (float64, error) {
	md := filepath.Join(dir, "core-"+name+".md")
	args := []string{"embedded", "--only", name, "--markdown", md, "--dir", dir}
	if q {
		args = append(args, "--quick")
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if out, err := cmd.Output(); err != nil {
		return 0, fmt.Errorf("%s %s: %w\n%s", bin, strings.Join(args, " "), err, out)
	}
	text, err := os.ReadFile(md)
	if err != nil {
		return 0, err
	}
	m := regexp.MustCompile(`(?m)^\| GraveyardDB(?: \(\d+\))? \| ([0-9,]+) \|`).FindSubmatch(text)
	if m == nil {
		return 0, fmt.Errorf("no GraveyardDB row in %s", md)
	}
	return strconv.ParseFloat(strings.ReplaceAll(string(m[1]), ",", ""), 64)
}

func grouped(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// callOverhead is the cost of one call through the SDK (HeadPosition on an embedded store: cgo,
// the handle look-up, the core's read of its head), and of the cgo crossing alone (Version).
// The store is made in a folder of its own under base and removed after: a fixed path would
// reopen whatever an earlier run (of another build) left there.
func callOverhead(base string) (float64, float64, error) {
	dir, err := os.MkdirTemp(base, "graveyard-go-bench-overhead-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	c, err := graveyard.Open(filepath.Join(dir, "store"), graveyard.WithoutFsync())
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	ctx := context.Background()
	var failed error
	head := testing.Benchmark(func(b *testing.B) {
		for range b.N {
			if _, err := c.HeadPosition(ctx); err != nil {
				failed = err
			}
		}
	})
	crossing := testing.Benchmark(func(b *testing.B) {
		for range b.N {
			_ = graveyard.Version()
		}
	})
	return float64(head.NsPerOp()), float64(crossing.NsPerOp()), failed
}

func main() {
	q := flag.Bool("quick", false, "smoke sizes (0.3 s per write workload, 2k/20k events)")
	only := flag.String("only", "", "run only these workloads (comma-separated)")
	core := flag.String("core", "", "the graveyard-bench binary (default: $CARGO_TARGET_DIR or ../target, release/graveyard-bench); \"none\" skips the core")
	markdown := flag.String("markdown", "", "also write the table to this file")
	base := flag.String("dir", os.TempDir(), "where the stores write")
	overhead := flag.Bool("overhead", true, "also measure the cost of one call")
	flag.Parse()
	s := full
	if *q {
		s = quick
	}
	if *core == "" {
		target := os.Getenv("CARGO_TARGET_DIR")
		if target == "" {
			target = "../target"
		} else if !filepath.IsAbs(target) {
			target = filepath.Join("..", target)
		}
		*core = filepath.Join(target, "release", "graveyard-bench")
	}
	selected := workloads
	if *only != "" {
		names := strings.Split(*only, ",")
		selected = nil
		for _, w := range workloads {
			if slices.Contains(names, w.name) {
				selected = append(selected, w)
			}
		}
		if len(selected) != len(names) {
			fmt.Fprintf(os.Stderr, "bench: unknown workload in %q\n", *only)
			os.Exit(2)
		}
	}
	var rows []string
	failed := false
	for _, w := range selected {
		dir, err := os.MkdirTemp(*base, "graveyard-go-bench-"+w.name+"-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		r, err := w.run(filepath.Join(dir, "store"), s)
		coreRate := "n/a"
		ratio := "n/a"
		if err == nil && *core != "none" {
			var rate float64
			rate, err = coreRow(*core, w.core, *q, dir)
			if err == nil {
				coreRate = grouped(rate)
				ratio = fmt.Sprintf("%.2f", r.perSecond()/rate)
			}
		}
		os.RemoveAll(dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s FAILED: %v\n", w.name, err)
			rows = append(rows, fmt.Sprintf("| %s | %s | FAILED | | | | |", w.name, w.what))
			failed = true
			continue
		}
		row := fmt.Sprintf("| %s | %s | %s | %d | %d | %s | %s |", w.name, w.what, grouped(r.perSecond()),
			r.percentile(0.5).Microseconds(), r.percentile(0.99).Microseconds(), coreRate, ratio)
		fmt.Println(row)
		rows = append(rows, row)
	}
	var head, crossing float64
	var err error
	if *overhead {
		head, crossing, err = callOverhead(*base)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: call overhead:", err)
		failed = true
	}
	var out strings.Builder
	fmt.Fprintf(&out, "Go SDK %s, %s, GOMAXPROCS %d, %s\n\n", graveyard.Version(), runtime.Version(), runtime.GOMAXPROCS(0),
		map[bool]string{true: "quick sizes", false: "full sizes"}[*q])
	out.WriteString("| workload | what | Go SDK events/s | p50 µs | p99 µs | Rust core events/s | SDK ÷ core |\n|---|---|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		out.WriteString(r + "\n")
	}
	if *overhead {
		fmt.Fprintf(&out, "\nOne call through the SDK (HeadPosition, embedded): %.0f ns; of which the cgo crossing alone (Version): %.0f ns.\n", head, crossing)
	}
	fmt.Print("\n" + out.String())
	if *markdown != "" {
		if err := os.WriteFile(*markdown, []byte(out.String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}
