// Package clock holds what the demos share to simulate work with timers, so
// that they run in a testing/synctest bubble on its fake clock.
package clock

import (
	"context"
	"time"
)

// Sleep waits for d, or returns ctx.Err() if ctx is done first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
