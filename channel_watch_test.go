package gate_test

// Tests of the watch channel: tokio's tests/sync_watch.rs and the loom watch
// scenarios (tokio/src/sync/tests/loom_watch.rs) ported to testing/synctest,
// the rules of API.md (ctx first, Close, Select), and a rapid model.

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/gophergate/gate"
)

// hasChanged asserts what r.HasChanged reports.
func hasChanged[T any](t testing.TB, r *gate.WatchReceiver[T], want bool, wantErr error) {
	t.Helper()
	got, err := r.HasChanged()
	if got != want || err != wantErr {
		t.Fatalf("HasChanged() = %v, %v; want %v, %v", got, err, want, wantErr)
	}
}

// borrow asserts the value Borrow returns.
func borrow[T comparable](t testing.TB, r *gate.WatchReceiver[T], want T) {
	t.Helper()
	if got := r.Borrow(); got != want {
		t.Fatalf("Borrow() = %v, want %v", got, want)
	}
}

// poll returns a's results if its call has returned, for the model, whose
// *rapid.T is not a testing.TB.
func poll[T any](a *async[T]) (v T, err error, done bool) {
	select {
	case r := <-a.ch:
		return r.v, r.err, true
	default:
		return v, nil, false
	}
}

// returnedRT is async.returned for a *rapid.T.
func returnedRT[T any](rt *rapid.T, a *async[T]) (T, error) {
	v, err, done := poll(a)
	if !done {
		rt.Fatalf("%s: still blocked, want it returned", a.what)
	}
	return v, err
}

// pendingRT is async.pending for a *rapid.T.
func pendingRT[T any](rt *rapid.T, a *async[T]) {
	if v, err, done := poll(a); done {
		rt.Fatalf("%s: returned (%v, %v), want it still blocked", a.what, v, err)
	}
}

// ---------------------------------------------------------------------------
// tokio tests/sync_watch.rs

func TestWatchSingleRxRecv(t *testing.T) { // single_rx_recv
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		tx, rx := gate.Watch("one")
		borrow(t, rx, "one")

		c := goErr("Changed", func() error { return rx.Changed(ctx) })
		synctest.Wait()
		c.pending(t)

		if err := tx.Send("two"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		c.ok(t)
		borrow(t, rx, "two")

		c = goErr("Changed", func() error { return rx.Changed(ctx) })
		synctest.Wait()
		c.pending(t)
		tx.Close()
		synctest.Wait()
		c.failed(t, gate.ErrClosed)
		borrow(t, rx, "two")
	})
}

func TestWatchRxVersionUnderflow(t *testing.T) { // rx_version_underflow
	_, rx := gate.Watch(0)
	rx.MarkChanged()
	rx.MarkChanged()
	hasChanged(t, rx, true, nil)
	rx.MarkUnchanged()
	hasChanged(t, rx, false, nil)
}

func TestWatchRxMarkChanged(t *testing.T) { // rx_mark_changed
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		tx, rx := gate.Watch("one")
		rx2 := rx.Clone()
		rx3 := rx.Clone()
		rx4 := rx.Clone()

		rx.MarkChanged()
		hasChanged(t, rx, true, nil)
		if err := rx.Changed(ctx); err != nil {
			t.Fatal(err)
		}
		hasChanged(t, rx, false, nil)

		// The clones are not affected.
		hasChanged(t, rx2, false, nil)
		c := goErr("rx2.Changed", func() error { return rx2.Changed(ctx) })
		synctest.Wait()
		c.pending(t)

		rx3.MarkChanged()
		if got := rx3.BorrowAndUpdate(); got != "one" {
			t.Fatalf("BorrowAndUpdate() = %q", got)
		}
		hasChanged(t, rx3, false, nil)

		if err := tx.Send("two"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		c.ok(t)
		hasChanged(t, rx4, true, nil)
		rx4.MarkChanged() // after a real send it still reports a change
		hasChanged(t, rx4, true, nil)
		if got := rx4.BorrowAndUpdate(); got != "two" {
			t.Fatalf("BorrowAndUpdate() = %q", got)
		}
		hasChanged(t, rx4, false, nil)
		for _, r := range []*gate.WatchReceiver[string]{rx, rx2, rx3, rx4} {
			r.Close()
		}
	})
}

func TestWatchRxMarkUnchanged(t *testing.T) { // rx_mark_unchanged
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		tx, rx := gate.Watch("one")
		rx2 := rx.Clone()

		rx.MarkChanged()
		rx.MarkUnchanged()
		hasChanged(t, rx, false, nil)

		if err := tx.Send("two"); err != nil {
			t.Fatal(err)
		}
		hasChanged(t, rx2, true, nil)
		rx2.MarkUnchanged()
		hasChanged(t, rx2, false, nil)
		borrow(t, rx2, "two")

		c := goErr("Changed", func() error { return rx2.Changed(ctx) })
		synctest.Wait()
		c.pending(t)
		tx.Close()
		synctest.Wait()
		c.failed(t, gate.ErrClosed)
	})
}

func TestWatchMultiRx(t *testing.T) { // multi_rx
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		tx, rx1 := gate.Watch("one")
		rx2 := tx.Subscribe()

		c1 := goErr("rx1.Changed", func() error { return rx1.Changed(ctx) })
		c2 := goErr("rx2.Changed", func() error { return rx2.Changed(ctx) })
		synctest.Wait()
		c1.pending(t)
		c2.pending(t)

		if err := tx.Send("two"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		c1.ok(t)
		c2.ok(t)
		borrow(t, rx1, "two")
		borrow(t, rx2, "two")

		// rx1 waits again; rx2 has not looked yet.
		c1 = goErr("rx1.Changed", func() error { return rx1.Changed(ctx) })
		synctest.Wait()
		c1.pending(t)
		if err := tx.Send("three"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		c1.ok(t)
		if err := tx.Send("four"); err != nil {
			t.Fatal(err)
		}
		// rx2 sees only the newest value.
		if err := rx2.Changed(ctx); err != nil {
			t.Fatal(err)
		}
		borrow(t, rx2, "four")
		hasChanged(t, rx2, false, nil)
		hasChanged(t, rx1, true, nil)
		borrow(t, rx1, "four")
	})
}

func TestWatchRxObservesFinalValue(t *testing.T) { // rx_observes_final_value
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		// Closed without a send: nothing unseen.
		tx, rx := gate.Watch("one")
		tx.Close()
		if err := rx.Changed(ctx); err != gate.ErrClosed {
			t.Fatalf("Changed = %v, want ErrClosed", err)
		}
		borrow(t, rx, "one")

		// Send, then close: the last value is still delivered once.
		tx, rx = gate.Watch("one")
		if err := tx.Send("two"); err != nil {
			t.Fatal(err)
		}
		tx.Close()
		if err := rx.Changed(ctx); err != nil {
			t.Fatalf("Changed = %v, want nil (an unseen value)", err)
		}
		borrow(t, rx, "two")
		if err := rx.Changed(ctx); err != gate.ErrClosed {
			t.Fatalf("Changed = %v, want ErrClosed", err)
		}

		// Send, then close, with Changed already waiting.
		tx, rx = gate.Watch("one")
		c := goErr("Changed", func() error { return rx.Changed(ctx) })
		synctest.Wait()
		c.pending(t)
		if err := tx.Send("two"); err != nil {
			t.Fatal(err)
		}
		tx.Close()
		synctest.Wait()
		c.ok(t)
		if got := rx.BorrowAndUpdate(); got != "two" {
			t.Fatalf("BorrowAndUpdate() = %q", got)
		}
		if err := rx.Changed(ctx); err != gate.ErrClosed {
			t.Fatalf("Changed = %v, want ErrClosed", err)
		}
	})
}

