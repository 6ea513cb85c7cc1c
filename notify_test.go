package gate_test

// Behaviour tests of Notify and Notified in testing/synctest bubbles: every
// case of tokio's tests/sync_notify.rs (sync_notify_owned.rs repeats them for
// an owned future, which Go does not need), the in-crate unit tests of
// src/sync/tests/notify.rs and the loom notify scenarios (as deterministic
// interleavings), then the rules of API.md.

import (
	"context"
	"maps"
	"runtime"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/gophergate/gate"
)

// notifyWait starts n.Wait(ctx) in a goroutine.
func notifyWait(ctx context.Context, n *gate.Notify, what string) *async[struct{}] {
	return goErr(what, func() error { return n.Wait(ctx) })
}

// notifiedWait starts w.Wait(ctx) in a goroutine.
func notifiedWait(ctx context.Context, w *gate.Notified, what string) *async[struct{}] {
	return goErr(what, func() error { return w.Wait(ctx) })
}

// wantQueue fails unless n has k waiters queued.
func wantQueue(t *testing.T, n *gate.Notify, k int) {
	t.Helper()
	wantValue(t, "NotifyQueueLen", gate.NotifyQueueLen(n), k)
}

// wantPermit fails unless n holds the stored permit exactly when want.
func wantPermit(t *testing.T, n *gate.Notify, want bool) {
	t.Helper()
	wantValue(t, "NotifyHasPermit", gate.NotifyHasPermit(n), want)
}

// ctxKinds runs f with a ctx that never ends (a park receives from its
// channel alone) and with one that can (it selects on its channel and
// ctx.Done()): the two must behave the same.
func ctxKinds(t *testing.T, f func(t *testing.T, ctx context.Context)) {
	t.Run("ctx=background", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) { f(t, context.Background()) })
	})
	t.Run("ctx=cancelable", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) { f(t, t.Context()) })
	})
}

// --- tokio tests/sync_notify.rs ---

// notify_notified_one: a NotifyOne before the wait is kept as the permit.
func TestNotifyNotifyThenWait(t *testing.T) {
	ctxKinds(t, func(t *testing.T, ctx context.Context) {
		var n gate.Notify
		w := n.Notified()
		n.NotifyOne()
		wantPermit(t, &n, true)
		if err := w.Wait(ctx); err != nil {
			t.Fatalf("Wait after NotifyOne = %v", err)
		}
		wantPermit(t, &n, false)
	})
}

// notify_multi_notified_one: NotifyOne wakes the oldest of two waiters.
func TestNotifyOneWakesOldest(t *testing.T) {
	ctxKinds(t, func(t *testing.T, ctx context.Context) {
		var n gate.Notify
		a := notifyWait(ctx, &n, "first Wait")
		synctest.Wait()
		b := notifyWait(ctx, &n, "second Wait")
		synctest.Wait()
		wantQueue(t, &n, 2)
		n.NotifyOne()
		synctest.Wait()
		a.ok(t)
		b.pending(t)
		n.NotifyOne()
		synctest.Wait()
		b.ok(t)
		wantPermit(t, &n, false)
	})
}

// notify_multi_notified_last: NotifyLast wakes the newest of two waiters.
func TestNotifyLastWakesNewest(t *testing.T) {
	ctxKinds(t, func(t *testing.T, ctx context.Context) {
		var n gate.Notify
		a := notifyWait(ctx, &n, "first Wait")
		synctest.Wait()
		b := notifyWait(ctx, &n, "second Wait")
		synctest.Wait()
		n.NotifyLast()
		synctest.Wait()
		b.ok(t)
		a.pending(t)
		n.NotifyLast()
		synctest.Wait()
		a.ok(t)
	})
}

// notified_one_notify: a waiting goroutine is woken by NotifyOne.
func TestNotifyWaitThenNotify(t *testing.T) {
	ctxKinds(t, func(t *testing.T, ctx context.Context) {
		var n gate.Notify
		a := notifyWait(ctx, &n, "Wait")
		synctest.Wait()
		a.pending(t)
		wantQueue(t, &n, 1)
		n.NotifyOne()
		synctest.Wait()
		a.ok(t)
		wantQueue(t, &n, 0)
		wantPermit(t, &n, false)
	})
}

// notified_multi_notify: with two waiting, one NotifyOne wakes only the first.
func TestNotifyOneWakesOnlyOne(t *testing.T) {
	ctxKinds(t, func(t *testing.T, ctx context.Context) {
		var n gate.Notify
		w1, w2 := n.Notified(), n.Notified()
		a := notifiedWait(ctx, w1, "first")
		synctest.Wait()
		b := notifiedWait(ctx, w2, "second")
		synctest.Wait()
		n.NotifyOne()
		synctest.Wait()
		a.ok(t)
		b.pending(t)
		n.NotifyOne()
		synctest.Wait()
		b.ok(t)
	})
}

// notify_notified_multi: the stored permit completes one Notified only.
func TestNotifyPermitCompletesOne(t *testing.T) {
	ctxKinds(t, func(t *testing.T, ctx context.Context) {
		var n gate.Notify
		n.NotifyOne()
		n.NotifyOne() // still one permit
		w1, w2 := n.Notified(), n.Notified()
		a := notifiedWait(ctx, w1, "first")
		synctest.Wait()
		a.ok(t)
		b := notifiedWait(ctx, w2, "second")
		synctest.Wait()
		b.pending(t)
		n.NotifyOne()
		synctest.Wait()
		b.ok(t)
	})
}

