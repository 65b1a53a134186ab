package tenant

import (
	"context"
	"os"
	"runtime"
	"strings"
	"testing"

	"atrium/store"
)

// Jobs, RunHeavy and goBackground run on threads of lowered priority,
// which end with them.
func TestBackground_RunsBelowRequests(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("thread priorities are Linux's")
	}
	base, err := threadNice()
	if err != nil {
		t.Fatal(err)
	}
	want := min(19, base+backgroundNice)
	ctx := context.Background()
	m := MustOpenManager(t, 0)
	w := mustCreate(t, m, "A")

	var inRun, inHeavy int
	id := mustStartJob(t, m, JobSpec{Kind: "test", WorkspaceID: w.ID, Run: func(context.Context, *JobRun) (any, error) {
		inRun, err = threadNice()
		return nil, err
	}})
	if j, err := m.WaitJob(ctx, w.ID, id); err != nil || j.State != store.JobDone {
		t.Fatalf("job: %+v, %v", j, err)
	}
	if err := m.RunHeavy(ctx, w.ID, "test", func() (err error) {
		inHeavy, err = threadNice()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	read := make(chan int)
	goBackground(func() {
		n, _ := threadNice()
		read <- n
	})
	inGo := <-read
	if inRun != want || inHeavy != want || inGo != want {
		t.Errorf("nice in a job %d, in RunHeavy %d, in goBackground %d; want %d (the process's %d + %d)",
			inRun, inHeavy, inGo, want, base, backgroundNice)
	}
	// The threads ended with their work: no thread of the process's
	// ordinary pool was lowered.
	for range 50 {
		runtime.Gosched()
		if n, _ := threadNice(); n != base {
			t.Fatalf("a request's thread has nice %d, not %d", n, base)
		}
	}
}

// Background threads get processors of their own: requests keep all the
// ones the process started with.
func TestBackground_ProcessorsAreReserved(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS is set in the environment, and kept")
	}
	mustOpenJobManager(t, t.TempDir(), Options{MaxJobs: 3})
	if got, want := runtime.GOMAXPROCS(0), requestProcs()+2*3; got < want {
		t.Errorf("GOMAXPROCS %d, want at least %d", got, want)
	}
}

// A panic in background work reaches the caller's goroutine, with the
// stack of where it happened.
func TestBackground_PanicReachesTheCaller(t *testing.T) {
	defer func() {
		p := recover()
		if s, _ := p.(string); !strings.HasPrefix(s, "boom\n") || !strings.Contains(s, "background_test.go") {
			t.Errorf("recovered %v", p)
		}
	}()
	runBackground(func() error { panic("boom") })
}