func TestWatchPollClose(t *testing.T) { // poll_close
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		tx, rx := gate.Watch("one")
		w := goErr("WaitClosed", func() error { return tx.WaitClosed(ctx) })
		synctest.Wait()
		w.pending(t)
		if n := gate.WatchCloseWaiters(tx); n != 1 {
			t.Fatalf("%d senders wait for the close, want 1", n)
		}
		rx.Close()
		synctest.Wait()
		w.ok(t)
		if !tx.IsClosed() {
			t.Fatal("IsClosed() = false after the last receiver closed")
		}
		// API.md: Send stores also with no receiver (tokio's send drops
		// the value); a later Subscribe sees it.
		if err := tx.Send("two"); err != nil {
			t.Fatalf("Send with no receiver = %v, want nil", err)
		}
		borrow(t, tx.Subscribe(), "two")
	})
}

func TestWatchBorrowAndUpdate(t *testing.T) { // borrow_and_update
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		tx, rx := gate.Watch("one")
		hasChanged(t, rx, false, nil)

		if err := tx.Send("two"); err != nil {
			t.Fatal(err)
		}
		hasChanged(t, rx, true, nil)
		if err := rx.Changed(ctx); err != nil {
			t.Fatal(err)
		}
		hasChanged(t, rx, false, nil)

		if err := tx.Send("three"); err != nil {
			t.Fatal(err)
		}
		if got := rx.BorrowAndUpdate(); got != "three" {
			t.Fatalf("BorrowAndUpdate() = %q", got)
		}
		hasChanged(t, rx, false, nil)
		c := goErr("Changed", func() error { return rx.Changed(ctx) })
		synctest.Wait()
		c.pending(t)

		tx.Close()
		synctest.Wait()
		c.failed(t, gate.ErrClosed)
		if got := rx.BorrowAndUpdate(); got != "three" {
			t.Fatalf("BorrowAndUpdate() after close = %q", got)
		}
		hasChanged(t, rx, false, gate.ErrClosed)
		if err := rx.Changed(ctx); err != gate.ErrClosed {
			t.Fatalf("Changed = %v", err)
		}
	})
}

func TestWatchReopenedAfterSubscribe(t *testing.T) { // reopened_after_subscribe
	tx, rx := gate.Watch("one")
	if tx.IsClosed() {
		t.Fatal("IsClosed() with a receiver")
	}
	rx.Close()
	if !tx.IsClosed() {
		t.Fatal("IsClosed() = false with no receiver")
	}
	rx = tx.Subscribe()
	if tx.IsClosed() {
		t.Fatal("IsClosed() after Subscribe")
	}
	if err := tx.Send("two"); err != nil {
		t.Fatalf("Send after Subscribe = %v", err)
	}
	rx.Close()
	if !tx.IsClosed() {
		t.Fatal("IsClosed() = false after the new receiver closed")
	}
}

func TestWatchSendModifyPanic(t *testing.T) { // send_modify_panic
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		tx, rx := gate.Watch("one")
		tx.SendModify(func(s *string) { *s = "two" })
		if got := rx.BorrowAndUpdate(); got != "two" {
			t.Fatalf("BorrowAndUpdate() = %q", got)
		}

		c := goErr("Changed", func() error { return rx.Changed(ctx) })
		synctest.Wait()
		c.pending(t)

		func() {
			defer func() {
				if r := recover(); r != "panicked" {
					t.Fatalf("recovered %v, want the panic of f", r)
				}
			}()
			tx.SendModify(func(s *string) {
				*s = "panicked"
				panic("panicked")
			})
		}()
		synctest.Wait()
		c.pending(t) // nobody notified
		hasChanged(t, rx, false, nil)
		borrow(t, rx, "panicked") // but the change is visible

		// The channel is usable: the lock was released.
		tx.SendModify(func(s *string) { *s = "three" })
		synctest.Wait()
		c.ok(t)
		if got := rx.BorrowAndUpdate(); got != "three" {
			t.Fatalf("BorrowAndUpdate() = %q", got)
		}
	})
}

func TestWatchMultipleSender(t *testing.T) { // multiple_sender
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		tx1, rx := gate.Watch(0)
		tx2 := tx1.Clone()

		c := goErr("Changed", func() error { return rx.Changed(ctx) })
		synctest.Wait()
		c.pending(t)
		if err := tx1.Send(1); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		c.ok(t)
		if got := rx.BorrowAndUpdate(); got != 1 {
			t.Fatalf("BorrowAndUpdate() = %d", got)
		}

		c = goErr("Changed", func() error { return rx.Changed(ctx) })
		synctest.Wait()
		c.pending(t)
		if err := tx2.Send(2); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		c.ok(t)
		if got := rx.BorrowAndUpdate(); got != 2 {
			t.Fatalf("BorrowAndUpdate() = %d", got)
		}
	})
}

func TestWatchReceiverNotifiedWhenLastSenderCloses(t *testing.T) { // receiver_is_notified_when_last_sender_is_dropped
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		tx1, rx := gate.Watch(0)
		tx2 := tx1.Clone()
		c := goErr("Changed", func() error { return rx.Changed(ctx) })
		synctest.Wait()
		c.pending(t)
		tx1.Close()
		synctest.Wait()
		c.pending(t)
		if rx.IsClosed() {
			t.Fatal("IsClosed() with a sender left")
		}
		tx2.Close()
		synctest.Wait()
		c.failed(t, gate.ErrClosed)
		if !rx.IsClosed() {
			t.Fatal("IsClosed() = false after every sender closed")
		}
	})
}

func TestWatchChangedOnClosedChannel(t *testing.T) {
	ctx := context.Background()
	// changed_succeeds_on_closed_channel_with_unseen_value
	tx, rx := gate.Watch("A")
	_ = tx.Send("B")
	tx.Close()
	if err := rx.Changed(ctx); err != nil {
		t.Fatalf("unseen value: Changed = %v, want nil", err)
	}
	// changed_errors_on_closed_channel_with_seen_value
	tx, rx = gate.Watch("A")
	tx.Close()
	if err := rx.Changed(ctx); err != gate.ErrClosed {
		t.Fatalf("seen value: Changed = %v, want ErrClosed", err)
	}
}

func TestWatchHasChangedOnClosedChannel(t *testing.T) {
	// has_changed_errors_on_closed_channel_with_unseen_value
	tx, rx := gate.Watch("A")
	_ = tx.Send("B")
	tx.Close()
	hasChanged(t, rx, false, gate.ErrClosed)
	// has_changed_errors_on_closed_channel_with_seen_value
	tx, rx = gate.Watch("A")
	tx.Close()
	hasChanged(t, rx, false, gate.ErrClosed)
}

func TestWatchWaitForOnClosedChannel(t *testing.T) { // wait_for_errors_on_closed_channel_true_predicate
	ctx := context.Background()
	tx, rx := gate.Watch("A")
	tx.Close()
	if v, err := rx.WaitFor(ctx, func(s string) bool { return s == "A" }); v != "A" || err != nil {
		t.Fatalf("true predicate: WaitFor = %q, %v; want A, nil", v, err)
	}
	if v, err := rx.WaitFor(ctx, func(s string) bool { return s == "B" }); v != "" || err != gate.ErrClosed {
		t.Fatalf("false predicate: WaitFor = %q, %v; want \"\", ErrClosed", v, err)
	}
}

// ---------------------------------------------------------------------------
// loom watch scenarios (tokio/src/sync/tests/loom_watch.rs). loom explores
// the interleavings of each; here each runs once in a bubble and many times
// on real goroutines under the race detector.

// loomRuns returns how many times a loom scenario runs outside a bubble.
func loomRuns() int {
	if testing.Short() {
		return 50
	}
	return 500
}

// runLoom runs scenario once in a synctest bubble and loomRuns times
// outside one.
func runLoom(t *testing.T, scenario func(t *testing.T)) {
	synctest.Test(t, scenario)
	watchdog(t)
	for range loomRuns() {
		scenario(t)
		if t.Failed() {
			return
		}
	}
}