// notified_drop_notified_notify: a waiter that leaves is not notified;
// NotifyOne goes to the one that remains.
func TestNotifyCancelledWaiterSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		ctx, cancel := context.WithCancel(t.Context())
		a := notifyWait(ctx, &n, "cancelled Wait")
		synctest.Wait()
		b := notifyWait(t.Context(), &n, "second Wait")
		synctest.Wait()
		cancel()
		synctest.Wait()
		a.failed(t, context.Canceled)
		wantQueue(t, &n, 1)
		n.NotifyOne()
		synctest.Wait()
		b.ok(t)
		wantPermit(t, &n, false)
	})
}

// notified_multi_notify_drop_one: a Notified chosen by NotifyOne and then
// cancelled passes the notification to the next waiter.
func TestNotifyCancelForwardsToNext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		w1, w2 := n.Notified(), n.Notified()
		if w1.Enable() || w2.Enable() {
			t.Fatal("Enable reported a notification that was never sent")
		}
		n.NotifyOne() // chooses w1
		w1.Cancel()
		if !w2.Enable() {
			t.Fatal("w2 not notified after w1 cancelled a notification it was chosen for")
		}
		wantPermit(t, &n, false)
		wantQueue(t, &n, 0)
	})
}

// notified_multi_notify_one_drop and notified_multi_notify_last_drop: the
// forwarded notification follows the strategy that chose the cancelled one.
func TestNotifyCancelForwardsSameStrategy(t *testing.T) {
	for _, tc := range []struct {
		name       string
		notify     func(*gate.Notify)
		chosen     int // index of the Notified chosen first
		next, rest int
	}{
		{"NotifyOne", (*gate.Notify).NotifyOne, 0, 1, 2},
		{"NotifyLast", (*gate.Notify).NotifyLast, 2, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctxKinds(t, func(t *testing.T, ctx context.Context) {
				var n gate.Notify
				var ws [3]*gate.Notified
				var as [3]*async[struct{}]
				for i := range ws {
					ws[i] = n.Notified()
					if ws[i].Enable() {
						t.Fatalf("Enable %d reported a notification", i)
					}
				}
				tc.notify(&n)
				ws[tc.chosen].Cancel()
				// The others now wait: the one the notification went to
				// finds it at once.
				for _, i := range []int{tc.next, tc.rest} {
					as[i] = notifiedWait(ctx, ws[i], "Wait")
				}
				synctest.Wait()
				as[tc.next].ok(t)
				as[tc.rest].pending(t)
				tc.notify(&n)
				synctest.Wait()
				as[tc.rest].ok(t)
			})
		})
	}
}

// notify_one_after_dropped_all: a NotifyWaiters notification is not passed
// on by a cancel, and a later NotifyOne with nobody queued is stored.
func TestNotifyOneAfterNotifyWaitersCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		w1 := n.Notified()
		if w1.Enable() {
			t.Fatal("Enable reported a notification")
		}
		n.NotifyWaiters()
		n.NotifyOne()
		w1.Cancel()
		wantPermit(t, &n, true)
		if !n.Notified().Enable() {
			t.Fatal("a new Notified did not find the stored permit")
		}
	})
}

// test_notify_one_not_enabled: a Notified that never waited is completed by
// the permit when it waits.
func TestNotifyOneNotEnabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		w := n.Notified()
		n.NotifyOne()
		if err := w.Wait(t.Context()); err != nil {
			t.Fatalf("Wait = %v", err)
		}
	})
}

// test_notify_one_after_enable: an enabled Notified is chosen by NotifyOne;
// Enable then reports it, and Wait returns at once.
func TestNotifyOneAfterEnable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		w := n.Notified()
		if w.Enable() {
			t.Fatal("first Enable = true")
		}
		wantQueue(t, &n, 1)
		n.NotifyOne()
		wantPermit(t, &n, false) // it went to w, not to the permit
		if err := w.Wait(t.Context()); err != nil {
			t.Fatalf("Wait = %v", err)
		}
		if !w.Enable() {
			t.Fatal("Enable after completion = false")
		}
	})
}

// test_poll_after_enable: an enabled Notified waits for a notification.
func TestNotifyWaitAfterEnable(t *testing.T) {
	ctxKinds(t, func(t *testing.T, ctx context.Context) {
		var n gate.Notify
		w := n.Notified()
		if w.Enable() {
			t.Fatal("Enable = true")
		}
		a := notifiedWait(ctx, w, "Wait")
		synctest.Wait()
		a.pending(t)
		wantQueue(t, &n, 1) // the place Enable took, not a second one
		n.NotifyOne()
		synctest.Wait()
		a.ok(t)
	})
}

// test_enable_after_poll: a Notified whose wait ended (tokio: polled and
// pending) can be enabled, and reports no notification.
func TestNotifyEnableAfterWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		w := n.Notified()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := w.Wait(ctx); err != context.DeadlineExceeded {
			t.Fatalf("Wait = %v, want DeadlineExceeded", err)
		}
		wantQueue(t, &n, 0)
		if w.Enable() {
			t.Fatal("Enable = true")
		}
		wantQueue(t, &n, 1)
		n.NotifyOne()
		if !w.Enable() {
			t.Fatal("Enable after NotifyOne = false")
		}
	})
}

// test_enable_consumes_permit: Enable takes the stored permit.
func TestNotifyEnableConsumesPermit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		n.NotifyOne()
		w1, w2 := n.Notified(), n.Notified()
		if !w1.Enable() {
			t.Fatal("first Enable did not take the permit")
		}
		if w2.Enable() {
			t.Fatal("second Enable found a permit that was taken")
		}
		w2.Cancel()
		wantQueue(t, &n, 0)
		wantPermit(t, &n, false)
	})
}

