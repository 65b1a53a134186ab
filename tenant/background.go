package tenant

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
)

// Background work runs below request handling. Jobs (imports, exports,
// send passes, verifications) and the heavy work of requests (RunHeavy)
// run on OS threads of their own whose scheduling priority is lowered
// (backgroundNice above the process's nice value, on Linux): when a core
// is wanted by both, the kernel gives it to the requests, and when it is
// not, the work runs at full speed. An import that rested as long as it
// worked instead was half as fast alone and still held a core, with its
// collector's work and its final index builds, while other workspaces'
// pages waited (BENCHMARKS.md, "Noisy neighbour").
//
// A thread of lowered priority cannot be raised back without privilege,
// so each run gets a new thread, which ends with its goroutine.

// backgroundNice is how much lower background threads run: a nice value
// 10 above gets about a tenth of a core that requests want too.
const backgroundNice = 10

// runBackground runs fn on a background thread and waits for it. A panic
// in fn is raised again in the caller's goroutine, with fn's stack.
func runBackground(fn func() error) error {
	type outcome struct {
		err   error
		panic any
	}
	done := make(chan outcome, 1)
	goBackground(func() {
		defer func() {
			if p := recover(); p != nil {
				done <- outcome{panic: fmt.Sprintf("%v\n%s", p, debug.Stack())}
			}
		}()
		done <- outcome{err: fn()}
	})
	o := <-done
	if o.panic != nil {
		panic(o.panic)
	}
	return o.err
}

// goBackground starts fn on a goroutine of its own background thread.
func goBackground(fn func()) {
	go func() {
		// Never unlocked: the thread ends with the goroutine, and its
		// lowered priority with it.
		runtime.LockOSThread()
		lowerThreadPriority(backgroundNice)
		fn()
	}()
}

// requestProcs is GOMAXPROCS as the process started: the threads that run
// Go code for requests.
var requestProcs = sync.OnceValue(func() int { return runtime.GOMAXPROCS(0) })

// reserveBackgroundProcs raises GOMAXPROCS so that maxJobs background jobs,
// two threads each (an import reads and writes at once), leave requests
// all the processors they had. Without the room, a running background
// thread holds one of Go's processors whatever its priority, and a
// request waits for the scheduler's 10 ms time slice to end. A GOMAXPROCS
// set in the environment is left as it is.
func reserveBackgroundProcs(maxJobs int) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	if want := requestProcs() + 2*maxJobs; runtime.GOMAXPROCS(0) < want {
		runtime.GOMAXPROCS(want)
	}
}