func TestWatchLoomSmoke(t *testing.T) {
	runLoom(t, func(t *testing.T) {
		ctx := context.Background()
		tx, rx1 := gate.Watch(1)
		rxs := []*gate.WatchReceiver[int]{rx1, rx1.Clone(), rx1.Clone(), rx1.Clone(), rx1.Clone()}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := tx.Send(2); err != nil {
				t.Errorf("Send = %v", err)
			}
		}()
		for i, rx := range rxs {
			if err := rx.Changed(ctx); err != nil {
				t.Fatalf("rx%d.Changed = %v", i+1, err)
			}
			borrow(t, rx, 2)
		}
		<-done
	})
}

func TestWatchLoomWaitFor(t *testing.T) {
	runLoom(t, func(t *testing.T) {
		tx, rx := gate.Watch(false)
		tx2 := tx.Clone()
		var wg sync.WaitGroup
		wg.Go(func() {
			for range 2 {
				tx.SendModify(func(*bool) {})
			}
		})
		wg.Go(func() {
			if err := tx2.Send(true); err != nil {
				t.Errorf("Send = %v", err)
			}
		})
		v, err := rx.WaitFor(context.Background(), func(b bool) bool { return b })
		if !v || err != nil {
			t.Fatalf("WaitFor = %v, %v; want true, nil", v, err)
		}
		wg.Wait()
	})
}

func TestWatchLoomWaitForReturnsCorrectValue(t *testing.T) {
	runLoom(t, func(t *testing.T) {
		tx, rx := gate.Watch(0)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 1; i <= 3; i++ {
				if err := tx.Send(i); err != nil {
					t.Errorf("Send = %v", err)
				}
			}
		}()
		stoppedAt := -1
		got, err := rx.WaitFor(context.Background(), func(v int) bool {
			stoppedAt = v
			return true
		})
		if err != nil || got != stoppedAt {
			t.Fatalf("WaitFor = %d, %v; f stopped at %d", got, err, stoppedAt)
		}
		<-done
	})
}

func TestWatchLoomMultipleSenderCloseConcurrently(t *testing.T) {
	runLoom(t, func(t *testing.T) {
		tx1, rx := gate.Watch(0)
		tx2 := tx1.Clone()
		done := make(chan struct{})
		go func() {
			defer close(done)
			tx2.Close()
		}()
		if _, err := rx.HasChanged(); err != nil && !rx.IsClosed() {
			t.Fatalf("HasChanged = %v with the channel open", err)
		}
		tx1.Close()
		<-done
		hasChanged(t, rx, false, gate.ErrClosed)
	})
}

// ---------------------------------------------------------------------------
// API.md rules and gate's own behaviour

// TestWatchDoneCtxFailsFirst checks the Context rule: a done ctx fails
// Changed, WaitFor and WaitClosed even when they could complete at once,
// with no effect.
func TestWatchDoneCtxFailsFirst(t *testing.T) {
	done := doneCtx(context.Background())
	tx, rx := gate.Watch(1)
	_ = tx.Send(2)
	if err := rx.Changed(done); err != context.Canceled {
		t.Fatalf("Changed(done) with an unseen value = %v", err)
	}
	hasChanged(t, rx, true, nil) // nothing marked seen
	if v, err := rx.WaitFor(done, func(int) bool { return true }); err != context.Canceled || v != 0 {
		t.Fatalf("WaitFor(done) = %v, %v", v, err)
	}
	hasChanged(t, rx, true, nil)
	rx2 := rx.Clone()
	rx.Close()
	rx2.Close()
	if err := tx.WaitClosed(done); err != context.Canceled {
		t.Fatalf("WaitClosed(done) with no receiver = %v", err)
	}
	tx.Close()
	// After the close too: ctx first, then ErrClosed.
	if err := rx.Changed(done); err != context.Canceled {
		t.Fatalf("closed receiver: Changed(done) = %v", err)
	}
	if err := tx.WaitClosed(done); err != context.Canceled {
		t.Fatalf("closed sender: WaitClosed(done) = %v", err)
	}
}

// TestWatchCancelWhileWaiting checks that a waiting Changed, WaitFor and
// WaitClosed whose ctx ends return ctx.Err(), leave no waiter behind and
// mark nothing.
func TestWatchCancelWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Watch(0)
		ctx, cancel := context.WithCancel(t.Context())
		dl, cancelDl := context.WithTimeout(t.Context(), time.Hour)
		defer cancelDl()
		c := goErr("Changed", func() error { return rx.Changed(ctx) })
		rx2 := rx.Clone()
		f := goCall("WaitFor", func() (int, error) {
			return rx2.WaitFor(dl, func(v int) bool { return v > 10 })
		})
		w := goErr("WaitClosed", func() error { return tx.WaitClosed(ctx) })
		synctest.Wait()
		c.pending(t)
		f.pending(t)
		w.pending(t)
		if n := gate.WatchWaiters(rx); n != 2 {
			t.Fatalf("%d waiters, want 2", n)
		}
		_ = tx.Send(5) // f is false for it: WaitFor waits on
		synctest.Wait()
		c.ok(t)
		f.pending(t)
		cancel()
		synctest.Wait()
		w.failed(t, context.Canceled)
		if n := gate.WatchCloseWaiters(tx); n != 0 {
			t.Fatalf("%d WaitClosed waiters left", n)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		f.failed(t, context.DeadlineExceeded)
		if n := gate.WatchWaiters(rx); n != 0 {
			t.Fatalf("%d waiters left", n)
		}
		// A Changed cancelled while waiting marks nothing.
		ctx2, cancel2 := context.WithCancel(t.Context())
		c = goErr("Changed", func() error { return rx.Changed(ctx2) })
		synctest.Wait()
		cancel2()
		synctest.Wait()
		c.failed(t, context.Canceled)
		if got := gate.WatchSeen(rx); got != gate.WatchVersion(tx) {
			t.Fatalf("seen %d, want %d", got, gate.WatchVersion(tx))
		}
	})
}

// TestWatchSendVariants checks Send, SendReplace, SendModify and
// SendIfModified: what they store, return and notify, with and without
// receivers.
func TestWatchSendVariants(t *testing.T) {
	tx, rx := gate.Watch(1)
	if old := tx.SendReplace(2); old != 1 {
		t.Fatalf("SendReplace returned %d, want 1", old)
	}
	hasChanged(t, rx, true, nil)
	rx.MarkUnchanged()

	// SendIfModified false: a silent modification.
	if tx.SendIfModified(func(v *int) bool { *v = 3; return false }) {
		t.Fatal("SendIfModified reported true")
	}
	hasChanged(t, rx, false, nil)
	borrow(t, rx, 3)
	if got := tx.Borrow(); got != 3 {
		t.Fatalf("sender Borrow = %d", got)
	}
	if !tx.SendIfModified(func(v *int) bool { *v++; return true }) {
		t.Fatal("SendIfModified reported false")
	}
	hasChanged(t, rx, true, nil)
	borrow(t, rx, 4)
	rx.MarkUnchanged()

	// SendModify notifies even without a change.
	tx.SendModify(func(*int) {})
	hasChanged(t, rx, true, nil)
	borrow(t, rx, 4)

	// With no receiver, every send stores (API.md: Send too).
	rx.Close()
	if n := tx.ReceiverCount(); n != 0 {
		t.Fatalf("ReceiverCount() = %d", n)
	}
	if err := tx.Send(5); err != nil {
		t.Fatalf("Send with no receiver = %v", err)
	}
	if got := tx.Borrow(); got != 5 {
		t.Fatalf("Send with no receiver: Borrow = %d, want 5", got)
	}
	if old := tx.SendReplace(6); old != 5 {
		t.Fatalf("SendReplace = %d", old)
	}
	rx = tx.Subscribe()
	borrow(t, rx, 6)
	hasChanged(t, rx, false, nil)
	if n := tx.ReceiverCount(); n != 1 {
		t.Fatalf("ReceiverCount() = %d", n)
	}
}

