package gate_test

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"weak"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/gophergate/gate"
)

// This file tests the oneshot channel: ports of tokio's
// tests/sync_oneshot.rs (the P and A rows of reference/tokio-sync.md §3.6;
// the N rows about waker replacement become tests of re-arming Ready and of
// a second WaitClosed), then one test per rule of API.md (Context, Close,
// Select, Nothing lost, Testing), then tokio's loom scenarios
// (src/sync/tests/loom_oneshot.rs) as many rounds of real goroutines under
// the race detector.
//
// "Still blocked" and "woke" are asserted inside testing/synctest bubbles
// with the shared async helpers: start the call, synctest.Wait(), then
// pending or returned.

// goRecv starts rx.Recv(ctx) in a goroutine.
func goRecv(ctx context.Context, rx *gate.OneshotReceiver[int]) *async[int] {
	return goCall("Recv", func() (int, error) { return rx.Recv(ctx) })
}

// goWaitClosed starts tx.WaitClosed(ctx) in a goroutine.
func goWaitClosed(ctx context.Context, tx *gate.OneshotSender[int]) *async[struct{}] {
	return goErr("WaitClosed", func() error { return tx.WaitClosed(ctx) })
}

// tryRecvIs checks rx.TryRecv() against want (a value if wantErr is nil).
func tryRecvIs(t *testing.T, rx *gate.OneshotReceiver[int], want int, wantErr error) {
	t.Helper()
	v, err := rx.TryRecv()
	if err != wantErr || (err == nil && v != want) {
		t.Fatalf("TryRecv() = %d, %v; want %d, %v", v, err, want, wantErr)
	}
}

// ---------------------------------------------------------------------------
// Ports of tokio's tests/sync_oneshot.rs

// send_recv: a pending receiver is woken by Send and gets the value.
func TestOneshotSendRecv(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Oneshot[int]()
		a := goRecv(t.Context(), rx)
		synctest.Wait()
		a.pending(t)
		if !gate.OneshotRecvArmed(rx) {
			t.Fatalf("parked Recv has no channel armed")
		}
		if err := tx.Send(1); err != nil {
			t.Fatalf("Send = %v", err)
		}
		synctest.Wait()
		if v := a.ok(t); v != 1 {
			t.Fatalf("Recv = %d, want 1", v)
		}
	})
}

// async_send_recv: Send, then Recv returns the value at once.
func TestOneshotAsyncSendRecv(t *testing.T) {
	tx, rx := gate.Oneshot[int]()
	if err := tx.Send(1); err != nil {
		t.Fatalf("Send = %v", err)
	}
	if v, err := rx.Recv(t.Context()); v != 1 || err != nil {
		t.Fatalf("Recv = %d, %v; want 1, nil", v, err)
	}
}

// close_tx: closing the sender wakes a pending receiver with ErrClosed.
func TestOneshotCloseTx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Oneshot[int]()
		a := goRecv(t.Context(), rx)
		synctest.Wait()
		a.pending(t)
		tx.Close()
		synctest.Wait()
		a.failed(t, gate.ErrClosed)
	})
}

// close_rx: a Send to a closed receiver fails and the caller keeps the
// value; WaitClosed is pending until the receiver closes, then IsClosed
// holds, WaitClosed returns nil and Send fails.
func TestOneshotCloseRx(t *testing.T) {
	tx, rx := gate.Oneshot[int]()
	rx.Close()
	if err := tx.Send(1); err != gate.ErrClosed {
		t.Fatalf("Send to a closed receiver = %v, want ErrClosed", err)
	}

	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Oneshot[int]()
		a := goWaitClosed(t.Context(), tx)
		synctest.Wait()
		a.pending(t)
		if tx.IsClosed() {
			t.Fatalf("IsClosed before the receiver closed")
		}
		rx.Close()
		synctest.Wait()
		a.ok(t)
		if !tx.IsClosed() {
			t.Fatalf("IsClosed = false after the receiver closed")
		}
		if err := tx.WaitClosed(t.Context()); err != nil {
			t.Fatalf("WaitClosed after the receiver closed = %v", err)
		}
		if err := tx.Send(1); err != gate.ErrClosed {
			t.Fatalf("Send after the receiver closed = %v, want ErrClosed", err)
		}
	})
}

// async_rx_closed: WaitClosed returns when another goroutine closes the
// receiver.
func TestOneshotAsyncRxClosed(t *testing.T) {
	watchdog(t)
	tx, rx := gate.Oneshot[struct{}]()
	go rx.Close()
	if err := tx.WaitClosed(context.Background()); err != nil {
		t.Fatalf("WaitClosed = %v", err)
	}
}

// explicit_close_poll: a value sent before the receiver's Close is still
// received; without one, Close wakes WaitClosed, Send fails and Recv
// returns ErrClosed.
func TestOneshotExplicitCloseRecv(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// First, with the value sent.
		tx, rx := gate.Oneshot[int]()
		if err := tx.Send(1); err != nil {
			t.Fatalf("Send = %v", err)
		}
		rx.Close()
		if v, err := rx.Recv(t.Context()); v != 1 || err != nil {
			t.Fatalf("Recv after Close = %d, %v; want 1, nil", v, err)
		}

		// Second, without the value sent: a Send after Close fails.
		tx, rx = gate.Oneshot[int]()
		a := goWaitClosed(t.Context(), tx)
		synctest.Wait()
		a.pending(t)
		rx.Close()
		synctest.Wait()
		a.ok(t)
		if !tx.IsClosed() {
			t.Fatalf("IsClosed = false after Close")
		}
		if err := tx.Send(1); err != gate.ErrClosed {
			t.Fatalf("Send after the receiver's Close = %v, want ErrClosed", err)
		}
		if _, err := rx.Recv(t.Context()); err != gate.ErrClosed {
			t.Fatalf("Recv = %v, want ErrClosed", err)
		}

		// Again, but without trying to send.
		tx, rx = gate.Oneshot[int]()
		a = goWaitClosed(t.Context(), tx)
		synctest.Wait()
		a.pending(t)
		rx.Close()
		synctest.Wait()
		a.ok(t)
		if _, err := rx.Recv(t.Context()); err != gate.ErrClosed {
			t.Fatalf("Recv = %v, want ErrClosed", err)
		}
	})
}