// unpolled_future_completed_by_notify_waiters_preserves_notify_one_permit
// (tokio #7996): a Notified completed by NotifyWaiters does not take the
// permit stored afterwards.
func TestNotifyWaitersCompletionKeepsPermit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		w1 := n.Notified()
		n.NotifyWaiters()
		n.NotifyOne()
		if err := w1.Wait(t.Context()); err != nil {
			t.Fatalf("Wait = %v", err)
		}
		wantPermit(t, &n, true)
		if !n.Notified().Enable() {
			t.Fatal("the permit was taken by a Notified that NotifyWaiters completed")
		}
	})
}

// --- tokio src/sync/tests/notify.rs ---

// notify_simple: two Notifieds created before NotifyWaiters both complete.
func TestNotifyWaitersSimple(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		w1, w2 := n.Notified(), n.Notified()
		if w1.Enable() {
			t.Fatal("Enable = true")
		}
		n.NotifyWaiters()
		if !w1.Enable() || !w2.Enable() {
			t.Fatal("a Notified created before NotifyWaiters is not complete")
		}
		wantQueue(t, &n, 0)
	})
}

// watch_test: NotifyWaiters completes a Notified that was created but never
// enabled nor waited on (tokio drives it through a watch channel).
func TestNotifyWaitersUnpolled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		w := n.Notified()
		a := goErr("late Wait", func() error {
			time.Sleep(time.Second) // waits only after the NotifyWaiters below
			return w.Wait(t.Context())
		})
		n.NotifyWaiters()
		synctest.Wait()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		a.ok(t)
	})
}

// --- tokio loom notify scenarios (src/sync/tests/loom_notify.rs), as exact
// interleavings ---

// notify_waiters_and_one: NotifyWaiters and NotifyOne both reach waiters that
// exist, and the permit remains for the waiter of NotifyOne if it came late.
func TestNotifyWaitersAndOne(t *testing.T) {
	ctxKinds(t, func(t *testing.T, ctx context.Context) {
		var n gate.Notify
		a := notifyWait(ctx, &n, "Wait 1")
		b := notifyWait(ctx, &n, "Wait 2")
		synctest.Wait()
		n.NotifyWaiters()
		n.NotifyOne()
		synctest.Wait()
		a.ok(t)
		b.ok(t)
		wantPermit(t, &n, true)
		if err := n.Wait(ctx); err != nil {
			t.Fatalf("Wait for the stored permit = %v", err)
		}
	})
}

// notify_waiters_is_atomic: a Wait that starts after NotifyWaiters is not
// woken by it.
func TestNotifyWaitersIsAtomic(t *testing.T) {
	ctxKinds(t, func(t *testing.T, ctx context.Context) {
		var n gate.Notify
		a := notifyWait(ctx, &n, "before")
		synctest.Wait()
		n.NotifyWaiters()
		b := notifyWait(ctx, &n, "after")
		synctest.Wait()
		a.ok(t)
		b.pending(t)
		wantPermit(t, &n, false)
		n.NotifyWaiters()
		synctest.Wait()
		b.ok(t)
	})
}

// notify_waiters_sequential_notified_await: a waiter woken by NotifyWaiters
// that immediately waits again is not woken by the same call.
func TestNotifyWaitersSequentialWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		first := make(chan struct{})
		a := goErr("two Waits", func() error {
			if err := n.Wait(t.Context()); err != nil {
				return err
			}
			close(first)
			return n.Wait(t.Context())
		})
		synctest.Wait()
		n.NotifyWaiters()
		synctest.Wait()
		<-first
		a.pending(t)
		n.NotifyWaiters()
		synctest.Wait()
		a.ok(t)
	})
}

// notify_waiters_poll_consistency: of two Notifieds, one enabled before
// NotifyWaiters and one not, both are complete after it.
func TestNotifyWaitersPollConsistency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		w1, w2 := n.Notified(), n.Notified()
		w1.Enable()
		n.NotifyWaiters()
		for i, w := range []*gate.Notified{w1, w2} {
			if err := w.Wait(t.Context()); err != nil {
				t.Fatalf("Wait %d = %v", i, err)
			}
		}
	})
}

// notify_multi and notify_drop: a notification chosen for a waiter whose
// Notified is cancelled is not lost; several NotifyOne reach several
// waiters.
func TestNotifyMultiWithCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		var ws [4]*gate.Notified
		for i := range ws {
			ws[i] = n.Notified()
			ws[i].Enable()
		}
		n.NotifyOne()
		n.NotifyOne()
		ws[0].Cancel() // forwards to ws[2]
		ws[1].Cancel() // forwards to ws[3]
		if !ws[2].Enable() || !ws[3].Enable() {
			t.Fatal("a cancelled Notified lost its notification")
		}
		wantPermit(t, &n, false)
		n.NotifyOne()
		wantPermit(t, &n, true)
	})
}

// --- API.md rules ---

