package tenant

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"atrium/store"
)

// writeChurn has writers create contacts, named after tag, in random
// workspaces of ids until stop closes. With fewer handles and lingering
// registrations than workspaces, files keep leaving replication and coming
// back while they are written. It returns how many writes succeeded.
func writeChurn(tb testing.TB, m *Manager, ids []string, tag string, writers int, stop <-chan struct{}) int64 {
	tb.Helper()
	var n atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := createContact(m, ids[rand.IntN(len(ids))], fmt.Sprintf("%s%d-%d", tag, w, i)); err != nil {
					tb.Error(err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return n.Load()
}

func createContact(m *Manager, id, name string) error {
	ctx := context.Background()
	l, err := m.Acquire(ctx, id)
	if err != nil {
		return err
	}
	defer l.Release()
	email := name + "@example.com"
	_, err = store.CreateContact(ctx, l.DB, store.Actor{Kind: "system"}, store.ContactInput{FirstName: &name, Email: &email})
	return err
}

// assertReplicasRestore restores every workspace of ids from its replica
// into a temporary file, checks its integrity, and compares its contacts
// with the live file's (which nothing writes any more).
func assertReplicasRestore(t *testing.T, m *Manager, ids []string) {
	t.Helper()
	ctx := context.Background()
	failed := 0
	for _, id := range ids {
		w, err := store.GetWorkspace(ctx, m.catalog.R, id)
		if err != nil {
			t.Fatal(err)
		}
		tmp, cleanup, err := m.restoreValidated(ctx, w, time.Time{}, t.TempDir(), false)
		if err != nil {
			failed++
			t.Errorf("workspace %s: %v", id, err)
			continue
		}
		restored, err := store.Open(tmp, store.OpenOptions{Transient: true})
		if err != nil {
			t.Fatal(err)
		}
		got := contactDigest(t, restored)
		restored.Close()
		cleanup()
		l, err := m.Acquire(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := contactDigest(t, l.DB)
		l.Release()
		if got != want {
			failed++
			t.Errorf("workspace %s: restored %s, live %s", id, got, want)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d replicas do not restore to the live file", failed, len(ids))
	}
}

// contactDigest sums up a file's contacts, read from the table itself (not
// an index): how many, and a hash of their ids and names.
func contactDigest(tb testing.TB, db *store.DB) string {
	tb.Helper()
	rows, err := db.R.Query(`SELECT id, first_name FROM contacts NOT INDEXED ORDER BY id`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	h, n := fnv.New64a(), 0
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(h, "%s %s\n", id, name)
		n++
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return fmt.Sprintf("%d contacts (hash %x)", n, h.Sum64())
}

// openChurnManager opens a Manager on dataDir replicating to the directory
// replicas, with a cache of two handles and one lingering registration, so
// that a few busy workspaces keep leaving replication and coming back.
func openChurnManager(tb testing.TB, dataDir, replicas string) *Manager {
	tb.Helper()
	cfg := mustConfig(tb, dataDir, "regions:\n  default:\n    replica:\n      url: file://"+replicas+"\n")
	m, err := Open(context.Background(), Options{DataDir: dataDir, Config: cfg, MaxOpen: 2, MaxLingering: 1,
		JanitorInterval: time.Hour, Logger: testLogger()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// churnWorkspaces opens a churn Manager on dataDir and creates the eight
// workspaces the durability runs write to.
func churnWorkspaces(tb testing.TB, dataDir, replicas string) (*Manager, []string) {
	tb.Helper()
	m := openChurnManager(tb, dataDir, replicas)
	var ids []string
	for range 8 {
		ids = append(ids, mustCreate(tb, m, "W").ID)
	}
	return m, ids
}

// durabilityRun is how long the durability tests write, in each phase.
var durabilityRun = envDuration("ATRIUM_TEST_DURABILITY", 5*time.Second)

// Issue 25, reproduction A: workspaces written while they cycle out of and
// back into replication must still restore from their replicas.
func TestDurability_EvictionChurnUnderWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("a durability run")
	}
	dataDir, replicas := t.TempDir(), filepath.Join(t.TempDir(), "replicas")
	m, ids := churnWorkspaces(t, dataDir, replicas)
	stop := make(chan struct{})
	time.AfterFunc(durabilityRun, func() { close(stop) })
	n := writeChurn(t, m, ids, "w", 4, stop)
	t.Logf("%d writes", n)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	assertReplicasRestore(t, openChurnManager(t, dataDir, replicas), ids)
}

// Issue 25, reproduction B: workspaces being written when the process dies
// (SIGKILL, as an OOM kill or a power cut), and written again after the
// restart, must still restore from their replicas. The child process
// writes until it kills itself; the parent restarts on the same data
// directory and writes again. (With the default cache bounds the same
// failure showed in two runs of three: a restart registers every
// workspace, and those beyond the lingering bound come back on their next
// write. The small cache makes it show every time.)
func TestDurability_KilledMidWritesThenWrittenAgain(t *testing.T) {
	if dir := os.Getenv("ATRIUM_TEST_KILL_WRITES"); dir != "" {
		m := openChurnManager(t, dir, os.Getenv("ATRIUM_TEST_REPLICAS"))
		ids := strings.Split(os.Getenv("ATRIUM_TEST_IDS"), ",")
		time.AfterFunc(durabilityRun, func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) })
		writeChurn(t, m, ids, "before", 4, nil)
		t.Fatal("still alive")
	}
	if testing.Short() {
		t.Skip("a durability run")
	}
	dataDir, replicas := t.TempDir(), filepath.Join(t.TempDir(), "replicas")
	m, ids := churnWorkspaces(t, dataDir, replicas)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestDurability_KilledMidWritesThenWrittenAgain$")
	cmd.Env = append(os.Environ(), "ATRIUM_TEST_KILL_WRITES="+dataDir, "ATRIUM_TEST_REPLICAS="+replicas, "ATRIUM_TEST_IDS="+strings.Join(ids, ","))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the writer did not die by SIGKILL: %v\n%s", err, out)
	}

	var atCrash []string // being replicated when the writer died
	for _, name := range registeredAtLastStop(filepath.Join(dataDir, registeredList)) {
		if id, err := ParseID(strings.TrimSuffix(name, ".db")); err == nil {
			atCrash = append(atCrash, id)
		}
	}
	if len(atCrash) == 0 {
		t.Fatal("no workspace was registered when the writer died")
	}

	m = openChurnManager(t, dataDir, replicas)
	stop := make(chan struct{})
	time.AfterFunc(durabilityRun, func() { close(stop) })
	writeChurn(t, m, ids, "after", 4, stop)
	// The restart queued a verification of each workspace registered at
	// the crash.
	waitVerified(t, m, atCrash...)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = openChurnManager(t, dataDir, replicas)
	assertReplicasRestore(t, m, ids)
}
