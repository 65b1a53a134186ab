package tenant

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Heavy work for a request waits for the workspace's job slot, and gives
// up when the request does.
func TestRunHeavy_SharesTheJobSlots(t *testing.T) {
	m := mustOpenJobManager(t, t.TempDir(), Options{MaxJobs: 2, MaxJobsPerWorkspace: 1})
	w := mustCreate(t, m, "Acme")
	release := make(chan struct{})
	running := make(chan struct{})
	mustStartJob(t, m, JobSpec{Kind: "test", WorkspaceID: w.ID, Run: func(ctx context.Context, run *JobRun) (any, error) {
		close(running)
		<-release
		return nil, nil
	}})
	<-running
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	ran := false
	err := m.RunHeavy(ctx, w.ID, "test", func() error { ran = true; return nil })
	if !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Fatalf("heavy work beside a job of the same workspace: ran %v, %v", ran, err)
	}
	// Another workspace has its own slot.
	other := mustCreate(t, m, "Globex")
	if err := m.RunHeavy(context.Background(), other.ID, "test", func() error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("heavy work of another workspace: ran %v, %v", ran, err)
	}
	close(release)
	ran = false
	if err := m.RunHeavy(context.Background(), w.ID, "test", func() error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("heavy work once the job ended: ran %v, %v", ran, err)
	}
}

// An export streams to its writer in many writes as it is built, and
// leaves nothing in the data directory.
func TestExportTo_StreamsAndLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	m := mustOpenJobManager(t, dir, Options{})
	w := mustCreate(t, m, "Acme")
	mustExec(t, m, w.ID, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
		INSERT INTO contacts (id, first_name, email, created_at, updated_at) SELECT 'c' || i, 'Person ' || i, 'p' || i || '@example.com', 0, 0 FROM n`)
	l, err := m.Acquire(context.Background(), w.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	out := &countedWrites{}
	manifest, err := m.ExportTo(context.Background(), l, out, "")
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".export-*")); len(left) != 0 {
		t.Errorf("left in the data directory: %v", left)
	}
	if out.writes < 10 {
		t.Errorf("the archive came in %d writes: not streamed", out.writes)
	}
	zr, err := zip.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range zr.File {
		names = append(names, e.Name)
		rc, err := e.Open()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil { // checks the CRC
			t.Fatalf("%s: %v", e.Name, err)
		}
		rc.Close()
	}
	if got := strings.Join(names, " "); !strings.Contains(got, "manifest.json") || !strings.Contains(got, "workspace.db") || manifest.Workspace.ID != w.ID ||
		manifest.Counts["contacts"] != 3000 {
		t.Errorf("archive holds %s; manifest %+v", got, manifest)
	}
}

// countedWrites keeps what is written and counts the writes.
type countedWrites struct {
	bytes.Buffer
	writes int
}

func (c *countedWrites) Write(p []byte) (int, error) { c.writes++; return c.Buffer.Write(p) }
