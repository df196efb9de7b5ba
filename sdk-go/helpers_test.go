package graveyard_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	graveyard "github.com/graveyard-db/graveyard/sdk-go"
)

// wait bounds every wait of a test: nothing in these tests takes that long, so a call that does
// is a hang, reported as an error instead of a stuck test binary.
const wait = 30 * time.Second

// testCtx is a context that ends with the test (or after wait).
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// openStore opens a throwaway embedded store (no fsync) in a fresh directory, closed with the
// test.
func openStore(t testing.TB, opts ...graveyard.OpenOption) *graveyard.Client {
	t.Helper()
	return openAt(t, t.TempDir(), opts...)
}

func openAt(t testing.TB, dir string, opts ...graveyard.OpenOption) *graveyard.Client {
	t.Helper()
	c, err := graveyard.Open(dir, append([]graveyard.OpenOption{graveyard.WithoutFsync()}, opts...)...)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ev is a JSON event of type typ.
func ev(typ, data string) graveyard.EventData {
	return graveyard.EventData{Type: typ, ContentType: "application/json", Data: []byte(data)}
}

// numbered is n JSON events {"n":i}, of type typ.
func numbered(typ string, n int) []graveyard.EventData {
	events := make([]graveyard.EventData, n)
	for i := range events {
		events[i] = ev(typ, fmt.Sprintf(`{"n":%d}`, i))
	}
	return events
}

func mustAppend(t testing.TB, c *graveyard.Client, stream string, expected graveyard.ExpectedVersion, events ...graveyard.EventData) graveyard.AppendResult {
	t.Helper()
	r, err := c.Append(testCtx(t), stream, expected, events...)
	if err != nil {
		t.Fatalf("Append(%s): %v", stream, err)
	}
	return r
}

// collect drains an iterator; the first error fails the test.
func collect(t testing.TB, seq func(func(*graveyard.RecordedEvent, error) bool)) []*graveyard.RecordedEvent {
	t.Helper()
	var out []*graveyard.RecordedEvent
	for e, err := range seq {
		if err != nil {
			t.Fatalf("iterating: %v", err)
		}
		out = append(out, e)
	}
	return out
}

func revisions(events []*graveyard.RecordedEvent) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.Revision
	}
	return out
}

func pageRevisions(events []graveyard.RecordedEvent) []uint64 {
	out := make([]uint64, len(events))
	for i := range events {
		out[i] = events[i].Revision
	}
	return out
}

func seq(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// wantCode fails the test unless err is an *Error of code (errors.Is and errors.As agree).
func wantCode(t testing.TB, err error, code graveyard.Code) *graveyard.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	var e *graveyard.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *graveyard.Error, want %s", err, err, code)
	}
	if e.Code != code || !errors.Is(err, code) {
		t.Fatalf("error %v has code %s, want %s", err, e.Code, code)
	}
	return e
}

// goroutineBaseline is the number of goroutines once it stopped changing (for a bounded while).
func goroutineBaseline() int {
	runtime.GC()
	n, stable := runtime.NumGoroutine(), 0
	for i := 0; i < 100 && stable < 3; i++ {
		time.Sleep(5 * time.Millisecond)
		if m := runtime.NumGoroutine(); m == n {
			stable++
		} else {
			n, stable = m, 0
		}
	}
	return n
}

// settleGoroutines waits (a bounded while) until at most want goroutines run, and returns the
// count it saw last: goroutines of finished calls take a moment to exit.
func settleGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 200 && n > want; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// ---- real nodes ---------------------------------------------------------------------------------

// missing stops a test that needs something not built: a failure, since a skipped test proves
// nothing, unless GRAVEYARD_ALLOW_SKIPS=1 asks for a partial run.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("GRAVEYARD_ALLOW_SKIPS") == "1" {
		t.Skipf(format, args...)
	}
	t.Fatalf(format+" (GRAVEYARD_ALLOW_SKIPS=1 skips the test instead)", args...)
}

// serverBinary is the node binary of the workspace build, target/release/graveyard under
// CARGO_TARGET_DIR (relative to the repository root, the parent of sdk-go) or ../target; the
// test fails (see missing) when it is not built.
func serverBinary(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(targetDir(root), "release", "graveyard")
	if !isExecutable(bin) {
		missing(t, "the node binary %s is not built (cargo build --release -p graveyard-server --bin graveyard): "+
			"the tests of real nodes need it", bin)
	}
	return bin
}

// node is one `graveyard serve` process on a loopback port, killed with the test.
type node struct {
	id   string
	port int
	dir  string
	args []string
	bin  string
	// token: the bearer token the node requires (--token-file), sent by the readiness probe.
	token  string
	cmd    *exec.Cmd
	exited chan struct{}
}