// explicit_close_try_recv: the same through TryRecv.
func TestOneshotExplicitCloseTryRecv(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Oneshot[int]()
		if err := tx.Send(1); err != nil {
			t.Fatalf("Send = %v", err)
		}
		rx.Close()
		tryRecvIs(t, rx, 1, nil)

		tx, rx = gate.Oneshot[int]()
		a := goWaitClosed(t.Context(), tx)
		synctest.Wait()
		a.pending(t)
		rx.Close()
		synctest.Wait()
		a.ok(t)
		if !tx.IsClosed() {
			t.Fatalf("IsClosed = false after Close")
		}
		tryRecvIs(t, rx, 0, gate.ErrClosed)
	})
}

// close_try_recv_poll: tokio panics when the receiver is polled after
// try_recv reported Closed; gate returns ErrClosed again.
func TestOneshotRecvAfterTryRecvClosed(t *testing.T) {
	_, rx := gate.Oneshot[int]()
	rx.Close()
	tryRecvIs(t, rx, 0, gate.ErrClosed)
	if _, err := rx.Recv(t.Context()); err != gate.ErrClosed {
		t.Fatalf("Recv after TryRecv's ErrClosed = %v, want ErrClosed", err)
	}
}

// close_after_recv: Close after a successful TryRecv does nothing.
func TestOneshotCloseAfterRecv(t *testing.T) {
	tx, rx := gate.Oneshot[int]()
	if err := tx.Send(17); err != nil {
		t.Fatalf("Send = %v", err)
	}
	tryRecvIs(t, rx, 17, nil)
	rx.Close()
	rx.Close()
	tryRecvIs(t, rx, 0, gate.ErrClosed)
}

// try_recv_after_completion: a second TryRecv after the value reports
// ErrClosed.
func TestOneshotTryRecvAfterCompletion(t *testing.T) {
	tx, rx := gate.Oneshot[int]()
	if err := tx.Send(17); err != nil {
		t.Fatalf("Send = %v", err)
	}
	tryRecvIs(t, rx, 17, nil)
	tryRecvIs(t, rx, 0, gate.ErrClosed)
	rx.Close()
	tryRecvIs(t, rx, 0, gate.ErrClosed)
}

// try_recv_after_completion_await: TryRecv after Recv returned the value
// reports ErrClosed, and so does a second Recv.
func TestOneshotTryRecvAfterCompletionRecv(t *testing.T) {
	tx, rx := gate.Oneshot[int]()
	if err := tx.Send(17); err != nil {
		t.Fatalf("Send = %v", err)
	}
	if v, err := rx.Recv(t.Context()); v != 17 || err != nil {
		t.Fatalf("Recv = %d, %v; want 17, nil", v, err)
	}
	tryRecvIs(t, rx, 0, gate.ErrClosed)
	if _, err := rx.Recv(t.Context()); err != gate.ErrClosed {
		t.Fatalf("second Recv = %v, want ErrClosed", err)
	}
	rx.Close()
}

// receiver_changes_task: the waker of the latest poll is the one woken. In
// gate: a Recv whose ctx ended leaves the value for the next one, which is
// woken by the Send (from another goroutine); and of two Ready calls the
// later one's channel becomes receivable.
func TestOneshotReceiverChangesGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Oneshot[int]()
		ctx1, cancel1 := context.WithCancel(t.Context())
		a1 := goRecv(ctx1, rx)
		synctest.Wait()
		a1.pending(t)
		cancel1()
		synctest.Wait()
		a1.failed(t, context.Canceled)
		if gate.OneshotRecvArmed(rx) {
			t.Fatalf("a cancelled Recv left its channel armed")
		}
		a2 := goRecv(t.Context(), rx)
		synctest.Wait()
		a2.pending(t)
		if err := tx.Send(1); err != nil {
			t.Fatalf("Send = %v", err)
		}
		synctest.Wait()
		if v := a2.ok(t); v != 1 {
			t.Fatalf("second Recv = %d, want 1", v)
		}

		tx, rx = gate.Oneshot[int]()
		_ = rx.Ready() // an earlier arm, never used
		ready := rx.Ready()
		if isReady(ready) {
			t.Fatalf("Ready receivable before anything was sent")
		}
		go func() { _ = tx.Send(2) }()
		synctest.Wait()
		if !isReady(ready) {
			t.Fatalf("the latest Ready is not receivable after Send")
		}
		tryRecvIs(t, rx, 2, nil)
	})
}

// sender_changes_task: a WaitClosed whose ctx ended leaves the queue; the
// next one is woken by the receiver's Close.
func TestOneshotSenderChangesGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Oneshot[int]()
		ctx1, cancel1 := context.WithCancel(t.Context())
		a1 := goWaitClosed(ctx1, tx)
		synctest.Wait()
		a1.pending(t)
		cancel1()
		synctest.Wait()
		a1.failed(t, context.Canceled)
		if n := gate.OneshotCloseWaiters(tx); n != 0 {
			t.Fatalf("%d WaitClosed calls queued after the only one was cancelled", n)
		}
		a2 := goWaitClosed(t.Context(), tx)
		synctest.Wait()
		a2.pending(t)
		rx.Close()
		synctest.Wait()
		a2.ok(t)
	})
}

