package gate_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gophergate/gate"
)

// A Semaphore limits how many jobs run at once: each job holds a permit while
// it runs.
func ExampleSemaphore() {
	ctx := context.Background()
	sem := gate.NewSemaphore(3) // at most 3 jobs at once

	var running, peak atomic.Int64
	var wg sync.WaitGroup
	results := make([]int, 10)
	for i := range results {
		wg.Go(func() {
			p, err := sem.Acquire(ctx)
			if err != nil {
				return
			}
			defer p.Release()

			n := running.Add(1)
			for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
			}
			results[i] = i * i // the job
			running.Add(-1)
		})
	}
	wg.Wait()

	fmt.Println("results:", results)
	fmt.Println("at most 3 jobs at once:", peak.Load() <= 3)
	fmt.Println("permits available:", sem.Available())
	// Output:
	// results: [0 1 4 9 16 25 36 49 64 81]
	// at most 3 jobs at once: true
	// permits available: 3
}

// AcquireN takes several permits at once, for jobs of different weights. A
// request that would have to wait gives up, holding nothing, when its context
// ends.
func ExampleSemaphore_AcquireN() {
	ctx := context.Background()
	sem := gate.NewSemaphore(10) // say, 10 MiB of buffer space

	big, err := sem.AcquireN(ctx, 8)
	fmt.Println(big.Count(), err, sem.Available())

	// Not enough left for another 8: TryAcquireN does not wait.
	_, err = sem.TryAcquireN(8)
	fmt.Println(errors.Is(err, gate.ErrNoPermits))

	// AcquireN would wait; with a cancelled context it returns ctx.Err() and
	// takes nothing, not even the 2 that are free.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = sem.AcquireN(cancelled, 8)
	fmt.Println(err == context.Canceled, sem.Available())

	// A request larger than any semaphore can hold fails at once.
	_, err = sem.AcquireN(ctx, gate.MaxPermits+1)
	fmt.Println(errors.Is(err, gate.ErrTooMany))

	big.Release()
	fmt.Println(sem.Available())
	// Output:
	// 8 <nil> 2
	// true
	// true 2
	// true
	// 10
}

// TryAcquire never waits and never takes a permit that a waiting goroutine
// is owed.
func ExampleSemaphore_TryAcquire() {
	sem := gate.NewSemaphore(1)
	p, err := sem.TryAcquire()
	fmt.Println(p.Count(), err)
	_, err = sem.TryAcquire()
	fmt.Println(err)
	p.Release()
	p.Release() // a second Release of the same variable does nothing
	fmt.Println(sem.Available())
	// Output:
	// 1 <nil>
	// gate: no permits available
	// 1
}

// Close fails every waiter and every later acquire with ErrClosed; permits
// held at that time can still be released.
func ExampleSemaphore_Close() {
	ctx := context.Background()
	sem := gate.NewSemaphore(1)
	held, _ := sem.Acquire(ctx)

	waiting := make(chan error)
	go func() {
		// Waits, as the only permit is held, until Close (or, if Close came
		// first, fails at once): ErrClosed either way.
		_, err := sem.Acquire(ctx)
		waiting <- err
	}()
	sem.Close()
	fmt.Println(<-waiting)
	_, err := sem.TryAcquire()
	fmt.Println(errors.Is(err, gate.ErrClosed))

	held.Release()
	fmt.Println(sem.Available(), sem.IsClosed())
	// Output:
	// gate: closed
	// true
	// 1 true
}

// Split hands part of a permit to someone else; Merge takes permits back.
func ExamplePermit_Split() {
	sem := gate.NewSemaphore(5)
	p, _ := sem.TryAcquireN(4)

	part, ok := p.Split(1)
	fmt.Println(ok, p.Count(), part.Count())

	_, ok = p.Split(10) // more than p holds: nothing changes
	fmt.Println(ok, p.Count())

	part.Release() // returns only the split-off permit
	fmt.Println(sem.Available())

	more, _ := sem.TryAcquireN(2)
	p.Merge(&more)
	fmt.Println(p.Count(), more.Count(), sem.Available())

	p.Release()
	fmt.Println(sem.Available())
	// Output:
	// true 3 1
	// false 3
	// 2
	// 5 0 0
	// 5
}

// Forget drops permits for good, shrinking the semaphore.
func ExamplePermit_Forget() {
	sem := gate.NewSemaphore(3)
	p, _ := sem.TryAcquire()
	p.Forget()
	fmt.Println(p.Count(), sem.Available())
	fmt.Println(sem.ForgetPermits(5), sem.Available()) // removes what is available
	// Output:
	// 0 2
	// 2 0
}