// TestWatchSendIfModifiedPanic checks that a panic in SendIfModified's f
// leaves the change visible, notifies nobody, and leaves senders and
// receivers usable, Ready included.
func TestWatchSendIfModifiedPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Watch([]int{1})
		ready := rx.Ready()
		func() {
			defer func() { _ = recover() }()
			tx.SendIfModified(func(v *[]int) bool {
				*v = append(*v, 2)
				panic("boom")
			})
		}()
		synctest.Wait()
		if isReady(ready) {
			t.Fatal("Ready fired after a panicking SendIfModified")
		}
		hasChanged(t, rx, false, nil)
		if got := rx.Borrow(); !slices.Equal(got, []int{1, 2}) {
			t.Fatalf("Borrow = %v", got)
		}
		if !tx.SendIfModified(func(v *[]int) bool { *v = append(*v, 3); return true }) {
			t.Fatal("SendIfModified = false")
		}
		synctest.Wait()
		if !isReady(ready) {
			t.Fatal("Ready not receivable after a send")
		}
		if got := rx.BorrowAndUpdate(); !slices.Equal(got, []int{1, 2, 3}) {
			t.Fatalf("BorrowAndUpdate = %v", got)
		}
	})
}

// TestWatchBorrowDuringSendModify checks that a receiver (and a sender)
// reads the previous value while SendModify's f runs, without waiting for it,
// and that another sender waits for f, durably (it parks).
func TestWatchBorrowDuringSendModify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Watch(1)
		tx2 := tx.Clone()
		inF, release := make(chan struct{}), make(chan struct{})
		m := goErr("SendModify", func() error {
			tx.SendModify(func(v *int) {
				*v = 2
				close(inF)
				<-release
			})
			return nil
		})
		<-inF
		borrow(t, rx, 1)
		if got := tx2.Borrow(); got != 1 {
			t.Fatalf("sender Borrow during f = %d", got)
		}
		hasChanged(t, rx, false, nil)
		s := goCall("SendReplace", func() (int, error) { return tx2.SendReplace(3), nil })
		synctest.Wait()
		s.pending(t)
		m.pending(t)
		close(release)
		synctest.Wait()
		m.ok(t)
		if old := s.ok(t); old != 2 {
			t.Fatalf("SendReplace after SendModify returned %d, want 2", old)
		}
		borrow(t, rx, 3)
		if v := gate.WatchVersion(tx); v != 2 {
			t.Fatalf("version %d, want 2", v)
		}
	})
}

// TestWatchSendersFIFO checks that senders waiting for the sender lock get it
// in the order they came, none barging ahead of a parked one, whether the
// holder publishes a notifying send, a silent modification or the close.
func TestWatchSendersFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Watch(0)
		hold := func(f func(func(*int) bool) bool) (*async[bool], chan struct{}) {
			inF, release := make(chan struct{}), make(chan struct{})
			a := goCall("holder", func() (bool, error) {
				return f(func(*int) bool {
					close(inF)
					<-release
					return false // a silent modification releases the lock too
				}), nil
			})
			<-inF
			return a, release
		}
		for round := range 2 {
			h, release := hold(tx.SendIfModified)
			var order []int
			var mu sync.Mutex
			var sends []*async[int]
			for i := 1; i <= 4; i++ {
				tx := tx.Clone()
				sends = append(sends, goCall("SendModify", func() (int, error) {
					tx.SendModify(func(v *int) {
						mu.Lock()
						order = append(order, i)
						mu.Unlock()
						*v = 10*round + i
					})
					tx.Close()
					return 0, nil
				}))
				synctest.Wait() // parked, in this order
			}
			for _, a := range sends {
				a.pending(t)
			}
			borrow(t, rx, 10*round)
			close(release)
			synctest.Wait()
			if h.ok(t) {
				t.Fatal("holder's f reported a change")
			}
			for _, a := range sends {
				a.ok(t)
			}
			if want := []int{1, 2, 3, 4}; !slices.Equal(order, want) {
				t.Fatalf("round %d: senders took the lock in order %v, want %v", round, order, want)
			}
			borrow(t, rx, 10*round+4)
			tx.SendReplace(10 * (round + 1))
		}
		if v := gate.WatchVersion(tx); v != 2*5 {
			t.Fatalf("version %d, want 10", v)
		}
		// The last sender's Close waits for the holder and hands the lock
		// on like a send.
		h, release := hold(tx.SendIfModified)
		c := goErr("Close", func() error { tx.Close(); return nil })
		synctest.Wait()
		c.pending(t)
		if rx.IsClosed() {
			t.Fatal("closed while a send held the lock")
		}
		close(release)
		synctest.Wait()
		h.ok(t)
		c.ok(t)
		if !rx.IsClosed() {
			t.Fatal("not closed after the last sender's Close")
		}
	})
}

// TestWatchClosedHandles checks what a handle does after its own Close.
func TestWatchClosedHandles(t *testing.T) {
	ctx := context.Background()
	tx, rx := gate.Watch(1)
	tx2 := tx.Clone()
	tx.Close()
	tx.Close() // idempotent
	if err := tx.Send(2); err != gate.ErrClosed {
		t.Fatalf("Send on a closed sender = %v", err)
	}
	mustPanic(t, "SendReplace on a closed sender", func() { tx.SendReplace(2) })
	mustPanic(t, "SendModify on a closed sender", func() { tx.SendModify(func(*int) {}) })
	mustPanic(t, "SendIfModified on a closed sender", func() { tx.SendIfModified(func(*int) bool { return true }) })
	if err := tx.WaitClosed(ctx); err != gate.ErrClosed {
		t.Fatalf("WaitClosed on a closed sender = %v", err)
	}
	if !tx.IsClosed() {
		t.Fatal("closed sender: IsClosed() = false")
	}
	if got := tx.Borrow(); got != 1 {
		t.Fatalf("closed sender: Borrow() = %d", got)
	}
	c := tx.Clone()
	if err := c.Send(3); err != gate.ErrClosed {
		t.Fatalf("clone of a closed sender: Send = %v", err)
	}
	sub := tx.Subscribe()
	if !sub.IsClosed() {
		t.Fatal("Subscribe on a closed sender returned an open receiver")
	}
	if n := tx2.ReceiverCount(); n != 1 {
		t.Fatalf("ReceiverCount() = %d, want 1 (closed handles do not count)", n)
	}
	// The channel is still open: tx2 is left.
	if rx.IsClosed() {
		t.Fatal("receiver: IsClosed() with a sender left")
	}

	rxc := rx.Clone()
	rx.Close()
	rx.Close()
	if !rx.IsClosed() {
		t.Fatal("closed receiver: IsClosed() = false")
	}
	hasChanged(t, rx, false, gate.ErrClosed)
	if err := rx.Changed(ctx); err != gate.ErrClosed {
		t.Fatalf("closed receiver: Changed = %v", err)
	}
	if _, err := rx.WaitFor(ctx, func(int) bool { return true }); err != gate.ErrClosed {
		t.Fatalf("closed receiver: WaitFor = %v", err)
	}
	if !isReady(rx.Ready()) {
		t.Fatal("closed receiver: Ready not receivable")
	}
	borrow(t, rx, 1)
	if !rx.Clone().IsClosed() {
		t.Fatal("clone of a closed receiver is open")
	}
	for range rx.Changes(ctx) {
		t.Fatal("closed receiver: Changes yielded")
	}
	_ = tx2.Send(4)
	hasChanged(t, rxc, true, nil)
	// The clone of the closed tx does not keep the channel open.
	if !c.IsClosed() || tx2.ReceiverCount() != 1 {
		t.Fatalf("clone of a closed sender: IsClosed() = %v, ReceiverCount() = %d", c.IsClosed(), tx2.ReceiverCount())
	}
	tx2.Close()
	hasChanged(t, rxc, false, gate.ErrClosed)
	if !rxc.IsClosed() {
		t.Fatal("receiver: IsClosed() = false after the last open sender closed")
	}
	rxc.Close()
}