// receiver_is_terminated_* and receiver_is_empty_*: the receiver holds a
// value (tokio: !is_empty) from Send until it is read; it is terminated
// (tokio: is_terminated; gate: TryRecv reports ErrClosed) only once it has
// reported the value or ErrClosed, not when the sender or the receiver
// merely closed.
func TestOneshotReceiverTerminatedAndEmpty(t *testing.T) {
	t.Run("send", func(t *testing.T) {
		tx, rx := gate.Oneshot[int]()
		if gate.OneshotHasValue(rx) {
			t.Fatalf("holds a value before Send")
		}
		if err := tx.Send(17); err != nil {
			t.Fatalf("Send = %v", err)
		}
		if !gate.OneshotHasValue(rx) {
			t.Fatalf("holds no value after Send")
		}
		if gate.OneshotTerminated(rx) {
			t.Fatalf("receiver closed before it read the value")
		}
		if v, err := rx.Recv(t.Context()); v != 17 || err != nil {
			t.Fatalf("Recv = %d, %v", v, err)
		}
		if gate.OneshotHasValue(rx) {
			t.Fatalf("holds a value after it was read")
		}
		if !gate.OneshotTerminated(rx) {
			t.Fatalf("receiver not closed (terminated) after it read the value")
		}
		tryRecvIs(t, rx, 0, gate.ErrClosed)
	})
	t.Run("try_recv", func(t *testing.T) {
		tx, rx := gate.Oneshot[int]()
		tryRecvIs(t, rx, 0, gate.ErrEmpty)
		if gate.OneshotTerminated(rx) {
			t.Fatalf("ErrEmpty terminated the receiver")
		}
		if err := tx.Send(17); err != nil {
			t.Fatalf("Send = %v", err)
		}
		tryRecvIs(t, rx, 17, nil)
		if gate.OneshotHasValue(rx) || !gate.OneshotTerminated(rx) {
			t.Fatalf("after TryRecv: value held %v, terminated %v; want false, true",
				gate.OneshotHasValue(rx), gate.OneshotTerminated(rx))
		}
	})
	t.Run("tx_close", func(t *testing.T) {
		tx, rx := gate.Oneshot[int]()
		tx.Close()
		if gate.OneshotHasValue(rx) {
			t.Fatalf("holds a value after the sender closed without one")
		}
		if gate.OneshotTerminated(rx) {
			t.Fatalf("receiver terminated before it saw the close")
		}
		if _, err := rx.Recv(t.Context()); err != gate.ErrClosed {
			t.Fatalf("Recv = %v, want ErrClosed", err)
		}
		if !gate.OneshotTerminated(rx) {
			t.Fatalf("receiver not terminated after it reported ErrClosed")
		}
	})
	t.Run("rx_close", func(t *testing.T) {
		_, rx := gate.Oneshot[int]()
		rx.Close()
		if gate.OneshotHasValue(rx) {
			t.Fatalf("holds a value after Close")
		}
		tryRecvIs(t, rx, 0, gate.ErrClosed)
	})
}

// ---------------------------------------------------------------------------
// API.md rules

// Send may succeed once: a second Send, and a Send after the sender's
// Close, fail with ErrClosed and deliver nothing; Close after Send keeps the
// value deliverable.
func TestOneshotSendOnce(t *testing.T) {
	tx, rx := gate.Oneshot[int]()
	if err := tx.Send(1); err != nil {
		t.Fatalf("first Send = %v", err)
	}
	if err := tx.Send(2); err != gate.ErrClosed {
		t.Fatalf("second Send = %v, want ErrClosed", err)
	}
	tx.Close()
	tx.Close()
	if err := tx.Send(3); err != gate.ErrClosed {
		t.Fatalf("Send after Close = %v, want ErrClosed", err)
	}
	tryRecvIs(t, rx, 1, nil)
	tryRecvIs(t, rx, 0, gate.ErrClosed)

	tx, rx = gate.Oneshot[int]()
	tx.Close()
	if err := tx.Send(1); err != gate.ErrClosed {
		t.Fatalf("Send after Close = %v, want ErrClosed", err)
	}
	tryRecvIs(t, rx, 0, gate.ErrClosed)
}

// Of many goroutines that Send at once on one sender, exactly one succeeds
// and its value is the one received.
func TestOneshotConcurrentSends(t *testing.T) {
	watchdog(t)
	for round := range 200 {
		tx, rx := gate.Oneshot[int]()
		var wins atomic.Int32
		var winner atomic.Int64
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				if err := tx.Send(g); err == nil {
					wins.Add(1)
					winner.Store(int64(g))
				} else if err != gate.ErrClosed {
					t.Errorf("Send = %v", err)
				}
			})
		}
		v, err := rx.Recv(context.Background())
		wg.Wait()
		if n := wins.Load(); n != 1 || err != nil || int64(v) != winner.Load() {
			t.Fatalf("round %d: %d Sends succeeded, Recv = %d, %v (winner %d)", round, n, v, err, winner.Load())
		}
	}
}

// A done ctx fails Recv first, even with the value there, and leaves the
// value where it was.
func TestOneshotRecvDoneCtx(t *testing.T) {
	tx, rx := gate.Oneshot[int]()
	if err := tx.Send(7); err != nil {
		t.Fatalf("Send = %v", err)
	}
	ctx := doneCtx(t.Context())
	if _, err := rx.Recv(ctx); err != context.Canceled {
		t.Fatalf("Recv with a done ctx = %v, want context.Canceled", err)
	}
	if gate.OneshotTerminated(rx) || !gate.OneshotHasValue(rx) {
		t.Fatalf("a Recv with a done ctx had an effect")
	}
	if v, err := rx.Recv(t.Context()); v != 7 || err != nil {
		t.Fatalf("Recv = %d, %v; want 7, nil", v, err)
	}
	// A done ctx comes before ErrClosed too.
	if _, err := rx.Recv(ctx); err != context.Canceled {
		t.Fatalf("Recv with a done ctx after completion = %v, want context.Canceled", err)
	}
}