// A done ctx fails Wait first, even with a permit stored, which stays.
func TestNotifyDoneCtxFailsFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		n.NotifyOne()
		done := doneCtx(t.Context())
		if err := n.Wait(done); err != context.Canceled {
			t.Fatalf("Notify.Wait(done ctx) = %v, want Canceled", err)
		}
		w := n.Notified()
		if err := w.Wait(done); err != context.Canceled {
			t.Fatalf("Notified.Wait(done ctx) = %v, want Canceled", err)
		}
		wantPermit(t, &n, true)
		// A complete Notified too reports the done ctx, and stays complete.
		if !w.Enable() {
			t.Fatal("Enable did not take the permit")
		}
		if err := w.Wait(done); err != context.Canceled {
			t.Fatalf("complete Notified.Wait(done ctx) = %v, want Canceled", err)
		}
		if err := w.Wait(t.Context()); err != nil {
			t.Fatalf("complete Notified.Wait = %v", err)
		}
		// An enabled Notified keeps its place and its notification.
		w2 := n.Notified()
		w2.Enable()
		if err := w2.Wait(done); err != context.Canceled {
			t.Fatalf("enabled Notified.Wait(done ctx) = %v", err)
		}
		wantQueue(t, &n, 1)
		n.NotifyOne()
		if err := w2.Wait(done); err != context.Canceled {
			t.Fatalf("notified Notified.Wait(done ctx) = %v", err)
		}
		if !w2.Enable() {
			t.Fatal("the notification of w2 was lost by a Wait with a done ctx")
		}
	})
}

// A deadline ends a Wait on the bubble's clock; the waiter leaves the queue
// and the next NotifyOne is stored.
func TestNotifyWaitDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		start := time.Now()
		if err := n.Wait(ctx); err != context.DeadlineExceeded {
			t.Fatalf("Wait = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d != time.Hour {
			t.Fatalf("Wait returned after %v, want 1h", d)
		}
		wantQueue(t, &n, 0)
		if s, _ := gate.NotifyState(&n); s != 0 {
			t.Fatalf("state %d after the last waiter left, want empty", s)
		}
		n.NotifyOne()
		wantPermit(t, &n, true)
	})
}

// A Notified whose Wait ended may wait again, at the back of the queue, and
// is still completed by a NotifyWaiters since its creation.
func TestNotifyNotifiedWaitsAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		w := n.Notified()
		ctx, cancel := context.WithCancel(t.Context())
		a := notifiedWait(ctx, w, "first Wait")
		synctest.Wait()
		b := notifyWait(t.Context(), &n, "other Wait")
		synctest.Wait()
		cancel()
		synctest.Wait()
		a.failed(t, context.Canceled)
		a = notifiedWait(t.Context(), w, "second Wait")
		synctest.Wait()
		n.NotifyOne() // to the other waiter, now ahead
		synctest.Wait()
		b.ok(t)
		a.pending(t)
		n.NotifyWaiters()
		synctest.Wait()
		a.ok(t)

		// Completed by a NotifyWaiters that came while it was not waiting.
		w = n.Notified()
		ctx, cancel = context.WithCancel(t.Context())
		cancel()
		_ = w.Wait(ctx)
		n.NotifyWaiters()
		if err := w.Wait(t.Context()); err != nil {
			t.Fatalf("Wait = %v", err)
		}
	})
}

// A waiter notified at the moment its ctx ends returns nil, or returns
// ctx.Err() with the notification passed on: it is never lost.
func TestNotifyCancelRace(t *testing.T) {
	for _, cancelFirst := range []bool{false, true} {
		name := "notifyFirst"
		if cancelFirst {
			name = "cancelFirst"
		}
		t.Run(name, func(t *testing.T) {
			oneProc(t)
			for range 50 {
				synctest.Test(t, func(t *testing.T) {
					var n gate.Notify
					ctx, cancel := context.WithCancel(t.Context())
					a := notifyWait(ctx, &n, "Wait")
					synctest.Wait()
					b := notifyWait(t.Context(), &n, "second Wait")
					synctest.Wait()
					if cancelFirst {
						cancel()
						n.NotifyOne()
					} else {
						n.NotifyOne()
						cancel()
					}
					synctest.Wait()
					_, err := a.returned(t)
					switch err {
					case nil: // the notification came first
						b.pending(t)
						n.NotifyOne()
						synctest.Wait()
						b.ok(t)
					case context.Canceled: // it went to the next waiter
						b.ok(t)
					default:
						t.Fatalf("Wait = %v", err)
					}
					wantPermit(t, &n, false)
					wantQueue(t, &n, 0)
				})
			}
		})
	}
}

// Wake-ups follow the queue's order, never the runtime's, whatever kind of
// ctx each waiter has: three NotifyOne calls in a row wake the three oldest
// waiters, then each NotifyOne wakes the oldest left and NotifyLast the
// newest.
func TestNotifyFIFOWakeOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		bg := context.Background()
		var as []*async[struct{}]
		for i, ctx := range []context.Context{bg, t.Context(), bg, bg, t.Context(), bg, t.Context()} {
			as = append(as, notifyWait(ctx, &n, "Wait "+string(rune('A'+i))))
			synctest.Wait()
		}
		wantQueue(t, &n, 7)
		n.NotifyOne()
		n.NotifyOne()
		n.NotifyOne()
		synctest.Wait()
		for i, a := range as {
			if i < 3 {
				a.ok(t)
			} else {
				a.pending(t)
			}
		}
		// D, E, F, G are left: NotifyLast takes G, then NotifyOne D, E, F.
		n.NotifyLast()
		synctest.Wait()
		as[6].ok(t)
		for i := 3; i < 6; i++ {
			for j := i; j < 6; j++ {
				as[j].pending(t)
			}
			n.NotifyOne()
			synctest.Wait()
			as[i].ok(t)
		}
		wantQueue(t, &n, 0)
		wantPermit(t, &n, false)
	})
}

