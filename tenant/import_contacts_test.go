package tenant

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"atrium/store"
)

// writeContactsCSV writes a CSV of n new contacts and returns its path.
func writeContactsCSV(tb testing.TB, dir string, n int) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("first_name,last_name,email,company\n")
	for i := range n {
		fmt.Fprintf(&b, "P%d,Person,p%d@example.com,Company %d\n", i, i, i%500)
	}
	path := filepath.Join(dir, "contacts.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func contactCount(tb testing.TB, m *Manager, id string) int {
	tb.Helper()
	l, err := m.Acquire(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Release()
	n, err := store.CountContacts(context.Background(), l.DB, store.ContactFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func TestContactImport_RunsAsAJob(t *testing.T) {
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	w := mustCreate(t, m, "A")
	path := writeContactsCSV(t, t.TempDir(), 300)
	id, err := m.StartContactImport(ctx, ContactImport{JobID: "imp1", WorkspaceID: w.ID, Actor: store.Actor{Kind: "system", ID: "test"},
		Path: path, Header: []string{"first_name", "last_name", "email", "company"}, Rows: 300})
	if err != nil {
		t.Fatal(err)
	}
	j, err := m.WaitJob(ctx, w.ID, id)
	if err != nil || j.State != store.JobDone || j.Progress != 300 || j.Result != `{"read":300,"created":300,"updated":0,"skipped":0,"failed":0}` {
		t.Fatalf("%+v, %v", j, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("the upload was not removed")
	}
	if n := contactCount(t, m, w.ID); n != 300 {
		t.Fatalf("%d contacts", n)
	}
	// The report, with the workspace's data, is in the workspace's file.
	l, err := m.Acquire(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	var rep ContactImportReport
	if err := store.JobReport(ctx, l.DB, id, &rep); err != nil || rep.Result.Created != 300 || len(rep.Header) != 4 {
		t.Fatalf("report %+v, %v", rep, err)
	}
}

// A kill -9 in the middle of an import leaves no half-visible rows, and
// the job says it was interrupted.
func TestContactImport_KilledMidImport(t *testing.T) {
	if dir := os.Getenv("ATRIUM_TEST_KILL_IMPORT"); dir != "" {
		killedMidImport(t, dir, os.Getenv("ATRIUM_TEST_WORKSPACE"))
		return
	}
	dir := t.TempDir()
	m := mustOpenManagerAt(t, dir, 0)
	w := mustCreate(t, m, "A")
	path, err := m.FilePath(w)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestContactImport_KilledMidImport$")
	cmd.Env = append(os.Environ(), "ATRIUM_TEST_KILL_IMPORT="+dir, "ATRIUM_TEST_WORKSPACE="+w.ID)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the importer did not die by SIGKILL: %v\n%s", err, out)
	}
	// Batches were committed: the file holds them and their undo log,
	// which opening the workspace carries out.
	db, err := store.Open(path, store.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	left, err := store.HasImportUndo(context.Background(), db)
	db.Close()
	if err != nil || !left {
		t.Fatalf("no undo log after the kill (%v): the import was killed before its first batch committed", err)
	}
	m = mustOpenManagerAt(t, dir, 0)
	j, err := m.Job(context.Background(), w.ID, "killed")
	if err != nil || j.State != store.JobInterrupted || j.Error != interruptedMessage || j.Progress == 0 {
		t.Fatalf("job after the kill: %+v, %v", j, err)
	}
	if n := contactCount(t, m, w.ID); n != 0 {
		t.Fatalf("%d contacts of the interrupted import are visible", n)
	}
}

// killedMidImport, in a child process, starts a large import and kills the
// process once the job recorded some progress.
func killedMidImport(t *testing.T, dir, workspaceID string) {
	ctx := context.Background()
	m, err := Open(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	path := writeContactsCSV(t, t.TempDir(), 200_000)
	if _, err := m.StartContactImport(ctx, ContactImport{JobID: "killed", WorkspaceID: workspaceID, Actor: store.Actor{Kind: "system", ID: "test"},
		Path: path, Rows: 200_000}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		// Past two batches of store.importBatchRows.
		if j, err := m.Job(ctx, workspaceID, "killed"); err == nil && j.Progress > 12_000 {
			if j.Finished() {
				t.Fatal("the import finished before the kill")
			}
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the import recorded no progress")
}

// An import's owner column names members by email or user id, through the
// catalog; a row naming someone who is not a member of this workspace (a
// member of another one, here) is refused and counted once.
func TestContactImport_Owners(t *testing.T) {
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	w, other := mustCreate(t, m, "A"), mustCreate(t, m, "B")
	users := map[string]*store.User{}
	for email, ws := range map[string][2]string{"ana@example.com": {w.ID, "Ana Silva"}, "bo@example.com": {w.ID, "Bo Berg"},
		"dee@example.com": {w.ID, "Bo Berg"}, "cy@example.com": {other.ID, "Cy Other"}} {
		u, err := store.CreateUser(ctx, m.Catalog(), store.NewUser{Email: email, Name: ws[1], Password: "correct horse battery", Verified: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.AddMember(ctx, m.Catalog().W, u.ID, ws[0], "member"); err != nil {
			t.Fatal(err)
		}
		users[email] = u
	}
	// By email, user id or name; a member of another workspace, or a name
	// two members share, is no owner here.
	csv := "email,owner\np1@example.com,ANA@example.com\np2@example.com," + users["bo@example.com"].ID +
		"\np3@example.com,cy@example.com\np4@example.com,ana silva\np5@example.com,Cy Other\np6@example.com,Bo Berg\n"
	path := filepath.Join(t.TempDir(), "owners.csv")
	if err := os.WriteFile(path, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := m.StartContactImport(ctx, ContactImport{JobID: "imp-owners", WorkspaceID: w.ID, Actor: store.Actor{Kind: "system", ID: "test"},
		Path: path, Header: []string{"email", "owner"}, Rows: 6})
	if err != nil {
		t.Fatal(err)
	}
	j, err := m.WaitJob(ctx, w.ID, id)
	if err != nil || j.Result != `{"read":6,"created":6,"updated":0,"skipped":0,"failed":0}` {
		t.Fatalf("%+v, %v", j, err)
	}
	l, err := m.Acquire(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	list, _, err := store.ListContacts(ctx, l.DB, store.ContactFilter{})
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]string{}
	for _, c := range list {
		owners[c.Email] = c.OwnerID
	}
	ana, bo := users["ana@example.com"].ID, users["bo@example.com"].ID
	if owners["p1@example.com"] != ana || owners["p2@example.com"] != bo || owners["p4@example.com"] != ana ||
		owners["p3@example.com"] != "" || owners["p5@example.com"] != "" || owners["p6@example.com"] != "" {
		t.Fatalf("owners %v", owners)
	}
	var rep ContactImportReport
	if err := store.JobReport(ctx, l.DB, id, &rep); err != nil || rep.Result.OwnersMatched != 2 ||
		fmt.Sprint(rep.Result.UnmatchedOwners) != "[{cy@example.com 1} {Cy Other 1} {Bo Berg 1}]" {
		t.Fatalf("report %+v, %v", rep.Result, err)
	}
}