// A done ctx fails WaitClosed first, even with the receiver closed.
func TestOneshotWaitClosedDoneCtx(t *testing.T) {
	tx, rx := gate.Oneshot[int]()
	rx.Close()
	ctx := doneCtx(t.Context())
	if err := tx.WaitClosed(ctx); err != context.Canceled {
		t.Fatalf("WaitClosed with a done ctx = %v, want context.Canceled", err)
	}
	tx.Close()
	if err := tx.WaitClosed(ctx); err != context.Canceled {
		t.Fatalf("WaitClosed on a closed sender with a done ctx = %v, want context.Canceled", err)
	}
}

// A Recv whose ctx ends while it waits returns ctx.Err(), disarms its
// channel and leaves the channel as it was: a later Send is received. A
// deadline fires on the bubble's clock.
func TestOneshotRecvCancelWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Oneshot[int]()
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		start := time.Now()
		a := goRecv(ctx, rx)
		synctest.Wait()
		a.pending(t)
		time.Sleep(time.Hour - time.Nanosecond)
		synctest.Wait()
		a.pending(t)
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		a.failed(t, context.DeadlineExceeded)
		if d := time.Since(start); d != time.Hour {
			t.Fatalf("Recv gave up after %v, want 1h", d)
		}
		if gate.OneshotRecvArmed(rx) || tx.IsClosed() || rx.IsClosed() {
			t.Fatalf("a cancelled Recv had an effect (armed %v, closed %v)", gate.OneshotRecvArmed(rx), tx.IsClosed())
		}
		if err := tx.Send(3); err != nil {
			t.Fatalf("Send after a cancelled Recv = %v", err)
		}
		tryRecvIs(t, rx, 3, nil)
	})
}

// WaitClosed waits until the receiver closes (every queued call is woken
// with nil). Send uses the sender up, as Close does (API.md): it ends the
// WaitClosed calls in flight with ErrClosed, and a later one returns
// ErrClosed at once; so does the sender's Close. (WaitClosed used to wait,
// after a Send, until the value was received: API.md changed the rule.)
func TestOneshotWaitClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := func(tx *gate.OneshotSender[int]) []*async[struct{}] {
			var as []*async[struct{}]
			for range 3 {
				as = append(as, goWaitClosed(t.Context(), tx))
			}
			synctest.Wait()
			for _, a := range as {
				a.pending(t)
			}
			if n := gate.OneshotCloseWaiters(tx); n != 3 {
				t.Fatalf("%d WaitClosed calls queued, want 3", n)
			}
			return as
		}
		for _, tc := range []struct {
			name string
			act  func(tx *gate.OneshotSender[int], rx *gate.OneshotReceiver[int])
			want error
		}{
			{"rx close", func(_ *gate.OneshotSender[int], rx *gate.OneshotReceiver[int]) { rx.Close() }, nil},
			{"send", func(tx *gate.OneshotSender[int], _ *gate.OneshotReceiver[int]) { _ = tx.Send(1) }, gate.ErrClosed},
			{"tx close", func(tx *gate.OneshotSender[int], _ *gate.OneshotReceiver[int]) { tx.Close() }, gate.ErrClosed},
		} {
			tx, rx := gate.Oneshot[int]()
			as := start(tx)
			tc.act(tx, rx)
			synctest.Wait()
			for _, a := range as {
				if _, err := a.returned(t); err != tc.want {
					t.Fatalf("%s: WaitClosed = %v, want %v", tc.name, err, tc.want)
				}
			}
			if err := tx.WaitClosed(t.Context()); err != tc.want {
				t.Fatalf("%s: a later WaitClosed = %v, want %v", tc.name, err, tc.want)
			}
		}
	})
}

// IsClosed has one meaning on both handles (API.md, Handles and Close): the
// handle was closed, or the other side is. The sender is closed by its Send
// or Close, or by the receiver's; the receiver by its Close or by receiving
// the value, or by the sender's Send (the value may still wait for TryRecv,
// as buffered values do on a closed mpsc) or Close. A TryRecv that finds
// nothing and a Recv that gives up close nothing.
func TestOneshotIsClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type pair struct {
			tx *gate.OneshotSender[int]
			rx *gate.OneshotReceiver[int]
		}
		want := func(what string, p pair, closed bool) {
			t.Helper()
			if tx, rx := p.tx.IsClosed(), p.rx.IsClosed(); tx != closed || rx != closed {
				t.Fatalf("%s: sender IsClosed %v, receiver IsClosed %v; want %v", what, tx, rx, closed)
			}
		}
		for _, tc := range []struct {
			name  string
			act   func(p pair)
			value bool // a value is still there to receive
		}{
			{"send", func(p pair) { _ = p.tx.Send(1) }, true},
			{"tx close", func(p pair) { p.tx.Close() }, false},
			{"rx close", func(p pair) { p.rx.Close() }, false},
			{"send, rx close", func(p pair) { _ = p.tx.Send(1); p.rx.Close() }, true},
			{"send, recv", func(p pair) { _ = p.tx.Send(1); _, _ = p.rx.Recv(t.Context()) }, false},
			{"rx close from another goroutine", func(p pair) { go p.rx.Close(); synctest.Wait() }, false},
		} {
			tx, rx := gate.Oneshot[int]()
			p := pair{tx, rx}
			want(tc.name+": new", p, false)
			tryRecvIs(t, rx, 0, gate.ErrEmpty)
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			if _, err := rx.Recv(ctx); err != context.DeadlineExceeded {
				t.Fatalf("%s: Recv = %v, want DeadlineExceeded", tc.name, err)
			}
			cancel()
			want(tc.name+": after ErrEmpty and a Recv that gave up", p, false)
			tc.act(p)
			want(tc.name, p, true)
			if tc.value {
				tryRecvIs(t, rx, 1, nil)
				want(tc.name+": value received", p, true)
			}
			tryRecvIs(t, rx, 0, gate.ErrClosed)
		}
	})
}

