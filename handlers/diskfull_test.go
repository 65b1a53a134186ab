package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"atrium/store"
	"atrium/tenant"
)

// Below the disk's reserve, heavy work is refused with 507 and a message
// saying why; everyday writes go on.
func TestDiskReserve_RefusesHeavyWork(t *testing.T) {
	huge := int64(1 << 40) // a reserve no disk here has free
	ts := newTestServerWith(t, tenant.Options{Config: &tenant.Config{DiskReserveMB: &huge}})
	a := ts.mustAPIWorkspace(t, "Acme", "Acme")

	r := ts.api(t, a.key, "GET", "/api/v1/export", "")
	wantAPIError(t, "export below the reserve", r, http.StatusInsufficientStorage, "storage_full", "")
	if !strings.Contains(r.body, "low on disk space") {
		t.Errorf("the refusal does not say why: %s", r.body)
	}
	ts.mustCreate(t, a.key, "/api/v1/contacts", `{"email":"still@example.com"}`)

	ts.mustUser(t, "ana@example.com", false)
	c := ts.mustUserInWorkspace(t, a.id, "ana@example.com")
	tok := c.workspaceToken(a.id)
	r = c.postFile("/w/"+a.id+"/contacts/import", tok, "people.csv", "email\nx@example.com\n")
	wantStatus(t, "upload", r, http.StatusSeeOther)
	r = c.post(r.header.Get("Location"), tok, url.Values{"map_0": {"email"}})
	wantStatus(t, "start of an import below the reserve", r, http.StatusInsufficientStorage)
	if !strings.Contains(r.body, "low on disk space") {
		t.Errorf("the page does not say why: %s", mainOf(r.body))
	}
	ts.mustUser(t, "root@example.com", true)
	if page := ts.loggedIn(t, "root@example.com").get("/admin"); !strings.Contains(page.body, "low: imports, exports, restores and moves wait") {
		t.Errorf("the console does not show the low disk: %s", mainOf(page.body))
	}
}

// mountTmpfs mounts a small tmpfs for the test, or skips it: only root
// may, as in CI.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("filling a disk needs a tmpfs, which only root can mount; run as root (as CI does) to test a full disk")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); a full disk is tested where one can be mounted", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fillDisk writes a file in dir until the disk is full and returns it.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatal(err)
		}
	}
}

// A full disk: writes answer 507 with a clear message through the API and
// the UI and lose nothing; an import is undone whole; every file stays
// sound; once space is freed, writes work again without a restart and the
// replica catches up.
func TestDiskFull_ClearErrorNothingHalfDone(t *testing.T) {
	disk := mountTmpfs(t, "24m")
	none := int64(0)
	replicas := t.TempDir() // on another disk
	cfg := &tenant.Config{DiskReserveMB: &none, Regions: map[string]*tenant.Region{
		"default": {Replica: &tenant.ReplicaConfig{URL: "file://" + replicas}}}}
	ts := newTestServerWith(t, tenant.Options{DataDir: disk, Config: cfg, SyncInterval: 100 * time.Millisecond})
	a := ts.mustAPIWorkspace(t, "Acme", "Acme")
	ts.mustUser(t, "ana@example.com", false)
	c := ts.mustUserInWorkspace(t, a.id, "ana@example.com")
	tok := c.workspaceToken(a.id)
	count := func() int {
		l, err := ts.tenants.Acquire(context.Background(), a.id)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		n, err := store.CountContacts(context.Background(), l.DB, store.ContactFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()

	filler := fillDisk(t, disk)
	// The WAL may hold a few more notes in space it had; a disk this full
	// takes few.
	var full response
	for range 2000 {
		full = ts.api(t, a.key, "POST", "/api/v1/notes", `{"contact_id":"`+a.contact+`","body":"`+strings.Repeat("x", store.MaxNoteLength)+`"}`)
		if full.status != http.StatusCreated {
			break
		}
	}
	wantAPIError(t, "a write on a full disk", full, http.StatusInsufficientStorage, "storage_full", "")
	if !strings.Contains(full.body, "run out of disk space") {
		t.Errorf("the API does not say the disk is full: %s", full.body)
	}
	afterFull := count()
	r := ts.apiRaw(t, "Bearer "+a.key, "POST", "/api/v1/contacts/import", strings.NewReader("email\n"+manyRows(3000)))
	wantAPIError(t, "an import on a full disk", r, http.StatusInsufficientStorage, "storage_full", "")
	if n := count(); n != afterFull {
		t.Errorf("the refused import left %d contacts", n-afterFull)
	}
	r = c.post("/w/"+a.id+"/contacts", tok, url.Values{"first_name": {"Zoe"}, "email": {"zoe@example.com"}, "stage": {"lead"}})
	wantStatus(t, "the form on a full disk", r, http.StatusInsufficientStorage)
	if !strings.Contains(r.body, "nothing of this change was saved") || !strings.Contains(r.body, "zoe@example.com") {
		t.Errorf("the form does not say the disk is full and keep the values: %s", mainOf(r.body))
	}

	r = c.postFile("/w/"+a.id+"/contacts/import", tok, "people.csv", "email\n"+manyRows(20000))
	wantStatus(t, "an upload on a full disk", r, http.StatusInsufficientStorage)
	if left, _ := filepath.Glob(filepath.Join(disk, ".import-*")); len(left) != 0 {
		t.Errorf("a refused upload left %v", left)
	}

	os.Remove(filler)
	ts.mustCreate(t, a.key, "/api/v1/contacts", `{"email":"after@example.com"}`)
	if n := count(); n <= before {
		t.Errorf("contacts after freeing space = %d, before = %d", n, before)
	}
	l, err := ts.tenants.Acquire(context.Background(), a.id)
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range []*store.DB{l.DB, ts.tenants.Catalog().DB} {
		if err := db.IntegrityCheck(context.Background()); err != nil {
			t.Error(err)
		}
	}
	l.Release()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := ts.tenants.WorkspaceBackupStatus(context.Background(), a.id)
		if err == nil && st.LocalTXID > 0 && st.ReplicatedTXID == st.LocalTXID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not catch up after space was freed: %+v, %v", st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func manyRows(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("bulk" + strconv.Itoa(i) + "@example.com\n")
	}
	return b.String()
}