// A waiter whose ctx ended before NotifyOne or NotifyLast is never chosen,
// even if it has not left the queue yet when the notification comes: it
// returns ctx.Err(), and the notification goes to the next waiter (API.md,
// Context: a waiter whose ctx ended first does not proceed, and nothing is
// lost). It holds for Wait and for a Notified's Wait.
func TestNotifyCancelledBeforeNotify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		notify func(*gate.Notify)
		newest bool // the notification serves the newest waiter
		wait   func(ctx context.Context, n *gate.Notify) *async[struct{}]
	}{
		{"NotifyOne/Wait", (*gate.Notify).NotifyOne, false, func(ctx context.Context, n *gate.Notify) *async[struct{}] {
			return notifyWait(ctx, n, "cancelled Wait")
		}},
		{"NotifyLast/Notified", (*gate.Notify).NotifyLast, true, func(ctx context.Context, n *gate.Notify) *async[struct{}] {
			return notifiedWait(ctx, n.Notified(), "cancelled Notified.Wait")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 20 {
				synctest.Test(t, func(t *testing.T) {
					var n gate.Notify
					ctx, cancel := context.WithCancel(t.Context())
					// The cancelled waiter is the one the notification
					// would choose.
					var a, b *async[struct{}]
					if !tc.newest {
						a = tc.wait(ctx, &n)
						synctest.Wait()
						b = notifyWait(context.Background(), &n, "next Wait")
					} else {
						b = notifyWait(context.Background(), &n, "next Wait")
						synctest.Wait()
						a = tc.wait(ctx, &n)
					}
					synctest.Wait()
					cancel()
					tc.notify(&n) // the cancelled waiter may still be queued
					synctest.Wait()
					a.failed(t, context.Canceled)
					b.ok(t)
					wantPermit(t, &n, false)
					wantQueue(t, &n, 0)
				})
			}
		})
	}
}

// NotifyWaiters keeps a stored permit and stores none.
func TestNotifyWaitersPermit(t *testing.T) {
	ctxKinds(t, func(t *testing.T, ctx context.Context) {
		var n gate.Notify
		n.NotifyWaiters()
		wantPermit(t, &n, false)
		n.NotifyOne()
		n.NotifyWaiters()
		wantPermit(t, &n, true)
		if err := n.Wait(ctx); err != nil {
			t.Fatalf("Wait = %v", err)
		}
		a := notifyWait(ctx, &n, "Wait")
		synctest.Wait()
		a.pending(t)
		n.NotifyWaiters()
		synctest.Wait()
		a.ok(t)
		wantPermit(t, &n, false)
	})
}

// Cancel of a chosen Notified with nobody else waiting puts the permit back;
// Cancel of an idle or complete one does nothing.
func TestNotifyCancelBackToPermit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		w := n.Notified()
		w.Cancel() // idle: nothing
		w.Enable()
		n.NotifyLast()
		wantPermit(t, &n, false)
		w.Cancel()
		wantPermit(t, &n, true)
		if !w.Enable() {
			t.Fatal("a cancelled Notified could not take the permit back")
		}
		w.Cancel() // complete: nothing, and it stays complete
		wantPermit(t, &n, false)
		if err := w.Wait(t.Context()); err != nil {
			t.Fatalf("Wait = %v", err)
		}
	})
}

// A package-level Notify works in one bubble after another and outside
// them, with both kinds of ctx (API.md, Testing).
var bubbleNotify gate.Notify

func TestNotifyAcrossBubbles(t *testing.T) {
	for i := range 3 {
		synctest.Test(t, func(t *testing.T) {
			a := notifyWait(context.Background(), &bubbleNotify, "Wait (ctx never ends)")
			synctest.Wait()
			b := notifyWait(t.Context(), &bubbleNotify, "Wait (ctx can end)")
			synctest.Wait()
			if i%2 == 0 {
				bubbleNotify.NotifyOne()
				bubbleNotify.NotifyOne()
			} else {
				bubbleNotify.NotifyWaiters()
			}
			synctest.Wait()
			a.ok(t)
			b.ok(t)
			// One waiter leaves by its ctx, in this bubble.
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			if err := bubbleNotify.Wait(ctx); err != context.DeadlineExceeded {
				t.Fatalf("Wait = %v", err)
			}
		})
	}
	watchdog(t)
	done := make(chan error)
	go func() { done <- bubbleNotify.Wait(context.Background()) }()
	for gate.NotifyQueueLen(&bubbleNotify) == 0 {
		time.Sleep(time.Millisecond)
	}
	bubbleNotify.NotifyOne()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// The fast paths allocate nothing, and a Wait that parks allocates its
// channel and nothing else: one allocation per park. (A park used to cost
// nothing with a ctx that never ends, on a sync.Cond; API.md's Testing rule
// and issue 13 want every wait on a channel of the queue, and a sync.Cond
// does not wake in FIFO order.)
func TestNotifyAllocs(t *testing.T) {
	var n gate.Notify
	ctx := context.Background()
	if a := testing.AllocsPerRun(100, func() {
		n.NotifyOne()
		_ = n.Wait(ctx)
		n.NotifyWaiters()
		n.NotifyLast()
		_ = n.Wait(ctx)
	}); a != 0 {
		t.Errorf("NotifyOne + Wait + NotifyWaiters: %v allocs, want 0", a)
	}
	if testing.Short() {
		return
	}
	watchdog(t)
	// A ping-pong where every Wait may park: at most two parks per round
	// trip, one on each side.
	for _, ctx := range []context.Context{context.Background(), t.Context()} {
		var there, back gate.Notify
		const rounds = 1000
		go func() {
			for range rounds + 1 {
				_ = there.Wait(ctx)
				back.NotifyOne()
			}
		}()
		there.NotifyOne()
		_ = back.Wait(ctx)
		if a := testing.AllocsPerRun(rounds-1, func() {
			there.NotifyOne()
			_ = back.Wait(ctx)
		}); a > 2 {
			t.Errorf("ping-pong: %v allocs per round trip, want at most 2 (one per park)", a)
		}
	}
}

// NotifyWaiters allocates nothing, however many wait: it takes every waiter
// off the list and closes each one's channel once.
func TestNotifyWaitersNoAllocs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n gate.Notify
		const parked, enabled = 50, 50
		var as []*async[struct{}]
		for range parked {
			as = append(as, notifiedWait(t.Context(), n.Notified(), "Wait"))
		}
		for range enabled {
			n.Notified().Enable()
		}
		synctest.Wait() // every Wait is parked on its channel
		wantQueue(t, &n, parked+enabled)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		n.NotifyWaiters()
		runtime.ReadMemStats(&after)
		if a := after.Mallocs - before.Mallocs; a != 0 {
			t.Errorf("NotifyWaiters of %d waiters: %d allocs, want 0", parked+enabled, a)
		}
		synctest.Wait()
		for _, a := range as {
			a.ok(t)
		}
		wantQueue(t, &n, 0)
	})
}