// A Close of the receiver from another goroutine ends a Recv that waits:
// with ErrClosed, or with the value if one was sent before the Close (API.md,
// Handles and Close); an armed Ready becomes receivable. Run under -race.
func TestOneshotReceiverCloseEndsRecv(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Oneshot[int]()
		a := goRecv(t.Context(), rx)
		synctest.Wait()
		a.pending(t)
		go rx.Close()
		synctest.Wait()
		a.failed(t, gate.ErrClosed)
		if err := tx.Send(1); err != gate.ErrClosed {
			t.Fatalf("Send after the receiver's Close = %v, want ErrClosed", err)
		}

		_, rx = gate.Oneshot[int]()
		ready := rx.Ready()
		go rx.Close()
		synctest.Wait()
		if !isReady(ready) {
			t.Fatal("Ready not receivable after a Close from another goroutine")
		}
		tryRecvIs(t, rx, 0, gate.ErrClosed)
	})
	// The race itself, on real goroutines: a Send, the receiver's Close
	// and a waiting Recv. A Send that returned nil is received exactly
	// once, by the Recv or by a TryRecv after it; one that failed
	// delivered nothing.
	watchdog(t)
	for i := range loomRounds(1000) {
		tx, rx := gate.Oneshot[int]()
		sent := make(chan error, 1)
		go func() { sent <- tx.Send(i) }()
		go rx.Close()
		v, err := rx.Recv(context.Background())
		serr := <-sent
		switch {
		case err == nil && serr == nil && v == i:
		case err == gate.ErrClosed && serr == gate.ErrClosed:
		default:
			t.Fatalf("Recv = %d, %v with Send = %v", v, err, serr)
		}
		tryRecvIs(t, rx, 0, gate.ErrClosed)
	}
}

// Ready is receivable at once, without allocating, when TryRecv would report
// a value or ErrClosed; otherwise it becomes receivable when the sender
// sends or closes, or when the receiver closes. After a receive from it,
// TryRecv never reports ErrEmpty.
func TestOneshotReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			act     func(tx *gate.OneshotSender[int], rx *gate.OneshotReceiver[int])
			want    int
			wantErr error
		}{
			{"send", func(tx *gate.OneshotSender[int], _ *gate.OneshotReceiver[int]) { _ = tx.Send(5) }, 5, nil},
			{"tx close", func(tx *gate.OneshotSender[int], _ *gate.OneshotReceiver[int]) { tx.Close() }, 0, gate.ErrClosed},
			{"rx close", func(_ *gate.OneshotSender[int], rx *gate.OneshotReceiver[int]) { rx.Close() }, 0, gate.ErrClosed},
		} {
			tx, rx := gate.Oneshot[int]()
			ready := rx.Ready()
			if isReady(ready) {
				t.Fatalf("%s: Ready receivable before anything happened", tc.name)
			}
			tryRecvIs(t, rx, 0, gate.ErrEmpty)
			// The earlier ErrEmpty does not disarm it.
			go tc.act(tx, rx)
			synctest.Wait()
			if !isReady(ready) {
				t.Fatalf("%s: Ready not receivable after it", tc.name)
			}
			tryRecvIs(t, rx, tc.want, tc.wantErr)
			if !isReady(rx.Ready()) {
				t.Fatalf("%s: Ready after the end not receivable", tc.name)
			}
		}

		// In a select beside a ticker: nothing invented while waiting.
		tx, rx := gate.Oneshot[int]()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		go func() {
			time.Sleep(3500 * time.Millisecond)
			_ = tx.Send(9)
		}()
		ticks := 0
	loop:
		for {
			select {
			case <-rx.Ready():
				v, err := rx.TryRecv()
				if err != nil || v != 9 {
					t.Fatalf("TryRecv after Ready = %d, %v", v, err)
				}
				break loop
			case <-tick.C:
				ticks++
			}
		}
		if ticks != 3 {
			t.Fatalf("%d ticks before the value, want 3", ticks)
		}
	})

	tx, rx := gate.Oneshot[int]()
	_ = tx.Send(1)
	if n := testing.AllocsPerRun(100, func() { <-rx.Ready() }); n != 0 {
		t.Fatalf("Ready with a value there allocates %v times", n)
	}
}

// The channel of the value is received exactly once, and a receive of
// every other Ready comes from a close, never from a value invented.
func TestOneshotReadyAfterValueTaken(t *testing.T) {
	tx, rx := gate.Oneshot[int]()
	_ = tx.Send(1)
	<-rx.Ready()
	tryRecvIs(t, rx, 1, nil)
	<-rx.Ready()
	tryRecvIs(t, rx, 0, gate.ErrClosed)
}

// Allocations: creating a channel, sending and receiving allocate once (the
// channel); Send, TryRecv and Recv of a value that is there allocate
// nothing.
func TestOneshotAllocs(t *testing.T) {
	ctx := context.Background()
	var sink *gate.OneshotSender[int]
	if n := testing.AllocsPerRun(200, func() {
		tx, rx := gate.Oneshot[int]()
		sink = tx
		_ = tx.Send(1)
		_, _ = rx.Recv(ctx)
	}); n > 1 {
		t.Fatalf("create+Send+Recv allocates %v times, want at most 1", n)
	}
	_ = sink
	txs := make([]*gate.OneshotSender[int], 300)
	rxs := make([]*gate.OneshotReceiver[int], 300)
	for i := range txs {
		txs[i], rxs[i] = gate.Oneshot[int]()
	}
	i := 0
	if n := testing.AllocsPerRun(100, func() {
		_ = txs[i].Send(i)
		_, _ = rxs[i].TryRecv()
		_ = txs[i+1].Send(i)
		_, _ = rxs[i+1].Recv(ctx)
		i += 2
	}); n != 0 {
		t.Fatalf("Send, TryRecv and Recv allocate %v times, want 0", n)
	}
}

