package gate_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/gophergate/gate"
)

// A Group replaces an errgroup.Group plus a semaphore: it runs each job in
// its own goroutine, at most 3 at once, and a Go that must wait for room
// waits in line with a ctx. The first error cancels the group's context, so
// the jobs still running can stop, and nothing starts after it.
func ExampleGroup() {
	ctx := context.Background()
	sizes := []int{3, 1, 4, 1, 5, 9, 2, 6}

	g, gctx := gate.NewGroup(ctx, 3)
	var running, peak atomic.Int64
	results := make([]int, len(sizes))
	for i, size := range sizes {
		// Go waits here while 3 jobs run; the error is only ctx.Err() or
		// gate.ErrClosed, after a failure.
		if err := g.Go(ctx, func(ctx context.Context) error {
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			defer running.Add(-1)
			results[i] = size * size
			return ctx.Err()
		}); err != nil {
			break
		}
	}
	err := g.Wait()
	fmt.Println(results, err, peak.Load() <= 3)
	fmt.Println("group ctx done after Wait:", gctx.Err() != nil)

	// A failure closes the group: its cause is on the context, and Go
	// refuses new work.
	g, gctx = gate.NewGroup(ctx, 2)
	errDisk := errors.New("disk full")
	g.Go(ctx, func(context.Context) error { return errDisk })
	<-gctx.Done()
	fmt.Println(context.Cause(gctx))
	fmt.Println(g.Go(ctx, func(context.Context) error { return nil }))
	fmt.Println(g.Wait())
	// Output:
	// [9 1 16 1 25 81 4 36] <nil> true
	// group ctx done after Wait: true
	// disk full
	// gate: closed
	// disk full
}
