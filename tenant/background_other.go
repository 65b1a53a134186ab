//go:build !linux

package tenant

// lowerThreadPriority does nothing here: only Linux keeps a priority per
// thread. Background work then competes with requests as an equal.
func lowerThreadPriority(delta int) {}

// threadNice is 0: see lowerThreadPriority.
func threadNice() (int, error) { return 0, nil }