// NotifyWaiters wakes many waiters, some enabled but not waiting.
func TestNotifyWaitersMany(t *testing.T) {
	ctxKinds(t, func(t *testing.T, ctx context.Context) {
		var n gate.Notify
		var as []*async[struct{}]
		var enabled []*gate.Notified
		for i := range 40 {
			if i%4 == 3 {
				w := n.Notified()
				w.Enable()
				enabled = append(enabled, w)
				continue
			}
			as = append(as, notifyWait(ctx, &n, "Wait"))
		}
		synctest.Wait()
		wantQueue(t, &n, 40)
		n.NotifyWaiters()
		synctest.Wait()
		for _, a := range as {
			a.ok(t)
		}
		for _, w := range enabled {
			if !w.Enable() {
				t.Fatal("enabled Notified not complete after NotifyWaiters")
			}
		}
		wantQueue(t, &n, 0)
		if s, gen := gate.NotifyState(&n); s != 0 || gen != 1 {
			t.Fatalf("state %d gen %d, want empty, 1", s, gen)
		}
	})
}

// --- Model (TESTING.md layer 2) ---
//
// notifyModel is the sequential model of a Notify and its Notifieds:
//
//   - a stored permit (at most one) and a FIFO queue of handles that joined
//     it (by Enable, or by a Wait that had to wait);
//   - NotifyOne / NotifyLast take the oldest / newest handle off the queue
//     and mark it chosen (a waiting one returns nil), or store the permit;
//   - NotifyWaiters bumps the generation and takes every handle off the
//     queue; a handle created before (an older generation) is complete;
//   - Enable and Wait complete at once for a complete or chosen handle, an
//     older generation or the stored permit (taken); otherwise they queue;
//   - a done ctx fails Wait before anything else, with no effect; a Wait
//     whose ctx ends leaves the queue (the handle becomes idle again);
//   - Cancel of a handle chosen by NotifyOne / NotifyLast passes the
//     notification on with the same strategy (or back to the permit).
//
// Notify.Wait is Wait on a hidden handle created at the call.

type notifyModelHandle struct {
	gen    int
	phase  int // notifiedIdle (0), enabled (1), done (2)
	chosen int // 0, or the kind of notification that took it off the queue: 1 one, 2 last, 3 all
	call   int // the Wait call waiting on it, or 0
}

type notifyModel struct {
	permit  bool
	gen     int
	queue   []int // handle ids, oldest first
	handles map[int]notifyModelHandle
	done    map[int]string // Wait calls that returned: call id -> result
}

func (m *notifyModel) clone() notifyModel {
	c := *m
	c.queue = slices.Clone(m.queue)
	c.handles = maps.Clone(m.handles)
	c.done = maps.Clone(m.done)
	return c
}

func (m *notifyModel) take(id, kind int) {
	h := m.handles[id]
	h.chosen = kind
	if h.call != 0 {
		m.done[h.call] = "ok"
		h.call = 0
		h.phase = 2
	}
	m.handles[id] = h
}

// deliver models NotifyOne (kind 1) and NotifyLast (kind 2).
func (m *notifyModel) deliver(kind int) {
	if len(m.queue) == 0 {
		m.permit = true
		return
	}
	var id int
	if kind == 2 {
		id = m.queue[len(m.queue)-1]
		m.queue = m.queue[:len(m.queue)-1]
	} else {
		id = m.queue[0]
		m.queue = m.queue[1:]
	}
	m.take(id, kind)
}

func (m *notifyModel) notifyWaiters() {
	m.gen++
	for _, id := range m.queue {
		m.take(id, 3)
	}
	m.queue = nil
}

// completeAtOnce reports whether an idle handle completes without queuing,
// taking the permit if that is what completes it.
func (m *notifyModel) completeAtOnce(h notifyModelHandle) bool {
	if h.gen != m.gen {
		return true
	}
	if m.permit {
		m.permit = false
		return true
	}
	return false
}

func (m *notifyModel) inQueue(id int) bool { return slices.Contains(m.queue, id) }