// TestWatchReceiverCloseEndsWaits checks Close of a receiver from another
// goroutine (API.md, Goroutines and Handles and Close): it ends the
// receiver's Changed or WaitFor in flight with ErrClosed and makes its armed
// Ready receivable, and from then on the receiver reports itself closed,
// still answers Borrow and is counted out of the channel.
func TestWatchReceiverCloseEndsWaits(t *testing.T) {
	waits := map[string]func(ctx context.Context, rx *gate.WatchReceiver[int]) error{
		"Changed": func(ctx context.Context, rx *gate.WatchReceiver[int]) error { return rx.Changed(ctx) },
		"WaitFor": func(ctx context.Context, rx *gate.WatchReceiver[int]) error {
			_, err := rx.WaitFor(ctx, func(v int) bool { return v > 10 })
			return err
		},
		"Ready": func(ctx context.Context, rx *gate.WatchReceiver[int]) error {
			select {
			case <-rx.Ready():
				_, err := rx.HasChanged()
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	}
	for name, wait := range waits {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tx, rx := gate.Watch(1)
				other := rx.Clone()
				w := goErr(name, func() error { return wait(t.Context(), rx) })
				synctest.Wait()
				w.pending(t)
				rx.Close()
				synctest.Wait()
				w.failed(t, gate.ErrClosed)
				if !rx.IsClosed() || tx.IsClosed() || tx.ReceiverCount() != 1 {
					t.Fatalf("after Close: rx.IsClosed() = %v, tx.IsClosed() = %v, ReceiverCount() = %d",
						rx.IsClosed(), tx.IsClosed(), tx.ReceiverCount())
				}
				if n := gate.WatchWaiters(rx); n != 0 {
					t.Fatalf("%d waiters left", n)
				}
				hasChanged(t, rx, false, gate.ErrClosed)
				_ = tx.Send(2)
				borrow(t, rx, 2)
				hasChanged(t, other, true, nil) // the other receiver goes on
				other.Close()
				if !tx.IsClosed() {
					t.Fatal("tx.IsClosed() = false with every receiver closed")
				}
			})
		})
	}
}

// TestWatchSenderCloseEndsWaitClosed checks a sender's Close: it ends its
// own WaitClosed in flight with ErrClosed, not another sender's; later, Send
// returns ErrClosed and stores nothing, the other sends panic, and Borrow
// still answers.
func TestWatchSenderCloseEndsWaitClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Watch(1)
		tx2 := tx.Clone()
		w1 := goErr("tx.WaitClosed", func() error { return tx.WaitClosed(t.Context()) })
		w2 := goErr("tx2.WaitClosed", func() error { return tx2.WaitClosed(t.Context()) })
		synctest.Wait()
		tx.Close()
		synctest.Wait()
		w1.failed(t, gate.ErrClosed)
		w2.pending(t)
		if err := tx.Send(2); err != gate.ErrClosed {
			t.Fatalf("Send after Close = %v", err)
		}
		mustPanic(t, "SendReplace after Close", func() { tx.SendReplace(2) })
		if got := tx.Borrow(); got != 1 {
			t.Fatalf("Borrow after Close = %d: a failed send stored its value", got)
		}
		hasChanged(t, rx, false, nil)
		rx.Close()
		synctest.Wait()
		w2.ok(t)
	})
}

// TestWatchCloseRacesReads races a receiver's Close from another goroutine
// with its own goroutine's Changed, WaitFor, Ready and Borrow while a sender
// sends, on real goroutines (run it with -race): every wait ends, with nil,
// ErrClosed or its ctx's error, and none outlives the Close.
func TestWatchCloseRacesReads(t *testing.T) {
	watchdog(t)
	for round := range loomRounds(300) {
		tx, rx := gate.Watch(0)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; ; i++ {
				var err error
				switch i % 4 {
				case 0:
					err = rx.Changed(context.Background())
				case 1:
					_, err = rx.WaitFor(context.Background(), func(v int) bool { return v < 0 })
				case 2:
					<-rx.Ready()
					_, err = rx.HasChanged()
				default:
					_ = rx.Borrow()
				}
				if err == gate.ErrClosed && rx.IsClosed() {
					return
				}
				if err != nil {
					t.Errorf("round %d: call %d = %v", round, i%4, err)
					return
				}
			}
		}()
		for i := range round % 7 {
			_ = tx.Send(i + 1)
		}
		rx.Close()
		<-done
		tx.Close()
	}
}

// TestWatchClone checks that a receiver's clone has seen what it has, and
// that the channel closes for receivers only after every sender clone.
func TestWatchClone(t *testing.T) {
	tx, rx := gate.Watch(0)
	_ = tx.Send(1)
	rx2 := rx.Clone()
	hasChanged(t, rx2, true, nil)
	rx.MarkUnchanged()
	rx3 := rx.Clone()
	hasChanged(t, rx3, false, nil)
	if n := tx.ReceiverCount(); n != 3 {
		t.Fatalf("ReceiverCount() = %d", n)
	}
	tx2 := tx.Clone()
	tx.Close()
	hasChanged(t, rx2, true, nil)
	tx2.Close()
	hasChanged(t, rx2, false, gate.ErrClosed)
}

// TestWatchChanges checks the iterator: it waits for changes, yields the
// newest value, and ends when the channel closes, when ctx ends, or when the
// loop breaks.
func TestWatchChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Watch(0)
		got := goCall("Changes", func() ([]int, error) {
			var vs []int
			for v := range rx.Changes(t.Context()) {
				vs = append(vs, v)
			}
			return vs, nil
		})
		for i := 1; i <= 3; i++ {
			synctest.Wait()
			_ = tx.Send(i)
		}
		synctest.Wait()
		got.pending(t)
		tx.Close()
		synctest.Wait()
		if vs := got.ok(t); !slices.Equal(vs, []int{1, 2, 3}) {
			t.Fatalf("Changes yielded %v", vs)
		}

		tx, rx = gate.Watch(0)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		got = goCall("Changes", func() ([]int, error) {
			var vs []int
			for v := range rx.Changes(ctx) {
				vs = append(vs, v)
			}
			return vs, nil
		})
		_ = tx.Send(7)
		_ = tx.Send(8) // coalesced with 7 if the loop has not run yet
		time.Sleep(time.Minute)
		synctest.Wait()
		if vs := got.ok(t); len(vs) == 0 || vs[len(vs)-1] != 8 {
			t.Fatalf("Changes yielded %v, want it to end with 8", vs)
		}

		_ = tx.Send(9)
		for v := range rx.Changes(t.Context()) {
			if v != 9 {
				t.Fatalf("yielded %d", v)
			}
			break
		}
		hasChanged(t, rx, false, nil)
	})
}

