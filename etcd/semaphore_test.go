package etcd_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gophergate/gate/etcd"
)

func TestSemaphoreAcquireRelease(t *testing.T) {
	c := newClient(t, server.Endpoint)
	s := etcd.NewSemaphore(newSession(t, c, 2*time.Second), name(t), 2)
	t1 := must(t, s.Acquire)
	t2, err := s.TryAcquire(t.Context())
	if err != nil || t2 <= t1 {
		t.Fatalf("TryAcquire of the second permit = %d, %v; want a Token above %d", t2, err, t1)
	}
	if _, err := s.TryAcquire(t.Context()); !errors.Is(err, etcd.ErrLocked) {
		t.Fatalf("TryAcquire with every permit held = %v, want ErrLocked", err)
	}
	waitKeys(t, c, name(t), 2)
	release(t, s, t1)
	release(t, s, t2)
	waitKeys(t, c, name(t), 0)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Release of a released Token did not panic")
			}
		}()
		s.Release(t.Context(), t1)
	}()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("NewSemaphore(0) did not panic")
			}
		}()
		etcd.NewSemaphore(nil, "x", 0)
	}()
}

// TestSemaphoreFIFOAnyRelease releases the permits out of the order they were taken in:
// each release must let in the oldest waiter, whichever holder it came from, and a
// waiter that is let in must pass the head of the queue on to the one behind it.
func TestSemaphoreFIFOAnyRelease(t *testing.T) {
	c := newClient(t, server.Endpoint)
	sem := func() *etcd.Semaphore { return etcd.NewSemaphore(newSession(t, c, 2*time.Second), name(t), 2) }
	h1, h2 := sem(), sem()
	t1, t2 := must(t, h1.Acquire), must(t, h2.Acquire)
	const n = 3
	ws := make([]*etcd.Semaphore, n)
	calls := make([]*call[etcd.Token], n)
	for i := range ws {
		ws[i] = sem()
		calls[i] = async(func() (etcd.Token, error) { return ws[i].Acquire(t.Context()) })
		waitKeys(t, c, name(t), 3+i)
	}
	calls[0].pending(t, 20*time.Millisecond)

	// The newer holder leaves first: the head waiter, which watches both holders, gets in.
	release(t, h2, t2)
	w0 := calls[0].value(t)
	calls[1].pending(t, 20*time.Millisecond)
	calls[2].pending(t, 0)
	// The older holder leaves: the next waiter, now the head one, gets in.
	release(t, h1, t1)
	w1 := calls[1].value(t)
	calls[2].pending(t, 20*time.Millisecond)
	// A waiter that was let in releases.
	release(t, ws[0], w0)
	w2 := calls[2].value(t)
	if !(t2 < w0 && w0 < w1 && w1 < w2) {
		t.Fatalf("Tokens %d, %d, %d after %d: want increasing in the order of arrival", w0, w1, w2, t2)
	}
	ws[1].Release(t.Context(), w1)
	ws[2].Release(t.Context(), w2)
	waitKeys(t, c, name(t), 0)
}

// TestSemaphoreCancelStorm runs sessions that acquire and release with random deadlines
// and cancellations: no more than permits holders at once, and nothing left in etcd.
func TestSemaphoreCancelStorm(t *testing.T) {
	const permits, workers, rounds = 2, 6, 6
	c := newClient(t, server.Endpoint)
	var inside, maxInside, granted atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		s := etcd.NewSemaphore(newSession(t, c, 2*time.Second), name(t), permits)
		wg.Go(func() {
			for range rounds {
				ctx, cancel := context.WithTimeout(t.Context(), time.Duration(rand.IntN(40))*time.Millisecond)
				tok, err := s.Acquire(ctx)
				cancel()
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("Acquire = %v, want success or DeadlineExceeded", err)
					}
					continue
				}
				granted.Add(1)
				n := inside.Add(1)
				for m := maxInside.Load(); n > m && !maxInside.CompareAndSwap(m, n); m = maxInside.Load() {
				}
				time.Sleep(time.Duration(rand.IntN(5)) * time.Millisecond)
				inside.Add(-1)
				if err := s.Release(t.Context(), tok); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if m := maxInside.Load(); m > permits {
		t.Fatalf("%d holders at once, want at most %d", m, permits)
	}
	if granted.Load() == 0 {
		t.Fatal("no Acquire succeeded")
	}
	waitKeys(t, c, name(t), 0)
}
