package gate_test

// Behaviour tests of Barrier in testing/synctest bubbles: tokio's
// tests/sync_barrier.rs, then the rules of API.md, cancellation (a waiter
// whose ctx ends withdraws its arrival) included.

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gophergate/gate"
)

// barrierWait starts b.Wait(ctx) in a goroutine.
func barrierWait(ctx context.Context, b *gate.Barrier, what string) *async[bool] {
	return goCall(what, func() (bool, error) { return b.Wait(ctx) })
}

// zero_does_not_block: NewBarrier(0) acts as 1.
func TestBarrierZeroDoesNotBlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := gate.NewBarrier(0)
		for range 2 {
			leader, err := b.Wait(t.Context())
			if !leader || err != nil {
				t.Fatalf("Wait = %v, %v; want leader", leader, err)
			}
		}
	})
}

// A zero Barrier (not made by NewBarrier) has no size to wait for: its Wait
// panics with "gate: ", also with a done ctx, instead of acting as a barrier
// of one (API.md changed this rule: it was a trap).
func TestBarrierZeroValuePanics(t *testing.T) {
	var b gate.Barrier
	mustPanic(t, "zero Barrier Wait", func() { _, _ = b.Wait(context.Background()) })
	mustPanic(t, "zero Barrier Wait, done ctx", func() { _, _ = b.Wait(doneCtx(context.Background())) })
}

// single: a Barrier of 1 makes every waiter the leader.
func TestBarrierSingle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := gate.NewBarrier(1)
		for range 3 {
			if leader, err := b.Wait(t.Context()); !leader || err != nil {
				t.Fatalf("Wait = %v, %v; want leader", leader, err)
			}
		}
	})
}

// tango: with n = 2 the first waits, the second releases it and leads.
func TestBarrierTango(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := gate.NewBarrier(2)
		a := barrierWait(t.Context(), b, "first Wait")
		synctest.Wait()
		a.pending(t)
		if got := gate.BarrierArrived(b); got != 1 {
			t.Fatalf("%d arrived, want 1", got)
		}
		leader, err := b.Wait(t.Context())
		if !leader || err != nil {
			t.Fatalf("second Wait = %v, %v; want leader", leader, err)
		}
		synctest.Wait()
		if a.ok(t) {
			t.Fatal("first waiter is a leader too")
		}
	})
}

// lots: n = 100 over 10 generations; 99 wait, the 100th releases them all,
// one leader per generation.
func TestBarrierLots(t *testing.T) {
	for _, ctxKind := range []string{"background", "cancelable"} {
		t.Run("ctx="+ctxKind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				if ctxKind == "background" {
					ctx = context.Background()
				}
				const n = 100
				b := gate.NewBarrier(n)
				for range 10 {
					var as []*async[bool]
					for range n - 1 {
						as = append(as, barrierWait(ctx, b, "Wait"))
					}
					synctest.Wait()
					for _, a := range as {
						a.pending(t)
					}
					if got := gate.BarrierArrived(b); got != n-1 {
						t.Fatalf("%d arrived, want %d", got, n-1)
					}
					last := barrierWait(ctx, b, "last Wait")
					synctest.Wait()
					leaders := 0
					for _, a := range append(as, last) {
						if a.ok(t) {
							leaders++
						}
					}
					if leaders != 1 {
						t.Fatalf("%d leaders in one generation, want 1", leaders)
					}
				}
			})
		})
	}
}

// NewBarrier panics on a negative count.
func TestBarrierNegativePanics(t *testing.T) {
	mustPanic(t, "NewBarrier(-1)", func() { gate.NewBarrier(-1) })
}

