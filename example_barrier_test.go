package gate_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gophergate/gate"
)

// A Barrier keeps workers in step: no worker starts phase 2 before every
// worker has finished phase 1. Exactly one of them, the last to arrive, is
// the leader of each generation.
func ExampleBarrier() {
	ctx := context.Background()
	const workers = 4
	b := gate.NewBarrier(workers)
	var phase1 atomic.Int64
	var leaders atomic.Int64
	var wg sync.WaitGroup
	sawAll := make(chan bool, workers)
	for range workers {
		wg.Go(func() {
			phase1.Add(1) // phase 1
			leader, err := b.Wait(ctx)
			if err != nil {
				return
			}
			if leader {
				leaders.Add(1)
			}
			sawAll <- phase1.Load() == workers // phase 2
		})
	}
	wg.Wait()
	close(sawAll)
	all := true
	for ok := range sawAll {
		all = all && ok
	}
	fmt.Println("every worker saw all of phase 1:", all)
	fmt.Println("leaders:", leaders.Load())
	// Output:
	// every worker saw all of phase 1: true
	// leaders: 1
}