// TestWatchWaitFor checks that WaitFor tests the current (seen) value first,
// skips values f rejects, marks what it returns seen, and fails with
// ErrClosed when f rejects the last value.
func TestWatchWaitFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		tx, rx := gate.Watch(5)
		if v, err := rx.WaitFor(ctx, func(v int) bool { return v == 5 }); v != 5 || err != nil {
			t.Fatalf("WaitFor on the current value = %d, %v", v, err)
		}
		w := goCall("WaitFor", func() (int, error) {
			return rx.WaitFor(ctx, func(v int) bool { return v%2 == 0 })
		})
		synctest.Wait()
		w.pending(t)
		_ = tx.Send(7)
		synctest.Wait()
		w.pending(t)
		tx.SendIfModified(func(v *int) bool { *v = 8; return false }) // silent: not seen by waiters
		synctest.Wait()
		w.pending(t)
		_ = tx.Send(10)
		synctest.Wait()
		if v := w.ok(t); v != 10 {
			t.Fatalf("WaitFor = %d", v)
		}
		hasChanged(t, rx, false, nil)

		w = goCall("WaitFor", func() (int, error) {
			return rx.WaitFor(ctx, func(v int) bool { return v > 100 })
		})
		synctest.Wait()
		_ = tx.Send(11)
		tx.Close()
		synctest.Wait()
		w.failed(t, gate.ErrClosed)

		// A panic in f goes on to the caller; the receiver stays usable.
		tx, rx = gate.Watch(1)
		func() {
			defer func() { _ = recover() }()
			_, _ = rx.WaitFor(ctx, func(int) bool { panic("f") })
		}()
		_ = tx.Send(2)
		if v, err := rx.WaitFor(ctx, func(v int) bool { return v == 2 }); v != 2 || err != nil {
			t.Fatalf("WaitFor after a panic = %d, %v", v, err)
		}
	})
}

// TestWatchWaitClosed checks that WaitClosed waits for the last receiver
// (clones included) and returns at once when none is left.
func TestWatchWaitClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		tx, rx := gate.Watch(0)
		rx2 := rx.Clone()
		tx2 := tx.Clone()
		w1 := goErr("WaitClosed", func() error { return tx.WaitClosed(ctx) })
		w2 := goErr("WaitClosed", func() error { return tx2.WaitClosed(ctx) })
		synctest.Wait()
		rx.Close()
		synctest.Wait()
		w1.pending(t)
		w2.pending(t)
		rx2.Close()
		synctest.Wait()
		w1.ok(t)
		w2.ok(t)
		if err := tx.WaitClosed(ctx); err != nil {
			t.Fatalf("WaitClosed with no receiver = %v", err)
		}
		rx = tx.Subscribe()
		w1 = goErr("WaitClosed", func() error { return tx.WaitClosed(ctx) })
		synctest.Wait()
		w1.pending(t)
		rx.Close()
		synctest.Wait()
		w1.ok(t)
	})
}

// TestWatchReady checks the Select rule for watch: Ready is receivable once
// an unseen version exists or every sender is closed, not before (silent
// modifications and versions already seen do not count), every call re-arms,
// and a token left from an earlier call never outlives the version it stood
// for.
func TestWatchReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Watch(0)
		ready := rx.Ready()
		synctest.Wait()
		if isReady(ready) {
			t.Fatal("Ready receivable with nothing unseen")
		}
		tx.SendIfModified(func(v *int) bool { *v = 1; return false })
		synctest.Wait()
		if isReady(ready) {
			t.Fatal("Ready receivable after a silent modification")
		}

		// A goroutine in select wakes on a send.
		sel := goErr("select", func() error {
			select {
			case <-ready:
				return nil
			case <-t.Context().Done():
				return t.Context().Err()
			}
		})
		synctest.Wait()
		sel.pending(t)
		_ = tx.Send(2)
		synctest.Wait()
		sel.ok(t)
		hasChanged(t, rx, true, nil)

		// With something unseen, Ready is receivable at once.
		if !isReady(rx.Ready()) {
			t.Fatal("Ready not receivable at once with an unseen version")
		}

		// A token left unreceived is dropped once the version is seen.
		_ = rx.Ready() // token in the channel, not received
		rx.BorrowAndUpdate()
		if isReady(rx.Ready()) {
			t.Fatal("Ready receivable after BorrowAndUpdate: a stale token (invented)")
		}
		// Armed for an old version and re-armed after MarkUnchanged.
		_ = rx.Ready()
		_ = tx.Send(3)
		rx.MarkUnchanged()
		if isReady(rx.Ready()) {
			t.Fatal("Ready receivable after MarkUnchanged")
		}
		rx.MarkChanged()
		if !isReady(rx.Ready()) {
			t.Fatal("Ready not receivable after MarkChanged")
		}
		rx.MarkUnchanged()

		// Close fires it, and it stays receivable.
		ready = rx.Ready()
		tx.Close()
		synctest.Wait()
		if !isReady(ready) {
			t.Fatal("Ready not receivable after the last sender closed")
		}
		hasChanged(t, rx, false, gate.ErrClosed)
		if !isReady(rx.Ready()) {
			t.Fatal("Ready not receivable on a closed channel")
		}
		rx.Close()
		if n := gate.WatchWaiters(rx); n != 0 {
			t.Fatalf("%d waiters after Close", n)
		}
	})
}

// TestWatchReadySelectLoop drives a select loop over Ready and another
// channel the way API.md describes, with a sender racing it on real
// goroutines: every receive from Ready is followed by HasChanged reporting
// true or ErrClosed (nothing invented), and the loop sees the last value
// (nothing lost).
func TestWatchReadySelectLoop(t *testing.T) {
	watchdog(t)
	const sends = 2000
	tx, rx := gate.Watch(0)
	other := make(chan int)
	go func() {
		for i := 1; i <= sends; i++ {
			_ = tx.Send(i)
			if i%100 == 0 {
				other <- i
			}
		}
		tx.Close()
	}()
	last := 0
	for {
		select {
		case <-rx.Ready():
			changed, err := rx.HasChanged()
			if err == gate.ErrClosed {
				if err := rx.Changed(context.Background()); err == nil {
					last = rx.BorrowAndUpdate()
				}
				if last != sends {
					t.Fatalf("last value seen %d, want %d", last, sends)
				}
				return
			}
			if !changed {
				t.Fatal("Ready fired but HasChanged = false, nil")
			}
			v := rx.BorrowAndUpdate()
			if v < last {
				t.Fatalf("value went back from %d to %d", last, v)
			}
			last = v
		case <-other:
		}
	}
}

// TestWatchAllocs checks what the fast paths allocate: nothing for a read
// (Borrow of either handle, BorrowAndUpdate, HasChanged, a Changed with an
// unseen version) and for a Ready select loop in steady state, and exactly
// one box per send (Send, SendReplace, SendModify copies the value into a
// new box and locks the old one: two).
func TestWatchAllocs(t *testing.T) {
	tx, rx := gate.Watch(0)
	i := 0
	check := func(what string, want float64, f func()) {
		t.Helper()
		if n := testing.AllocsPerRun(1000, f); n != want {
			t.Errorf("%s: %v allocations per run, want %v", what, n, want)
		}
	}
	check("Borrow", 0, func() {
		i += rx.Borrow() + tx.Borrow()
		_, _ = rx.HasChanged()
		i += rx.BorrowAndUpdate()
	})
	check("SendReplace", 1, func() { i = tx.SendReplace(i + 1) })
	check("Send", 1, func() { _ = tx.Send(i + 1) })
	check("SendModify", 2, func() { tx.SendModify(func(v *int) { *v++ }) })
	_ = tx.Send(1)
	check("Changed with an unseen version", 0, func() {
		rx.MarkChanged()
		_ = rx.Changed(context.Background())
	})
	_ = rx.Ready() // the first call makes the channel
	check("Ready loop", 0, func() {
		ready := rx.Ready() // armed, not fired
		rx.MarkChanged()
		if !isReady(rx.Ready()) {
			t.Fatal("Ready not receivable after MarkChanged")
		}
		rx.MarkUnchanged()
		_ = ready
	})
}

// pkgWatchTx and pkgWatchRx are a watch channel made outside any bubble,
// used by TestWatchPackageLevelAcrossBubbles in one bubble after another.
var pkgWatchTx, pkgWatchRx = gate.Watch(0)

