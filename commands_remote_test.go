package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"atrium/store"
)

func TestMain(m *testing.M) {
	// Password hashing at the production cost would dominate these tests
	// under the race detector; the cost is not what they test.
	store.PasswordCost = bcrypt.MinCost
	os.Exit(m.Run())
}

// MustServe opens dataDir as `atrium serve` does and takes commands on its
// socket from the callers allow admits, until the test ends.
func MustServe(tb testing.TB, dataDir string, allow func(uid int) bool) *Main {
	tb.Helper()
	m := NewMain(strings.NewReader(""), io.Discard, io.Discard)
	m.DataDir = dataDir
	if err := m.open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	cli, err := listenCLI(m.Manager, m.Logger, allow)
	if err != nil {
		m.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cli.Close()
		if err := m.Close(); err != nil {
			tb.Error(err)
		}
	})
	return m
}

// runCLI runs a command line as the atrium binary does, in this process.
func runCLI(stdin string, args ...string) (stdout, stderr string, status int) {
	var out, errb bytes.Buffer
	status = run(args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), status
}

// sendRaw sends args and stdin to the server on dataDir as they are, as a
// caller that does not play by the CLI's rules could. (Commands run
// concurrently in one test process go this way: run's Open sets limits
// that are process-wide, which in the CLI are a process's own.)
func sendRaw(tb testing.TB, dataDir, stdin string, args ...string) (stdout, stderr string, status int) {
	tb.Helper()
	conn, err := dialServer(dataDir)
	if err != nil {
		tb.Fatal(err)
	}
	var out, errb bytes.Buffer
	status = (&serverRunningError{conn: conn, dataDir: dataDir}).forward(args, []byte(stdin), &out, &errb)
	return out.String(), errb.String(), status
}

func TestCLI_Concurrent(t *testing.T) {
	dir := t.TempDir()
	srv := MustServe(t, dir, sameUser)
	ctx := context.Background()

	// Users with a password each (stdin), workspaces, and lists in both
	// formats, at once: each connection's flags, stdin and output are its
	// own.
	const n = 18
	type result struct{ stdout, stderr string }
	results := make([]result, n)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var out, errb string
			switch i % 3 {
			case 0:
				out, errb, statuses[i] = sendRaw(t, dir, fmt.Sprintf("password number %d\n", i), "user", "create", "--email", fmt.Sprintf("u%d@example.com", i))
			case 1:
				out, errb, statuses[i] = sendRaw(t, dir, "", "workspace", "create", "--name", fmt.Sprintf("W%d", i))
			case 2:
				args := []string{"workspace", "list"}
				if i%2 == 0 {
					args = append(args, "--json")
				}
				out, errb, statuses[i] = sendRaw(t, dir, "", args...)
			}
			results[i] = result{out, errb}
		})
	}
	wg.Wait()

	for i, r := range results {
		if statuses[i] != 0 {
			t.Fatalf("command %d: status %d, stderr %q", i, statuses[i], r.stderr)
		}
		switch i % 3 {
		case 0:
			email, password := fmt.Sprintf("u%d@example.com", i), fmt.Sprintf("password number %d", i)
			u, err := store.Authenticate(ctx, srv.Manager.Catalog(), email, password)
			if err != nil {
				t.Fatalf("user %s with its own password: %v", email, err)
			}
			if got, want := r.stdout, u.ID+"\n"; got != want {
				t.Errorf("user create printed %q, want %q", got, want)
			}
		case 1:
			id := strings.TrimSpace(r.stdout)
			w, err := srv.Manager.Workspace(ctx, id)
			if err != nil {
				t.Fatalf("workspace create printed %q: %v", r.stdout, err)
			}
			if got, want := w.Name, fmt.Sprintf("W%d", i); got != want {
				t.Errorf("workspace %s is named %q, want %q", id, got, want)
			}
		case 2:
			var list []map[string]any
			isJSON := json.Unmarshal([]byte(r.stdout), &list) == nil
			if want := i%2 == 0; isJSON != want {
				t.Errorf("workspace list %d printed JSON %v, want %v: %q", i, isJSON, want, r.stdout)
			}
			if !isJSON && !strings.HasPrefix(r.stdout, "ID ") {
				t.Errorf("workspace list printed %q, want a table", r.stdout)
			}
		}
	}
	// Each command's Main closed; the server's Manager is still open.
	infos, err := srv.Manager.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(infos), n/3; got != want {
		t.Errorf("%d workspaces, want %d", got, want)
	}
}

