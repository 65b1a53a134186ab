package store

import (
	"context"
	"time"
)

// Rest waits d, or less when ctx ends: the rests background work takes to
// leave the machine to requests must not hold up a stop.
func Rest(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