// A waiter whose ctx ends withdraws its arrival: the generation still needs n
// live goroutines.
func TestBarrierCancelWithdraws(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := gate.NewBarrier(3)
		a := barrierWait(t.Context(), b, "A")
		ctx, cancel := context.WithCancel(t.Context())
		c := barrierWait(ctx, b, "cancelled")
		synctest.Wait()
		if got := gate.BarrierArrived(b); got != 2 {
			t.Fatalf("%d arrived, want 2", got)
		}
		cancel()
		synctest.Wait()
		c.failed(t, context.Canceled)
		if got := gate.BarrierArrived(b); got != 1 {
			t.Fatalf("%d arrived after a withdrawal, want 1", got)
		}
		d := barrierWait(t.Context(), b, "D")
		synctest.Wait()
		a.pending(t)
		d.pending(t)
		leader, err := b.Wait(t.Context())
		if !leader || err != nil {
			t.Fatalf("third live Wait = %v, %v; want leader", leader, err)
		}
		synctest.Wait()
		if a.ok(t) || d.ok(t) {
			t.Fatal("a waiter is a leader too")
		}
	})
}

// A deadline ends a wait on the bubble's clock and withdraws the arrival;
// when every arrival is withdrawn the barrier is as new.
func TestBarrierDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := gate.NewBarrier(2)
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		start := time.Now()
		leader, err := b.Wait(ctx)
		if leader || err != context.DeadlineExceeded {
			t.Fatalf("Wait = %v, %v; want DeadlineExceeded", leader, err)
		}
		if d := time.Since(start); d != time.Hour {
			t.Fatalf("Wait returned after %v, want 1h", d)
		}
		if got := gate.BarrierArrived(b); got != 0 {
			t.Fatalf("%d arrived, want 0", got)
		}
		a := barrierWait(t.Context(), b, "A")
		synctest.Wait()
		a.pending(t)
		if leader, err := b.Wait(t.Context()); !leader || err != nil {
			t.Fatalf("Wait = %v, %v; want leader", leader, err)
		}
		synctest.Wait()
		a.ok(t)
	})
}

// A done ctx fails Wait first, without arriving, even when this Wait would
// complete the generation.
func TestBarrierDoneCtxFailsFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, n := range []int{1, 2} {
			b := gate.NewBarrier(n)
			var a *async[bool]
			if n == 2 {
				a = barrierWait(t.Context(), b, "A")
				synctest.Wait()
			}
			leader, err := b.Wait(doneCtx(t.Context()))
			if leader || err != context.Canceled {
				t.Fatalf("n=%d: Wait(done ctx) = %v, %v; want Canceled", n, leader, err)
			}
			if got, want := gate.BarrierArrived(b), n-1; got != want {
				t.Fatalf("n=%d: %d arrived, want %d", n, got, want)
			}
			if a != nil {
				a.pending(t)
				b.Wait(t.Context())
				synctest.Wait()
				a.ok(t)
			}
		}
	})
}

// Cancel versus completion (API.md, Barrier): a waiter whose generation
// completed before its ctx ended returns success; one whose ctx ended first
// withdraws its arrival and returns ctx.Err(), even if its goroutine has not
// run yet to withdraw when the last goroutine arrives: that one then does
// not complete the generation but waits in it.
func TestBarrierCancelVersusCompletion(t *testing.T) {
	t.Run("completeFirst", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := gate.NewBarrier(2)
			ctx, cancel := context.WithCancel(t.Context())
			a := barrierWait(ctx, b, "A")
			synctest.Wait()
			if leader, err := b.Wait(t.Context()); !leader || err != nil {
				t.Fatalf("B: Wait = %v, %v; want leader", leader, err)
			}
			cancel()
			synctest.Wait()
			if a.ok(t) {
				t.Fatal("A led too")
			}
		})
	})
	t.Run("cancelFirst", func(t *testing.T) {
		for range 20 {
			synctest.Test(t, func(t *testing.T) {
				b := gate.NewBarrier(2)
				ctx, cancel := context.WithCancel(t.Context())
				a := barrierWait(ctx, b, "A")
				synctest.Wait()
				cancel()
				last := barrierWait(t.Context(), b, "B") // A may not have withdrawn yet
				synctest.Wait()
				a.failed(t, context.Canceled)
				last.pending(t)
				if got := gate.BarrierArrived(b); got != 1 {
					t.Fatalf("%d arrived, want 1 (B)", got)
				}
				if leader, err := b.Wait(t.Context()); !leader || err != nil {
					t.Fatalf("C: Wait = %v, %v; want leader", leader, err)
				}
				synctest.Wait()
				if last.ok(t) {
					t.Fatal("B waited and led")
				}
			})
		}
	})
}

