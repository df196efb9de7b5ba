package graveyard_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// conformanceTimeout bounds one run of the runner: a run that hangs (a deadlock in the binding)
// fails instead of stalling the build.
const conformanceTimeout = 10 * time.Minute

// TestConformance runs the language-neutral scenarios of ../conformance/*.json through the Go
// SDK: the shared runner, graveyard-conformance (the one parser and matcher of every SDK), drives
// the executor of internal/conformance/executor over the protocol of conformance/README.md,
// twice: on embedded stores (Open), then on one real node per scenario (Connect; a failure when
// the server binary is not built, unless GRAVEYARD_ALLOW_SKIPS=1). Each run fails with the
// runner's report of every failing step.
//
// CONFORMANCE_FILTER=<text> runs only the files whose name holds the text. The runner and the
// server are looked for in $CARGO_TARGET_DIR/release (relative to the repository's root when
// relative; default ../target).
func TestConformance(t *testing.T) {
	sdk, err := os.Getwd() // go test runs in the package's directory: sdk-go
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Dir(sdk)
	release := filepath.Join(targetDir(repo), "release")
	runner := filepath.Join(release, "graveyard-conformance")
	if !isExecutable(runner) {
		t.Fatalf("the conformance runner %s is not built: cargo build --release -p graveyard-conformance", runner)
	}

	// go test caches a passing result against the files this process opens or stats; the
	// runner reads the scenarios and go build reads the executor, so stat them here: a changed
	// scenario or executor then runs the test again.
	inputs := []string{
		filepath.Join(repo, "conformance", "*.json"),
		filepath.Join(sdk, "internal", "conformance", "executor", "*.go"),
	}
	for _, pattern := range inputs {
		files, err := filepath.Glob(pattern)
		if err != nil || len(files) == 0 {
			t.Fatalf("no file matches %s (%v)", pattern, err)
		}
		for _, f := range files {
			if _, err := os.Stat(f); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Built once for both runs. go test puts its own go first on PATH.
	executor := filepath.Join(t.TempDir(), "executor")
	build := exec.Command("go", "build", "-o", executor, "./internal/conformance/executor")
	build.Dir = sdk
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cannot build the executor: %v\n%s", err, out)
	}

	t.Run("embedded", func(t *testing.T) {
		runConformance(t, runner, filepath.Join(repo, "conformance"), executor)
	})
	t.Run("node", func(t *testing.T) {
		server := serverBinary(t)
		runConformance(t, runner, filepath.Join(repo, "conformance"), executor, "--node", "--server", server)
	})
}

// runConformance runs the runner over the executor started with args; it fails with the
// runner's report unless every step passed.
func runConformance(t *testing.T, runner, scenarios string, executor ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), conformanceTimeout)
	defer cancel()
	if deadline, ok := t.Deadline(); ok {
		// Fail with the report before go test's own timeout kills the test binary without it.
		var stop context.CancelFunc
		ctx, stop = context.WithDeadline(ctx, deadline.Add(-10*time.Second))
		defer stop()
	}
	args := []string{"--exec", shellQuote(executor)}
	if filter := os.Getenv("CONFORMANCE_FILTER"); filter != "" {
		args = append(args, "--filter", filter)
	}
	args = append(args, scenarios)

	var report, logs bytes.Buffer
	cmd := exec.CommandContext(ctx, runner, args...)
	cmd.Stdout, cmd.Stderr = &report, &logs
	// Once the runner is killed, its executor sees the end of its stdin and stops its node; do
	// not wait for ever on a descendant that still holds the pipes.
	cmd.WaitDelay = 10 * time.Second
	started := time.Now()
	err := cmd.Run()
	elapsed := time.Since(started).Round(time.Millisecond)

	if logs.Len() > 0 {
		t.Logf("stderr of the runner and the executor:\n%s", logs.String())
	}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("the conformance run did not finish within %s:\n%s", conformanceTimeout, report.String())
	case errors.As(err, &exit):
		t.Fatalf("conformance failures through the Go SDK (%s, exit status %d, %s):\n%s",
			t.Name(), exit.ExitCode(), elapsed, report.String())
	case err != nil:
		t.Fatalf("cannot run %s: %v", runner, err)
	}
	t.Logf("%s(%s)", report.String(), elapsed)
}

// targetDir is Cargo's target directory: $CARGO_TARGET_DIR (relative to the repository's root
// when relative), else <repo>/target.
func targetDir(repo string) string {
	dir := os.Getenv("CARGO_TARGET_DIR")
	switch {
	case dir == "":
		return filepath.Join(repo, "target")
	case filepath.IsAbs(dir):
		return dir
	default:
		return filepath.Join(repo, dir)
	}
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0
}

// shellQuote joins words for `sh -c`, which the runner starts the executor with.
func shellQuote(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}