func (m *notifyModel) enable(id int) bool {
	h := m.handles[id]
	defer func() { m.handles[id] = h }()
	switch h.phase {
	case 2:
		return true
	case 1:
		if !m.inQueue(id) {
			h.phase = 2
			return true
		}
		return false
	}
	if m.completeAtOnce(h) {
		h.phase = 2
		return true
	}
	m.queue = append(m.queue, id)
	h.chosen = 0
	h.phase = 1
	return false
}

// wait models a Wait call on handle id; it reports whether it returned.
func (m *notifyModel) wait(id, call int, precancelled bool) {
	h := m.handles[id]
	defer func() { m.handles[id] = h }()
	switch {
	case precancelled:
		m.done[call] = "canceled"
	case h.phase == 2:
		m.done[call] = "ok"
	case h.phase == 1 && !m.inQueue(id):
		h.phase = 2
		m.done[call] = "ok"
	case h.phase == 1:
		h.call = call
	case m.completeAtOnce(h):
		h.phase = 2
		m.done[call] = "ok"
	default:
		m.queue = append(m.queue, id)
		h.chosen = 0
		h.phase = 1
		h.call = call
	}
}

// cancelCtx models the end of the ctx of Wait call `call` on handle id.
func (m *notifyModel) cancelCtx(id, call int) {
	h := m.handles[id]
	if h.call != call {
		return // returned already
	}
	m.queue = slices.DeleteFunc(m.queue, func(q int) bool { return q == id })
	h.call = 0
	h.phase = 0
	m.handles[id] = h
	m.done[call] = "canceled"
}

// cancel models Notified.Cancel on a handle with no Wait running.
func (m *notifyModel) cancel(id int) {
	h := m.handles[id]
	if h.phase != 1 {
		return
	}
	h.phase = 0
	if m.inQueue(id) {
		m.queue = slices.DeleteFunc(m.queue, func(q int) bool { return q == id })
	} else if h.chosen == 3 {
		h.phase = 2
	} else {
		m.handles[id] = h
		m.deliver(h.chosen)
		return
	}
	m.handles[id] = h
}

type notifyObs struct {
	Permit bool
	Queue  int
	Done   map[int]string
}

func (m *notifyModel) obs() notifyObs {
	return notifyObs{Permit: m.permit, Queue: len(m.queue), Done: maps.Clone(m.done)}
}

type notifyCall struct {
	handle int
	ch     chan error // buffered; the goroutine sends once when it returns
}

type notifyMachine struct {
	n *gate.Notify
	m notifyModel

	nextID  int
	handles map[int]*gate.Notified // visible handles
	pending map[int]notifyCall     // Wait calls that have not returned
	cancels map[int]context.CancelFunc
	ctxs    []context.CancelFunc
	done    map[int]string

	race *modelRace[notifyModel]
}

func newNotifyMachine() *notifyMachine {
	return &notifyMachine{
		n:       new(gate.Notify),
		m:       notifyModel{handles: map[int]notifyModelHandle{}, done: map[int]string{}},
		handles: map[int]*gate.Notified{},
		pending: map[int]notifyCall{},
		cancels: map[int]context.CancelFunc{},
		done:    map[int]string{},
	}
}

func (nm *notifyMachine) newID() int {
	nm.nextID++
	return nm.nextID
}

func (nm *notifyMachine) cleanup() {
	for _, cancel := range nm.ctxs {
		cancel()
	}
	nm.n.NotifyWaiters() // the waiters whose ctx never ends
	for _, c := range nm.pending {
		<-c.ch
	}
}

func (nm *notifyMachine) check(rt *rapid.T) {
	synctest.Wait()
	for id, c := range nm.pending {
		select {
		case err := <-c.ch:
			delete(nm.pending, id)
			nm.done[id] = resultString(err)
			if err == nil {
				nm.done[id] = "ok"
			}
		default:
		}
	}
	got := notifyObs{
		Permit: gate.NotifyHasPermit(nm.n),
		Queue:  gate.NotifyQueueLen(nm.n),
		Done:   maps.Clone(nm.done),
	}
	if r := nm.race; r != nil {
		nm.race = nil
		nm.m = pickOutcome(nm.m.raceOutcomes(r), (*notifyModel).obs, got)
	}
	if diff := cmp.Diff(nm.m.obs(), got); diff != "" {
		rt.Fatalf("Notify differs from the model (-model +real):\n%s", diff)
	}
	if s, _ := gate.NotifyState(nm.n); (s == 1) != (got.Queue > 0) || (s == 2) != got.Permit {
		rt.Fatalf("state %d with %d queued, permit %v", s, got.Queue, got.Permit)
	}
}

// raceOutcomes: the waiter's ctx ended first (it left the queue, then the
// notification went elsewhere), or the notification came first (it returns
// nil; if it was not chosen it then leaves the queue).
func (m *notifyModel) raceOutcomes(r *modelRace[notifyModel]) []notifyModel {
	first := m.clone()
	id := first.callHandle(r.id)
	first.cancelCtx(id, r.id)
	r.apply(&first)
	after := m.clone()
	r.apply(&after)
	after.cancelCtx(id, r.id)
	return []notifyModel{first, after}
}

func (m *notifyModel) callHandle(call int) int {
	for id, h := range m.handles {
		if h.call == call {
			return id
		}
	}
	return 0
}

func (nm *notifyMachine) newHandle(rt *rapid.T) {
	id := nm.newID()
	nm.handles[id] = nm.n.Notified()
	nm.m.handles[id] = notifyModelHandle{gen: nm.m.gen}
}

