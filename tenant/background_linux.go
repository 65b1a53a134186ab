package tenant

import "syscall"

// lowerThreadPriority adds delta to the calling thread's nice value (at
// most 19). Linux keeps a nice value per thread: PRIO_PROCESS with a
// thread id sets that thread's alone.
func lowerThreadPriority(delta int) {
	// The raw system call returns 20 - nice, never negative.
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		return
	}
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), min(19, 20-raw+delta))
}

// threadNice is the calling thread's nice value.
func threadNice() (int, error) {
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	return 20 - raw, err
}
