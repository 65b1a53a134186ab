package tenant

import (
	"archive/zip"
	"context"
	"errors"
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

// An export is built in a file of the data directory that is gone as soon
// as it is open: nothing is left behind, whatever happens to the download.
func TestExport_ToUnlinkedFile(t *testing.T) {
	dir := t.TempDir()
	m := mustOpenJobManager(t, dir, Options{})
	w := mustCreate(t, m, "Acme")
	l, err := m.Acquire(context.Background(), w.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	f, manifest, err := m.Export(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if left, _ := filepath.Glob(filepath.Join(dir, ".export-*")); len(left) != 0 {
		t.Errorf("left in the data directory: %v", left)
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range zr.File {
		names = append(names, e.Name)
	}
	if got := strings.Join(names, " "); !strings.Contains(got, "manifest.json") || !strings.Contains(got, "workspace.db") || manifest.Workspace.ID != w.ID {
		t.Errorf("archive holds %s; manifest %+v", got, manifest.Workspace)
	}
}