// A package-level Barrier works in one bubble after another, also when the
// last bubble left it with every arrival withdrawn (API.md, Testing).
var bubbleBarrier = gate.NewBarrier(2)

func TestBarrierAcrossBubbles(t *testing.T) {
	for range 3 {
		synctest.Test(t, func(t *testing.T) {
			a := barrierWait(t.Context(), bubbleBarrier, "A")
			synctest.Wait()
			bubbleBarrier.Wait(t.Context())
			synctest.Wait()
			a.ok(t)
			c := barrierWait(context.Background(), bubbleBarrier, "waiter whose ctx never ends")
			synctest.Wait()
			bubbleBarrier.Wait(t.Context())
			synctest.Wait()
			c.ok(t)
			// Leave an arrival that withdraws: its channel is not used
			// by the next bubble.
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			if _, err := bubbleBarrier.Wait(ctx); err != context.DeadlineExceeded {
				t.Fatalf("Wait = %v", err)
			}
		})
	}
	watchdog(t)
	done := make(chan error)
	go func() {
		_, err := bubbleBarrier.Wait(context.Background())
		done <- err
	}()
	if _, err := bubbleBarrier.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Waiters whose ctx never ends and waiters whose ctx can end complete one
// generation together; a withdrawal leaves the others waiting.
func TestBarrierMixedWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := gate.NewBarrier(4)
		bg := context.Background()
		ctx, cancel := context.WithCancel(t.Context())
		x := barrierWait(ctx, b, "withdrawing waiter")
		c1 := barrierWait(bg, b, "background waiter 1")
		ch := barrierWait(t.Context(), b, "cancelable waiter")
		synctest.Wait()
		cancel()
		synctest.Wait()
		x.failed(t, context.Canceled)
		c1.pending(t)
		ch.pending(t)
		c2 := barrierWait(bg, b, "background waiter 2")
		synctest.Wait()
		if got := gate.BarrierArrived(b); got != 3 {
			t.Fatalf("%d arrived, want 3", got)
		}
		leader, err := b.Wait(bg)
		if !leader || err != nil {
			t.Fatalf("fourth Wait = %v, %v; want leader", leader, err)
		}
		synctest.Wait()
		for _, a := range []*async[bool]{c1, ch, c2} {
			if a.ok(t) {
				t.Fatalf("%s led too", a.what)
			}
		}
		// The next generation starts empty.
		if got := gate.BarrierArrived(b); got != 0 {
			t.Fatalf("%d arrived, want 0", got)
		}
	})
}

// A leader allocates nothing (so a Barrier of 1 never does), and a waiter
// that parks allocates its channel and nothing else. (A waiter whose ctx
// never ended used to cost nothing, on a sync.Cond; API.md's Testing rule and
// issue 13 want every wait on a channel of the queue, and a sync.Cond does
// not wake in FIFO order.)
func TestBarrierAllocs(t *testing.T) {
	b := gate.NewBarrier(1)
	ctx := context.Background()
	if a := testing.AllocsPerRun(100, func() { _, _ = b.Wait(ctx) }); a != 0 {
		t.Errorf("Barrier(1).Wait: %v allocs, want 0", a)
	}
	if testing.Short() {
		return
	}
	watchdog(t)
	b2 := gate.NewBarrier(2)
	const rounds = 1000
	go func() {
		for range rounds + 1 {
			_, _ = b2.Wait(ctx)
		}
	}()
	_, _ = b2.Wait(ctx)
	if a := testing.AllocsPerRun(rounds-1, func() { _, _ = b2.Wait(ctx) }); a > 1 {
		t.Errorf("Barrier(2): %v allocs per generation, want at most 1 (the one park)", a)
	}
}