func TestCLI_RefusesOtherUsers(t *testing.T) {
	dir := t.TempDir()
	var seen atomic.Int64
	seen.Store(-1)
	srv := MustServe(t, dir, func(uid int) bool {
		seen.Store(int64(uid))
		return false // as if the caller were another user
	})

	stdout, stderr, status := runCLI("", "--data", dir, "workspace", "create", "--name", "Intruder")
	if status != 1 {
		t.Errorf("status %d, want 1", status)
	}
	if stdout != "" || !strings.Contains(stderr, "takes commands only from its own user") {
		t.Errorf("stdout %q, stderr %q: want a refusal naming the users", stdout, stderr)
	}
	if got, want := seen.Load(), int64(os.Getuid()); got != want {
		t.Errorf("the check saw uid %d, want the caller's %d", got, want)
	}
	if infos, err := srv.Manager.List(context.Background()); err != nil || len(infos) != 0 {
		t.Errorf("workspaces after a refusal: %v, %v", infos, err)
	}
}

// A caller cannot point the server at another data directory or
// configuration, nor make it serve or restore-all; usage errors come back
// with status 2 and the sentence a direct run prints.
func TestCLI_ServerKeepsItsOwnSettings(t *testing.T) {
	dir, elsewhere := t.TempDir(), filepath.Join(t.TempDir(), "elsewhere")
	srv := MustServe(t, dir, sameUser)

	stdout, stderr, status := sendRaw(t, dir, "", "--data", elsewhere, "--config", "/nonexistent.yml", "workspace", "create", "--name", "Z")
	if status != 0 {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	if _, err := srv.Manager.Workspace(context.Background(), strings.TrimSpace(stdout)); err != nil {
		t.Errorf("the workspace is not the server's: %v", err)
	}
	if _, err := os.Stat(elsewhere); !os.IsNotExist(err) {
		t.Errorf("%s was touched: %v", elsewhere, err)
	}

	for _, cmd := range []string{"serve", "restore-all"} {
		_, stderr, status := sendRaw(t, dir, "", cmd)
		if status != 1 || !strings.Contains(stderr, "running on the data directory "+srv.Manager.DataDir()) {
			t.Errorf("%s: status %d, stderr %q", cmd, status, stderr)
		}
	}

	_, direct, directStatus := runCLI("", "workspace", "frob")
	_, remote, remoteStatus := sendRaw(t, dir, "", "workspace", "frob")
	if remote != direct || remoteStatus != 2 || directStatus != 2 {
		t.Errorf("remote: %d %q; direct: %d %q", remoteStatus, remote, directStatus, direct)
	}
}

// With the lock held and no socket answering, a command says the data
// directory is in use, as it did before the socket existed.
func TestCLI_LockedWithoutServer(t *testing.T) {
	dir := t.TempDir()
	m := NewMain(strings.NewReader(""), io.Discard, io.Discard)
	m.DataDir = dir
	if err := m.open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	_, stderr, status := runCLI("", "--data", dir, "workspace", "list")
	if status != 1 || !strings.Contains(stderr, "nother atrium process is using the data directory") {
		t.Errorf("status %d, stderr %q", status, stderr)
	}
}

// A data directory too deep for a socket address still takes commands.
func TestCLI_LongDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 120))
	MustServe(t, dir, sameUser)

	stdout, stderr, status := runCLI("", "--data", dir, "workspace", "list", "--json")
	if status != 0 || strings.TrimSpace(stdout) != "[]" {
		t.Errorf("status %d, stdout %q, stderr %q", status, stdout, stderr)
	}
}

// The restore and move commands wait for the full integrity check of the
// restored file, which runs after them as a job, and say how it went.
func TestCLI_RestoreWaitsForFullCheck(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, status := runCLI("", "--data", dir, "workspace", "create", "--name", "Acme")
	if status != 0 {
		t.Fatalf("create: status %d, stderr %q", status, stderr)
	}
	id := strings.TrimSpace(stdout)
	stdout, stderr, status = runCLI("", "--data", dir, "workspace", "restore", "--as-new", "Copy", id)
	copied := strings.TrimSpace(stdout)
	if status != 0 || copied == "" || copied == id || !strings.Contains(stderr, "workspace "+copied+" passed its full integrity check") {
		t.Fatalf("restore: status %d, stdout %q, stderr %q", status, stdout, stderr)
	}
}