// The channel lets go of the value once it is received, and a Send that
// failed keeps nothing in it.
func TestOneshotReleasesValue(t *testing.T) {
	tx, rx := gate.Oneshot[*[1 << 10]byte]()
	v := new([1 << 10]byte)
	wp := weak.Make(v)
	if err := tx.Send(v); err != nil {
		t.Fatalf("Send = %v", err)
	}
	got, err := rx.TryRecv()
	if err != nil || got != v {
		t.Fatalf("TryRecv = %p, %v", got, err)
	}
	v, got = nil, nil
	runtime.GC()
	if wp.Value() != nil {
		t.Fatalf("the received value is still referenced by the channel")
	}
	runtime.KeepAlive(rx)
}

// A oneshot made outside any bubble (here, before the first bubble starts;
// a package-level variable would be used up by the first run of go test
// -count=N) works in one bubble after another: a Recv that gave up in one
// bubble leaves nothing that the next one uses. Ready's channel is kept by
// the receiver (the core's readiness), so it belongs to the bubble of the
// first Ready that armed it: here, the last bubble.
func TestOneshotAcrossBubbles(t *testing.T) {
	packageOneshotTx, packageOneshotRx := gate.Oneshot[int]()
	for range 2 {
		synctest.Test(t, func(t *testing.T) {
			for what, wait := range map[string]func(context.Context) error{
				"Recv":       func(ctx context.Context) error { _, err := packageOneshotRx.Recv(ctx); return err },
				"WaitClosed": packageOneshotTx.WaitClosed,
			} {
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				err := wait(ctx)
				cancel()
				if err != context.DeadlineExceeded {
					t.Fatalf("%s = %v, want DeadlineExceeded", what, err)
				}
			}
		})
	}
	synctest.Test(t, func(t *testing.T) {
		ready := packageOneshotRx.Ready()
		go func() { _ = packageOneshotTx.Send(4) }()
		synctest.Wait()
		<-ready
		tryRecvIs(t, packageOneshotRx, 4, nil)
	})
	if !packageOneshotTx.IsClosed() || !packageOneshotRx.IsClosed() {
		t.Fatalf("handles not closed after the value was sent and taken")
	}
}

// ---------------------------------------------------------------------------
// tokio's loom scenarios (src/sync/tests/loom_oneshot.rs and the list in
// reference §3.15), as rounds of real goroutines under the race detector.

// smoke: a Send from another goroutine reaches a blocked Recv.
func TestOneshotLoomSmoke(t *testing.T) {
	watchdog(t)
	for range loomRounds(2000) {
		tx, rx := gate.Oneshot[int]()
		go func() {
			if err := tx.Send(1); err != nil {
				t.Errorf("Send = %v", err)
			}
		}()
		if v, err := rx.Recv(context.Background()); v != 1 || err != nil {
			t.Fatalf("Recv = %d, %v", v, err)
		}
	}
}

// changing_rx_task: one goroutine waits briefly (its ctx may end before the
// Send arrives); if it got nothing, another goroutine takes over the receiver
// and gets the value.
func TestOneshotLoomChangingRxGoroutine(t *testing.T) {
	watchdog(t)
	for i := range loomRounds(2000) {
		tx, rx := gate.Oneshot[int]()
		go func() { _ = tx.Send(1) }()
		type res struct {
			v   int
			err error
		}
		first := make(chan res)
		go func() {
			ctx, cancel := context.WithCancel(context.Background())
			if i%2 == 0 {
				cancel()
			} else {
				go cancel()
			}
			var r res
			if i%3 == 0 {
				select {
				case <-rx.Ready():
					r.v, r.err = rx.TryRecv()
				case <-ctx.Done():
					r.err = ctx.Err()
				}
			} else {
				r.v, r.err = rx.Recv(ctx)
			}
			cancel()
			first <- r
		}()
		r := <-first
		switch {
		case r.err == nil:
			if r.v != 1 {
				t.Fatalf("first receiver got %d", r.v)
			}
		case r.err == context.Canceled:
			if v, err := rx.Recv(context.Background()); v != 1 || err != nil {
				t.Fatalf("second receiver: Recv = %d, %v", v, err)
			}
		default:
			t.Fatalf("first receiver: %v", r.err)
		}
	}
}

// changing_tx_task: the same for WaitClosed while the receiver closes.
func TestOneshotLoomChangingTxGoroutine(t *testing.T) {
	watchdog(t)
	for i := range loomRounds(2000) {
		tx, rx := gate.Oneshot[int]()
		go rx.Close()
		first := make(chan error)
		go func() {
			ctx, cancel := context.WithCancel(context.Background())
			if i%2 == 0 {
				cancel()
			} else {
				go cancel()
			}
			err := tx.WaitClosed(ctx)
			cancel()
			first <- err
		}()
		switch err := <-first; err {
		case nil:
		case context.Canceled:
			if err := tx.WaitClosed(context.Background()); err != nil {
				t.Fatalf("second WaitClosed = %v", err)
			}
		default:
			t.Fatalf("first WaitClosed = %v", err)
		}
		if !tx.IsClosed() {
			t.Fatalf("IsClosed = false after WaitClosed")
		}
	}
}

// try_recv_close: the sender closes in one goroutine while the receiver
// closes and tries to receive: always ErrClosed, never a value.
func TestOneshotLoomTryRecvClose(t *testing.T) {
	watchdog(t)
	for range loomRounds(2000) {
		tx, rx := gate.Oneshot[int]()
		done := make(chan struct{})
		go func() { tx.Close(); close(done) }()
		rx.Close()
		tryRecvIs(t, rx, 0, gate.ErrClosed)
		<-done
	}
}