// idleHandle picks a visible handle with no Wait running.
func (nm *notifyMachine) idleHandle(rt *rapid.T) (int, bool) {
	free := map[int]bool{}
	for id := range nm.handles {
		if nm.m.handles[id].call == 0 && !nm.waiting(id) {
			free[id] = true
		}
	}
	return pick(rt, free, "handle")
}

// waiting reports whether a Wait goroutine on handle id has not returned.
func (nm *notifyMachine) waiting(id int) bool {
	for _, c := range nm.pending {
		if c.handle == id {
			return true
		}
	}
	return false
}

func (nm *notifyMachine) enable(rt *rapid.T) {
	id, ok := nm.idleHandle(rt)
	if !ok {
		return
	}
	got := nm.handles[id].Enable()
	if want := nm.m.enable(id); got != want {
		rt.Fatalf("Enable of handle %d = %v, model: %v", id, got, want)
	}
}

func (nm *notifyMachine) cancelHandle(rt *rapid.T) {
	id, ok := nm.idleHandle(rt)
	if !ok {
		return
	}
	nm.handles[id].Cancel()
	nm.m.cancel(id)
}

// drawCtx returns a ctx for a Wait: one that never ends (the cond park), a
// cancellable one, or (rarely) a done one.
func (nm *notifyMachine) drawCtx(rt *rapid.T, call int) (ctx context.Context, precancelled bool) {
	switch rapid.IntRange(0, 7).Draw(rt, "ctx") {
	case 0, 1:
		return context.Background(), false
	case 7:
		return doneCtx(context.Background()), true
	}
	return callCtx(&nm.ctxs, nm.cancels, call, false), false
}

func (nm *notifyMachine) waitHandle(rt *rapid.T) {
	id, ok := nm.idleHandle(rt)
	if !ok {
		return
	}
	call := nm.newID()
	ctx, pre := nm.drawCtx(rt, call)
	c := notifyCall{handle: id, ch: make(chan error, 1)}
	nm.pending[call] = c
	w := nm.handles[id]
	go func() { c.ch <- w.Wait(ctx) }()
	nm.m.wait(id, call, pre)
}

func (nm *notifyMachine) notifyWait(rt *rapid.T) {
	id, call := nm.newID(), nm.newID()
	ctx, pre := nm.drawCtx(rt, call)
	c := notifyCall{handle: id, ch: make(chan error, 1)}
	nm.pending[call] = c
	n := nm.n
	go func() { c.ch <- n.Wait(ctx) }()
	nm.m.handles[id] = notifyModelHandle{gen: nm.m.gen}
	nm.m.wait(id, call, pre)
}

func (nm *notifyMachine) cancelCtx(rt *rapid.T) {
	call, ok := pick(rt, nm.cancels, "call")
	if !ok {
		return
	}
	nm.cancels[call]()
	delete(nm.cancels, call)
	nm.m.cancelCtx(nm.m.callHandle(call), call)
}

func (nm *notifyMachine) notifyOne(rt *rapid.T) {
	nm.n.NotifyOne()
	nm.m.deliver(1)
}

func (nm *notifyMachine) notifyLast(rt *rapid.T) {
	nm.n.NotifyLast()
	nm.m.deliver(2)
}

func (nm *notifyMachine) notifyWaiters(rt *rapid.T) {
	nm.n.NotifyWaiters()
	nm.m.notifyWaiters()
}

// cancelRace ends the ctx of a queued Wait and, before it can run, sends a
// notification, in either order.
func (nm *notifyMachine) cancelRace(rt *rapid.T) {
	queued := map[int]bool{}
	for call := range nm.cancels {
		if id := nm.m.callHandle(call); id != 0 && nm.m.inQueue(id) {
			queued[call] = true
		}
	}
	call, ok := pick(rt, queued, "call")
	if !ok {
		return
	}
	op := rapid.SampledFrom([]string{"one", "last", "waiters"}).Draw(rt, "op")
	cancelFirst := rapid.Bool().Draw(rt, "cancelFirst")
	var do func()
	var apply func(*notifyModel)
	switch op {
	case "one":
		do, apply = nm.n.NotifyOne, func(m *notifyModel) { m.deliver(1) }
	case "last":
		do, apply = nm.n.NotifyLast, func(m *notifyModel) { m.deliver(2) }
	default:
		do, apply = nm.n.NotifyWaiters, (*notifyModel).notifyWaiters
	}
	cancel := nm.cancels[call]
	delete(nm.cancels, call)
	if cancelFirst {
		cancel()
		do()
	} else {
		do()
		cancel()
	}
	nm.race = &modelRace[notifyModel]{id: call, apply: apply}
}

func notifyModelCheck(rt *rapid.T) {
	runModel(rt, func(rt *rapid.T) (func(), modelActions) {
		nm := newNotifyMachine()
		return nm.cleanup, modelActions{
			"":              nm.check,
			"newHandle":     nm.newHandle,
			"enable":        nm.enable,
			"waitHandle":    nm.waitHandle,
			"notifyWait":    nm.notifyWait,
			"cancelHandle":  nm.cancelHandle,
			"cancelCtx":     nm.cancelCtx,
			"notifyOne":     nm.notifyOne,
			"notifyLast":    nm.notifyLast,
			"notifyWaiters": nm.notifyWaiters,
			"cancelRace":    nm.cancelRace,
		}
	})
}

func TestNotifyModel(t *testing.T) { checkModel(t, notifyModelCheck, true) }

func FuzzNotifyModel(f *testing.F) { fuzzModel(f, notifyModelCheck, true) }