func (n *node) url() string { return "http://127.0.0.1:" + strconv.Itoa(n.port) }

func (n *node) log() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "node.log"))
	if len(b) > 4000 {
		b = append([]byte("..."), b[len(b)-4000:]...)
	}
	return string(b)
}

func (n *node) start() error {
	logFile, err := os.OpenFile(filepath.Join(n.dir, "node.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := append([]string{"serve", "--listen", "127.0.0.1:" + strconv.Itoa(n.port),
		"--data", filepath.Join(n.dir, "data")}, n.args...)
	cmd := exec.Command(n.bin, args...)
	// The flags are the whole configuration: no GRAVEYARD_* variable of the caller's leaks in.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GRAVEYARD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GRAVEYARD_LOG=info")
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	logFile.Close()
	n.cmd = cmd
	n.exited = make(chan struct{})
	go func() {
		cmd.Wait()
		close(n.exited)
	}()
	return nil
}

// kill kills the process (SIGKILL) and waits for it.
func (n *node) kill() {
	if n.cmd == nil {
		return
	}
	n.cmd.Process.Kill()
	<-n.exited
}

// waitReady waits until the node answers a Connect to it alone; the node's log if it exits or
// never answers.
func (n *node) waitReady() error {
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-n.exited:
			return fmt.Errorf("node %s exited: %s", n.id, n.log())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := graveyard.Connect(ctx, []string{n.url()}, graveyard.WithRetries(0, time.Millisecond),
			graveyard.WithConnectTimeout(time.Second), graveyard.WithToken(n.token))
		cancel()
		if err == nil {
			c.Close()
			return nil
		}
		last = err
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("node %s did not answer within 60s (%v): %s", n.id, last, n.log())
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startNodes starts a cluster of the given member ids (one id: a single node with its default
// members), on free loopback ports, and waits until each answers. Another process may take a
// port between the probe and the node's bind: the whole cluster is then started again.
func startNodes(t testing.TB, ids ...string) []*node {
	t.Helper()
	return startNodesWith(t, nodeOptions{}, ids...)
}

// nodeOptions configures every node of startNodesWith.
type nodeOptions struct {
	// token: the nodes require it (a token file is written for each).
	token string
	// masterKey: the nodes encrypt at rest under it (a key file is written for each).
	masterKey []byte
}

func startNodesWith(t testing.TB, opts nodeOptions, ids ...string) []*node {
	t.Helper()
	bin := serverBinary(t)
	var last error
	for attempt := 0; attempt < 5; attempt++ {
		ports := map[int]bool{}
		nodes := make([]*node, len(ids))
		var members []string
		for i, id := range ids {
			port := freePort(t)
			for ports[port] {
				port = freePort(t)
			}
			ports[port] = true
			nodes[i] = &node{id: id, port: port, dir: t.TempDir(), bin: bin, token: opts.token}
			members = append(members, fmt.Sprintf("%s=127.0.0.1:%d", id, port))
		}
		for _, n := range nodes {
			n.args = []string{"--node-id", n.id}
			if len(ids) > 1 {
				n.args = append(n.args, "--members", strings.Join(members, ","))
			}
			if opts.token != "" {
				file := filepath.Join(n.dir, "token")
				if err := os.WriteFile(file, []byte(opts.token), 0o600); err != nil {
					t.Fatal(err)
				}
				n.args = append(n.args, "--token-file", file)
			}
			if opts.masterKey != nil {
				// Beside, not inside, the node's data directory.
				file := filepath.Join(n.dir, "master.key")
				if err := os.WriteFile(file, opts.masterKey, 0o600); err != nil {
					t.Fatal(err)
				}
				n.args = append(n.args, "--master-key-file", file)
			}
			if err := n.start(); err != nil {
				t.Fatalf("start %s: %v", n.id, err)
			}
			t.Cleanup(n.kill)
		}
		last = nil
		for _, n := range nodes {
			if err := n.waitReady(); err != nil {
				last = err
				break
			}
		}
		if last == nil {
			return nodes
		}
		for _, n := range nodes {
			n.kill()
		}
		if !strings.Contains(last.Error(), "cannot listen") {
			break
		}
	}
	t.Fatalf("the nodes did not start: %v", last)
	return nil
}

func urls(nodes []*node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.url()
	}
	return out
}

// connect connects to nodes, closed with the test; few retries, so a test of a node down is
// quick.
func connect(t testing.TB, nodes []*node, opts ...graveyard.ConnectOption) *graveyard.Client {
	t.Helper()
	opts = append([]graveyard.ConnectOption{graveyard.WithRetries(1, 10*time.Millisecond)}, opts...)
	c, err := graveyard.Connect(testCtx(t), urls(nodes), opts...)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