// recv_closed / checking_tx_send_ok_not_drop / drop_rx_after_poll: a Send
// races with the receiver's Close (and a Recv whose ctx ends). A Send that
// returned nil is received exactly once, by the drain after Close; a Send
// that failed delivered nothing. Either way, every call returns.
func TestOneshotLoomSendVersusClose(t *testing.T) {
	watchdog(t)
	var delivered, refused int
	for i := range loomRounds(2000) {
		tx, rx := gate.Oneshot[int]()
		sent := make(chan error)
		go func() { sent <- tx.Send(i) }()
		if i%2 == 0 {
			// drop_rx_after_poll: wait a moment, give up, then close.
			ctx, cancel := context.WithCancel(context.Background())
			go cancel()
			v, err := rx.Recv(ctx)
			cancel()
			if err == nil {
				if v != i {
					t.Fatalf("Recv = %d, want %d", v, i)
				}
				if serr := <-sent; serr != nil {
					t.Fatalf("received a value whose Send returned %v", serr)
				}
				delivered++
				continue
			}
			if err != context.Canceled {
				t.Fatalf("Recv = %v", err)
			}
		}
		rx.Close()
		v, err := rx.TryRecv()
		serr := <-sent
		switch {
		case serr == nil && err == nil && v == i:
			delivered++
		case serr == gate.ErrClosed && err == gate.ErrClosed:
			refused++
		default:
			t.Fatalf("Send = %v but TryRecv after Close = %d, %v", serr, v, err)
		}
		tryRecvIs(t, rx, 0, gate.ErrClosed)
	}
	t.Logf("%d delivered, %d refused", delivered, refused)
}

// ---------------------------------------------------------------------------
// Model (TESTING.md layer 2)

// oneshotModel is the sequential model of a oneshot channel.
type oneshotModel struct {
	sent     bool // a Send succeeded
	value    int  // the value held, if has
	has      bool // a value is held, not yet received
	txUsed   bool // Send or Close was called: the sender handle is used up
	txClosed bool // the sender was used up without a value
	rxClosed bool // Close called, or the value or ErrClosed reported

	recv       int            // id of the pending Recv, or 0
	waits      map[int]bool   // pending WaitClosed ids
	done       map[int]string // how each call returned
	readyValid bool           // the last Ready's channel is the armed one
}

// tryRecv models TryRecv (and a Recv that need not wait).
func (m *oneshotModel) tryRecv() string {
	switch {
	case m.has:
		m.has = false
		m.closeRx()
		return fmt.Sprintf("value %d", m.value)
	case m.txClosed || m.rxClosed:
		m.closeRx()
		return "closed"
	}
	return "empty"
}

// closeRx marks the receiver closed and wakes WaitClosed calls.
func (m *oneshotModel) closeRx() {
	if m.rxClosed {
		return
	}
	m.rxClosed = true
	for id := range m.waits {
		m.done[id] = "nil"
	}
	clear(m.waits)
}

// completed wakes a pending Recv once the sender sent or closed.
func (m *oneshotModel) completed() {
	if m.recv != 0 {
		m.done[m.recv] = m.tryRecv()
		m.recv = 0
	}
}

// readyExpected is whether the armed Ready channel must be receivable.
func (m *oneshotModel) readyExpected() bool { return m.has || m.txClosed || m.rxClosed }

type oneshotObs struct {
	Done     map[int]string
	IsClosed bool // both handles: they have one meaning
	Terminal bool // the receiver has nothing left but a value sent before its Close
	HasValue bool
	Armed    bool
	Ready    bool // the last Ready is receivable (false if not valid)
}

func (m *oneshotModel) obs() oneshotObs {
	return oneshotObs{
		Done:     maps.Clone(m.done),
		IsClosed: m.txUsed || m.rxClosed,
		Terminal: m.rxClosed,
		HasValue: m.has,
		Armed:    m.recv != 0 || m.readyValid && !m.readyExpected(),
		Ready:    m.readyValid && m.readyExpected(),
	}
}

type oneshotMachine struct {
	tx      *gate.OneshotSender[int]
	rx      *gate.OneshotReceiver[int]
	m       oneshotModel
	nextID  int
	results map[int]chan string // pending calls
	cancels map[int]context.CancelFunc
	done    map[int]string // how each call returned
	readyCh <-chan struct{}

	precancelled map[int]bool // calls started with a done ctx
}

func newOneshotMachine() *oneshotMachine {
	tx, rx := gate.Oneshot[int]()
	return &oneshotMachine{
		tx: tx, rx: rx,
		m:       oneshotModel{waits: map[int]bool{}, done: map[int]string{}},
		results: map[int]chan string{},
		cancels: map[int]context.CancelFunc{},
		done:    map[int]string{},

		precancelled: map[int]bool{},
	}
}

func oneshotResult(v int, err error) string {
	switch {
	case err == nil:
		return fmt.Sprintf("value %d", v)
	case err == gate.ErrClosed:
		return "closed"
	case err == gate.ErrEmpty:
		return "empty"
	case err == context.Canceled:
		return "canceled"
	}
	return fmt.Sprintf("unexpected error %v", err)
}

// start runs f in a goroutine with a ctx of its own and returns its id.
func (om *oneshotMachine) start(rt *rapid.T, f func(ctx context.Context) string) int {
	om.nextID++
	id := om.nextID
	ctx, cancel := context.WithCancel(context.Background())
	if rapid.IntRange(0, 7).Draw(rt, "precancelled") == 7 {
		cancel()
		om.precancelled[id] = true
	}
	om.cancels[id] = cancel
	ch := make(chan string, 1)
	om.results[id] = ch
	go func() { ch <- f(ctx) }()
	synctest.Wait() // returned or parked: the next action cannot overtake it
	return id
}

func (om *oneshotMachine) send(rt *rapid.T) {
	v := rapid.IntRange(1, 100).Draw(rt, "v")
	err := om.tx.Send(v)
	want := "closed"
	if !om.m.txUsed && !om.m.rxClosed {
		want = "nil"
		om.m.sent, om.m.has, om.m.value = true, true, v
	} else if !om.m.txUsed {
		om.m.txClosed = true // refused by a closed receiver
	}
	om.m.useTx()
	om.m.completed()
	if got := map[bool]string{true: "nil", false: oneshotResult(0, err)}[err == nil]; got != want {
		rt.Fatalf("Send = %s, want %s", got, want)
	}
}