// TestWatchPackageLevelAcrossBubbles checks the Testing rule: a channel
// made outside any bubble works in one bubble after another, a wait in each
// parking durably on a channel of its own bubble.
func TestWatchPackageLevelAcrossBubbles(t *testing.T) {
	for range 3 {
		synctest.Test(t, func(t *testing.T) {
			// The channel keeps its state from earlier rounds (and runs).
			pkgWatchRx.MarkUnchanged()
			base := pkgWatchTx.Borrow()
			c := goErr("Changed", func() error { return pkgWatchRx.Changed(t.Context()) })
			w := goCall("WaitFor", func() (int, error) {
				rx := pkgWatchRx.Clone()
				defer rx.Close()
				return rx.WaitFor(t.Context(), func(v int) bool { return v > base })
			})
			synctest.Wait()
			c.pending(t)
			w.pending(t)
			_ = pkgWatchTx.Send(base + 1)
			synctest.Wait()
			c.ok(t)
			if v := w.ok(t); v != base+1 {
				t.Fatalf("WaitFor = %d", v)
			}
		})
	}
	// And outside any bubble.
	_ = pkgWatchTx.Send(pkgWatchTx.Borrow() + 1)
	if err := pkgWatchRx.Changed(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------------------
// Model (TESTING.md layer 2)

// watchModel is the sequential model of a watch channel: one value, one
// version, per-receiver seen versions, sender and receiver handles.
type watchModel struct {
	value, version int
	closed         bool // every sender closed
	senders        map[int]bool
	receivers      map[int]*watchModelRx
	nextID         int
}

type watchModelRx struct {
	seen   int
	closed bool
}

func (m *watchModel) openReceivers() int {
	n := 0
	for _, r := range m.receivers {
		if !r.closed {
			n++
		}
	}
	return n
}

func (m *watchModel) openSenders() int {
	n := 0
	for _, open := range m.senders {
		if open {
			n++
		}
	}
	return n
}

// watchWaiter is a Changed or WaitFor running in its own goroutine.
type watchWaiter struct {
	rx     int
	waitOn int // WaitFor: the value it waits for; -1 for Changed
	call   *async[int]
	cancel context.CancelFunc
}

// TestWatchModel checks a watch channel against watchModel under
// rapid.SyncTest: the send variants (silent modifications and panics
// included), marks, Changed and WaitFor (waiting, cancelled, woken), Ready,
// Subscribe and Clone, and Close on either side.
func TestWatchModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		rapid.SyncTest(rt, func(rt *rapid.T) {
			ctx := context.Background()
			tx0, rx0 := gate.Watch(0)
			m := &watchModel{senders: map[int]bool{0: true}, receivers: map[int]*watchModelRx{1: {}}, nextID: 2}
			txs := map[int]*gate.WatchSender[int]{0: tx0}
			rxs := map[int]*gate.WatchReceiver[int]{1: rx0}
			readies := map[int]<-chan struct{}{} // Ready channels not yet received from, by receiver
			armed := map[int]bool{}              // receivers whose Ready is queued for the next version
			var waiters []*watchWaiter
			rt.Cleanup(func() {
				for _, w := range waiters {
					w.cancel()
				}
				synctest.Wait()
			})
			openTx := func() (int, bool) {
				ids := map[int]bool{}
				for id, open := range m.senders {
					if open {
						ids[id] = true
					}
				}
				return pick(rt, ids, "tx")
			}
			anyTx := func() (int, bool) { return pick(rt, txs, "tx") }
			openRx := func() (int, bool) {
				ids := map[int]bool{}
				for id, r := range m.receivers {
					busy := false
					for _, w := range waiters {
						busy = busy || w.rx == id
					}
					if !r.closed && !busy {
						ids[id] = true
					}
				}
				return pick(rt, ids, "rx")
			}
			notify := func() {
				m.version++
				clear(armed) // every armed Ready fires
			}
			// use marks receiver id as used by something other than
			// Ready: a Ready channel taken before no longer has to follow
			// the model (API.md: call Ready again before the next select).
			use := func(id int) { delete(readies, id) }

			rt.Repeat(map[string]func(*rapid.T){
				"Send": func(rt *rapid.T) {
					id, ok := anyTx()
					if !ok {
						return
					}
					v := rapid.IntRange(0, 20).Draw(rt, "v")
					// API.md: it stores also with no receiver, and fails,
					// storing nothing, only after this handle's Close.
					err := txs[id].Send(v)
					if !m.senders[id] {
						if err != gate.ErrClosed {
							rt.Fatalf("Send on a closed sender = %v", err)
						}
						return
					}
					if err != nil {
						rt.Fatalf("Send = %v", err)
					}
					m.value = v
					notify()
				},
				"SendReplace": func(rt *rapid.T) {
					id, ok := openTx()
					if !ok {
						return
					}
					v := rapid.IntRange(0, 20).Draw(rt, "v")
					if old := txs[id].SendReplace(v); old != m.value {
						rt.Fatalf("SendReplace returned %d, want %d", old, m.value)
					}
					m.value = v
					notify()
				},
				"SendModify": func(rt *rapid.T) {
					id, ok := openTx()
					if !ok {
						return
					}
					d := rapid.IntRange(0, 3).Draw(rt, "d")
					txs[id].SendModify(func(v *int) { *v += d })
					m.value += d
					notify()
				},
				"SendIfModified": func(rt *rapid.T) {
					id, ok := openTx()
					if !ok {
						return
					}
					d := rapid.IntRange(0, 3).Draw(rt, "d")
					mod := rapid.Bool().Draw(rt, "modified")
					panics := rapid.IntRange(0, 4).Draw(rt, "panics") == 0
					got := func() (got bool) {
						defer func() {
							if r := recover(); r != nil && r != "f" {
								panic(r)
							}
						}()
						return txs[id].SendIfModified(func(v *int) bool {
							*v += d
							if panics {
								panic("f")
							}
							return mod
						})
					}()
					m.value += d
					if panics {
						return
					}
					if got != mod {
						rt.Fatalf("SendIfModified = %v, want %v", got, mod)
					}
					if mod {
						notify()
					}
				},
				"SenderClone": func(rt *rapid.T) {
					id, ok := anyTx()
					if !ok {
						return
					}
					n := m.nextID
					m.nextID++
					txs[n] = txs[id].Clone()
					m.senders[n] = m.senders[id]
				},
				"SenderClose": func(rt *rapid.T) {
					id, ok := anyTx()
					if !ok {
						return
					}
					txs[id].Close()
					if m.senders[id] {
						m.senders[id] = false
						if m.openSenders() == 0 {
							m.closed = true
							clear(armed)
						}
					}
				},
				"Subscribe": func(rt *rapid.T) {
					id, ok := anyTx()
					if !ok {
						return
					}
					n := m.nextID
					m.nextID++
					rxs[n] = txs[id].Subscribe()
					m.receivers[n] = &watchModelRx{seen: m.version, closed: !m.senders[id]}
				},
				"ReceiverClone": func(rt *rapid.T) {
					id, ok := pick(rt, rxs, "rx")
					if !ok {
						return
					}
					for _, w := range waiters {
						if w.rx == id {
							return // in use by its waiting goroutine
						}
					}
					n := m.nextID
					m.nextID++
					rxs[n] = rxs[id].Clone()
					r := *m.receivers[id]
					m.receivers[n] = &r
				},
				"ReceiverClose": func(rt *rapid.T) {
					// Also one whose Changed or WaitFor waits in its own
					// goroutine: Close ends it (API.md, Handles and Close).
					ids := map[int]bool{}
					for id, r := range m.receivers {
						if !r.closed {
							ids[id] = true
						}
					}
					id, ok := pick(rt, ids, "rx")
					if !ok {
						return
					}
					rxs[id].Close()
					m.receivers[id].closed = true
					use(id)
					delete(armed, id)
				},
				"BorrowAndUpdate": func(rt *rapid.T) {
					id, ok := openRx()
					if !ok {
						return
					}
					use(id)
					if v := rxs[id].BorrowAndUpdate(); v != m.value {
						rt.Fatalf("BorrowAndUpdate = %d, want %d", v, m.value)
					}
					m.receivers[id].seen = m.version
				},
				"MarkChanged": func(rt *rapid.T) {
					id, ok := openRx()
					if !ok {
						return
					}
					use(id)
					rxs[id].MarkChanged()
					m.receivers[id].seen = -1
				},
				"MarkUnchanged": func(rt *rapid.T) {
					id, ok := openRx()
					if !ok {
						return
					}
					use(id)
					rxs[id].MarkUnchanged()
					m.receivers[id].seen = m.version
				},
				"Changed": func(rt *rapid.T) {
					id, ok := openRx()
					if !ok {
						return
					}
					use(id)
					r := m.receivers[id]
					if r.seen == m.version && !m.closed {
						// It waits: run it in a goroutine.
						cctx, cancel := context.WithCancel(ctx)
						rx := rxs[id]
						waiters = append(waiters, &watchWaiter{rx: id, waitOn: -1, cancel: cancel,
							call: goCall("Changed", func() (int, error) { return 0, rx.Changed(cctx) })})
						return
					}
					err := rxs[id].Changed(ctx)
					if r.seen != m.version {
						if err != nil {
							rt.Fatalf("Changed with an unseen version = %v", err)
						}
						r.seen = m.version
					} else if err != gate.ErrClosed {
						rt.Fatalf("Changed on a closed channel = %v", err)
					}
				},
				"WaitFor": func(rt *rapid.T) {
					id, ok := openRx()
					if !ok {
						return
					}
					use(id)
					target := rapid.IntRange(0, 20).Draw(rt, "target")
					r := m.receivers[id]
					r.seen = m.version // it looks at the current value first
					if m.value == target {
						if v, err := rxs[id].WaitFor(ctx, func(v int) bool { return v == target }); v != target || err != nil {
							rt.Fatalf("WaitFor = %d, %v", v, err)
						}
						return
					}
					if m.closed {
						if _, err := rxs[id].WaitFor(ctx, func(v int) bool { return v == target }); err != gate.ErrClosed {
							rt.Fatalf("WaitFor on a closed channel = %v", err)
						}
						return
					}
					cctx, cancel := context.WithCancel(ctx)
					rx := rxs[id]
					waiters = append(waiters, &watchWaiter{rx: id, waitOn: target, cancel: cancel,
						call: goCall("WaitFor", func() (int, error) {
							return rx.WaitFor(cctx, func(v int) bool { return v == target })
						})})
				},
				"Cancel": func(rt *rapid.T) {
					if len(waiters) == 0 {
						return
					}
					i := rapid.IntRange(0, len(waiters)-1).Draw(rt, "waiter")
					waiters[i].cancel()
					synctest.Wait()
					w := waiters[i]
					waiters = slices.Delete(waiters, i, i+1)
					if _, err := returnedRT(rt, w.call); err != context.Canceled {
						rt.Fatalf("cancelled %s = %v", w.call.what, err)
					}
				},
				"Ready": func(rt *rapid.T) {
					id, ok := openRx()
					if !ok {
						return
					}
					readies[id] = rxs[id].Ready()
					r := m.receivers[id]
					if !m.closed && r.seen == m.version {
						armed[id] = true
					}
					// Otherwise it is receivable at once, and an arming
					// of an earlier call stays queued until the next
					// notifying send or the close.
				},
				"": func(rt *rapid.T) {
					synctest.Wait()
					// Waiters: which returned, and how.
					kept := waiters[:0]
					for _, w := range waiters {
						r := m.receivers[w.rx]
						if r.closed {
							// Its receiver's Close, from this goroutine,
							// ended it.
							if _, err := returnedRT(rt, w.call); err != gate.ErrClosed {
								rt.Fatalf("%s after its receiver's Close = %v", w.call.what, err)
							}
						} else if w.waitOn < 0 {
							switch {
							case r.seen != m.version:
								if _, err := returnedRT(rt, w.call); err != nil {
									rt.Fatalf("Changed = %v after a send", err)
								}
								r.seen = m.version
							case m.closed:
								if _, err := returnedRT(rt, w.call); err != gate.ErrClosed {
									rt.Fatalf("Changed on a closed channel = %v", err)
								}
							default:
								pendingRT(rt, w.call)
								kept = append(kept, w)
								continue
							}
						} else {
							// WaitFor looks at the value after every notifying
							// send, and at the close (where the value may be a
							// silent modification).
							switch {
							case (r.seen != m.version || m.closed) && m.value == w.waitOn:
								if v, err := returnedRT(rt, w.call); v != w.waitOn || err != nil {
									rt.Fatalf("WaitFor = %d, %v; want %d", v, err, w.waitOn)
								}
								r.seen = m.version
							case m.closed:
								if _, err := returnedRT(rt, w.call); err != gate.ErrClosed {
									rt.Fatalf("WaitFor at the close = %v", err)
								}
								r.seen = m.version
							default:
								// Still waiting (it may have looked at and
								// rejected intermediate values: every send is
								// followed by a check, so it saw them all).
								pendingRT(rt, w.call)
								r.seen = m.version
								kept = append(kept, w)
								continue
							}
						}
						w.cancel()
					}
					waiters = kept
					// Ready channels: receivable exactly when HasChanged would
					// report something; receiving consumes the arming.
					for id, ch := range readies {
						r := m.receivers[id]
						want := m.closed || r.seen != m.version
						if got := isReady(ch); got != want {
							rt.Fatalf("rx%d: Ready receivable %v, want %v (seen %d, version %d, closed %v)",
								id, got, want, r.seen, m.version, m.closed)
						}
						if want {
							delete(readies, id)
						}
					}
					// Observable state of every handle.
					for id, rx := range rxs {
						r := m.receivers[id]
						busy := false
						for _, w := range waiters {
							busy = busy || w.rx == id
						}
						if busy {
							continue
						}
						gotCh, gotErr := rx.HasChanged()
						wantCh, wantErr := r.seen != m.version, error(nil)
						if r.closed || m.closed {
							wantCh, wantErr = false, gate.ErrClosed
						}
						if gotCh != wantCh || gotErr != wantErr {
							rt.Fatalf("rx%d: HasChanged = %v, %v; want %v, %v", id, gotCh, gotErr, wantCh, wantErr)
						}
						if got, want := rx.IsClosed(), r.closed || m.closed; got != want {
							rt.Fatalf("rx%d: IsClosed = %v, want %v", id, got, want)
						}
					}
					type obs struct {
						Value, Receivers, Waiters int
						Version                   uint64
						SenderClosed              map[int]bool
					}
					got := obs{Value: tx0.Borrow(), Receivers: tx0.ReceiverCount(), Waiters: len(waiters),
						Version: gate.WatchVersion(tx0), SenderClosed: map[int]bool{}}
					want := obs{Value: m.value, Receivers: m.openReceivers(), Waiters: len(waiters),
						Version: uint64(m.version), SenderClosed: map[int]bool{}}
					for id, tx := range txs {
						got.SenderClosed[id] = tx.IsClosed()
						want.SenderClosed[id] = !m.senders[id] || m.openReceivers() == 0
					}
					if n := gate.WatchWaiters(rx0); n != len(waiters)+len(armed) {
						rt.Fatalf("%d queued waiters, want %d (%d waiting calls, %d armed Ready)", n, len(waiters)+len(armed), len(waiters), len(armed))
					}
					if diff := cmp.Diff(want, got); diff != "" {
						rt.Fatalf("state differs from the model (-want +got):\n%s", diff)
					}
				},
			})
		})
	})
}

// TestWatchChangesStopsAtDeadline checks that Changes ends when its ctx
// does, having yielded nothing when nothing was sent.
func TestWatchChangesStopsAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, rx := gate.Watch("x")
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		n := 0
		for range rx.Changes(ctx) {
			n++
		}
		if n != 0 || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("yielded %d values; ctx.Err() = %v", n, ctx.Err())
		}
	})
}