func (om *oneshotMachine) txClose(rt *rapid.T) {
	om.tx.Close()
	if !om.m.txUsed {
		om.m.txClosed = true
		om.m.useTx()
		om.m.completed()
	}
}

// useTx marks the sender handle used up (Send, Close): its WaitClosed calls
// end with ErrClosed.
func (m *oneshotModel) useTx() {
	m.txUsed = true
	for id := range m.waits {
		m.done[id] = "closed"
	}
	clear(m.waits)
}

// receiverFree skips receiver actions while a Recv runs: a receiver is used
// by one goroutine at a time.
func (om *oneshotMachine) receiverFree() bool { return om.m.recv == 0 }

func (om *oneshotMachine) rxClose(rt *rapid.T) {
	if !om.receiverFree() {
		return
	}
	om.rx.Close()
	om.m.closeRx()
}

func (om *oneshotMachine) tryRecv(rt *rapid.T) {
	if !om.receiverFree() {
		return
	}
	got := oneshotResult(om.rx.TryRecv())
	if want := om.m.tryRecv(); got != want {
		rt.Fatalf("TryRecv = %s, want %s", got, want)
	}
}

func (om *oneshotMachine) recv(rt *rapid.T) {
	if !om.receiverFree() {
		return
	}
	id := om.start(rt, func(ctx context.Context) string { return oneshotResult(om.rx.Recv(ctx)) })
	if om.cancelledAtStart(id) {
		return // no effect: an armed Ready stays armed
	}
	if r := om.m.tryRecv(); r != "empty" {
		om.m.done[id] = r
		return
	}
	om.m.recv = id // an armed Ready stays armed beside it
}

// cancelledAtStart models a call whose ctx was done when it started: it
// fails first, with no effect.
func (om *oneshotMachine) cancelledAtStart(id int) bool {
	if om.precancelled[id] {
		om.m.done[id] = "canceled"
		return true
	}
	return false
}

func (om *oneshotMachine) cancelRecv(rt *rapid.T) {
	if om.m.recv == 0 {
		return
	}
	om.cancels[om.m.recv]()
	synctest.Wait() // it leaves before the next action can complete it
	om.m.done[om.m.recv] = "canceled"
	om.m.recv = 0
}

func (om *oneshotMachine) ready(rt *rapid.T) {
	if !om.receiverFree() {
		return
	}
	om.readyCh = om.rx.Ready()
	om.m.readyValid = true
}

func (om *oneshotMachine) waitClosed(rt *rapid.T) {
	id := om.start(rt, func(ctx context.Context) string {
		if err := om.tx.WaitClosed(ctx); err != nil {
			return oneshotResult(0, err)
		}
		return "nil"
	})
	switch {
	case om.cancelledAtStart(id):
	case om.m.txUsed:
		om.m.done[id] = "closed"
	case om.m.rxClosed:
		om.m.done[id] = "nil"
	default:
		om.m.waits[id] = true
	}
}

func (om *oneshotMachine) cancelWaitClosed(rt *rapid.T) {
	if len(om.m.waits) == 0 {
		return
	}
	id := rapid.SampledFrom(slices.Sorted(maps.Keys(om.m.waits))).Draw(rt, "wait")
	om.cancels[id]()
	synctest.Wait()
	delete(om.m.waits, id)
	om.m.done[id] = "canceled"
}

func (om *oneshotMachine) check(rt *rapid.T) {
	synctest.Wait()
	for id, ch := range om.results {
		select {
		case r := <-ch:
			om.done[id] = r
			delete(om.results, id)
		default:
		}
	}
	if om.tx.IsClosed() != om.rx.IsClosed() {
		rt.Fatalf("sender IsClosed %v, receiver IsClosed %v: one meaning on both", om.tx.IsClosed(), om.rx.IsClosed())
	}
	got := oneshotObs{
		Done:     maps.Clone(om.done),
		IsClosed: om.tx.IsClosed(),
		Terminal: gate.OneshotTerminated(om.rx),
		HasValue: gate.OneshotHasValue(om.rx),
		Armed:    gate.OneshotRecvArmed(om.rx),
		Ready:    om.m.readyValid && isReady(om.readyCh),
	}
	if diff := cmp.Diff(om.m.obs(), got); diff != "" {
		rt.Fatalf("model (-) vs oneshot (+):\n%s", diff)
	}
	if got.Ready {
		// Received from once: the next select needs a new Ready call.
		om.m.readyValid = false
	}
}

func (om *oneshotMachine) cleanup() {
	for _, cancel := range om.cancels {
		cancel()
	}
	synctest.Wait()
}

func oneshotModelCheck(rt *rapid.T) {
	runModel(rt, func(rt *rapid.T) (func(), modelActions) {
		om := newOneshotMachine()
		return om.cleanup, modelActions{
			"":                 om.check,
			"send":             om.send,
			"txClose":          om.txClose,
			"rxClose":          om.rxClose,
			"tryRecv":          om.tryRecv,
			"recv":             om.recv,
			"cancelRecv":       om.cancelRecv,
			"ready":            om.ready,
			"waitClosed":       om.waitClosed,
			"cancelWaitClosed": om.cancelWaitClosed,
		}
	})
}

// TestOneshotModel runs random sequences of sends, closes of either side,
// receives (waiting, trying, through Ready), WaitClosed calls and
// cancellations against the model.
func TestOneshotModel(t *testing.T) { checkModel(t, oneshotModelCheck, false) }

func FuzzOneshotModel(f *testing.F) { fuzzModel(f, oneshotModelCheck, false) }
