package gate_test

// Tests of the broadcast channel: every case of tokio's
// tests/sync_broadcast.rs that has a meaning in Go (with exact capacity, so
// the cases that relied on rounding up to a power of two are re-derived), the
// loom scenarios of tokio/src/sync/tests/loom_broadcast.rs run many times in
// synctest bubbles, and the rules of API.md (Context, Fairness of SendWait,
// Close, Nothing lost, Select, Testing, allocation).
//
// Not ported: change_tasks (one future polled by two tasks), send_in_waker_drop
// and receiver_recv_is_cooperative (wakers and coop budget), panic_in_clone
// (a Go receive copies the value; there is no Clone to panic), and
// broadcast_sender_new_must_be_closed's constructor (there is no sender-only
// constructor; the same behaviour is tested on a channel whose receivers all
// closed).

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"weak"

	"pgregory.net/rapid"

	"github.com/gophergate/gate"
)

// recvOK takes the next value with TryRecv and fails unless there is one.
func recvOK[T any](t *testing.T, rx *gate.BroadcastReceiver[T]) T {
	t.Helper()
	v, err := rx.TryRecv()
	if err != nil {
		t.Fatalf("TryRecv: %v, want a value", err)
	}
	return v
}

// recvWant fails unless TryRecv returns want.
func recvWant[T comparable](t *testing.T, rx *gate.BroadcastReceiver[T], want T) {
	t.Helper()
	if v := recvOK(t, rx); v != want {
		t.Fatalf("TryRecv = %v, want %v", v, want)
	}
}

// recvErr fails unless TryRecv returns want (compared with ==).
func recvErr[T any](t *testing.T, rx *gate.BroadcastReceiver[T], want error) {
	t.Helper()
	if v, err := rx.TryRecv(); err != want {
		t.Fatalf("TryRecv = (%v, %v), want %v", v, err, want)
	}
}

// lagged fails unless err is a *LaggedError for n values.
func lagged(t *testing.T, err error, n uint64) {
	t.Helper()
	var le *gate.LaggedError
	if !errors.As(err, &le) || !errors.Is(err, gate.ErrLagged) {
		t.Fatalf("error %v, want a *LaggedError", err)
	}
	if le.Skipped != n {
		t.Fatalf("Lagged(%d), want Lagged(%d)", le.Skipped, n)
	}
}

// recvLagged fails unless TryRecv reports a lag of n values.
func recvLagged[T any](t *testing.T, rx *gate.BroadcastReceiver[T], n uint64) {
	t.Helper()
	v, err := rx.TryRecv()
	if err == nil {
		t.Fatalf("TryRecv = %v, want Lagged(%d)", v, n)
	}
	lagged(t, err, n)
}

// rxLen fails unless rx.Len() is want.
func rxLen[T any](t *testing.T, rx *gate.BroadcastReceiver[T], want int) {
	t.Helper()
	if n := rx.Len(); n != want {
		t.Fatalf("Len = %d, want %d", n, want)
	}
}

// send sends v and fails unless it reaches want receivers.
func send[T any](t *testing.T, tx *gate.BroadcastSender[T], v T, want int) {
	t.Helper()
	n, err := tx.Send(v)
	if err != nil || n != want {
		t.Fatalf("Send(%v) = (%d, %v), want (%d, nil)", v, n, err, want)
	}
}

// sendAll sends every value of vs; each must reach at least one receiver.
func sendAll[T any](t *testing.T, tx *gate.BroadcastSender[T], vs ...T) {
	t.Helper()
	for _, v := range vs {
		if _, err := tx.Send(v); err != nil {
			t.Fatalf("Send(%v): %v", v, err)
		}
	}
}

// ---------------------------------------------------------------------------
// tokio tests/sync_broadcast.rs

func TestBroadcastSendTryRecv(t *testing.T) { // send_try_recv_bounded
	tx, rx := gate.Broadcast[string](16)
	recvErr(t, rx, gate.ErrEmpty)
	send(t, tx, "hello", 1)
	recvWant(t, rx, "hello")
	recvErr(t, rx, gate.ErrEmpty)
}

func TestBroadcastSendTwoRecv(t *testing.T) { // send_two_recv
	tx, rx1 := gate.Broadcast[string](16)
	rx2 := tx.Subscribe()
	recvErr(t, rx1, gate.ErrEmpty)
	recvErr(t, rx2, gate.ErrEmpty)
	send(t, tx, "hello", 2)
	recvWant(t, rx1, "hello")
	recvWant(t, rx2, "hello")
	recvErr(t, rx1, gate.ErrEmpty)
	recvErr(t, rx2, gate.ErrEmpty)
}

func TestBroadcastSendWakesRecv(t *testing.T) { // send_recv_bounded
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Broadcast[string](16)
		recv := goCall("Recv", func() (string, error) { return rx.Recv(t.Context()) })
		synctest.Wait()
		recv.pending(t)
		send(t, tx, "hello", 1)
		synctest.Wait()
		if v := recv.ok(t); v != "hello" {
			t.Fatalf("Recv = %q", v)
		}
	})
}

func TestBroadcastSendWakesTwoRecv(t *testing.T) { // send_two_recv_bounded
	synctest.Test(t, func(t *testing.T) {
		tx, rx1 := gate.Broadcast[string](16)
		rx2 := tx.Subscribe()
		recv1 := goCall("Recv 1", func() (string, error) { return rx1.Recv(t.Context()) })
		recv2 := goCall("Recv 2", func() (string, error) { return rx2.Recv(t.Context()) })
		synctest.Wait()
		recv1.pending(t)
		recv2.pending(t)
		send(t, tx, "hello", 2)
		synctest.Wait()
		if v1, v2 := recv1.ok(t), recv2.ok(t); v1 != "hello" || v2 != "hello" {
			t.Fatalf("Recv = %q, %q", v1, v2)
		}

		// Only rx1 waits now; rx2 is not woken but gets the value later.
		recv1 = goCall("Recv 1", func() (string, error) { return rx1.Recv(t.Context()) })
		synctest.Wait()
		recv1.pending(t)
		if n := gate.BroadcastRecvWaiters(tx); n != 1 {
			t.Fatalf("%d receivers wait, want 1", n)
		}
		send(t, tx, "world", 2)
		synctest.Wait()
		if v := recv1.ok(t); v != "world" {
			t.Fatalf("Recv 1 = %q", v)
		}
		if v, err := rx2.Recv(t.Context()); err != nil || v != "world" {
			t.Fatalf("Recv 2 = %q, %v", v, err)
		}
	})
}

func TestBroadcastSlowReceiver(t *testing.T) { // send_slow_rx
	synctest.Test(t, func(t *testing.T) {
		tx, rx1 := gate.Broadcast[string](16)
		rx2 := tx.Subscribe()
		recv2 := goCall("Recv 2", func() (string, error) { return rx2.Recv(t.Context()) })
		recv1 := goCall("Recv 1", func() (string, error) { return rx1.Recv(t.Context()) })
		synctest.Wait()
		recv1.pending(t)
		recv2.pending(t)
		send(t, tx, "one", 2)
		send(t, tx, "two", 2)
		synctest.Wait()
		if v := recv1.ok(t); v != "one" {
			t.Fatalf("Recv 1 = %q", v)
		}
		recvWant(t, rx1, "two")
		recv1 = goCall("Recv 1", func() (string, error) { return rx1.Recv(t.Context()) })
		synctest.Wait()
		recv1.pending(t)
		send(t, tx, "three", 2)
		synctest.Wait()
		if v := recv1.ok(t); v != "three" {
			t.Fatalf("Recv 1 = %q", v)
		}
		if v := recv2.ok(t); v != "one" {
			t.Fatalf("Recv 2 = %q", v)
		}
		recvWant(t, rx2, "two")
		recvWant(t, rx2, "three")
	})
}

func TestBroadcastCloseReceiversWithValuesLeft(t *testing.T) { // drop_rx_while_values_remain
	tx, rx1 := gate.Broadcast[string](16)
	rx2 := tx.Subscribe()
	send(t, tx, "one", 2)
	send(t, tx, "two", 2)
	recvOK(t, rx1)
	recvOK(t, rx2)
	rx2.Close()
	rx1.Close()
	if tx.ReceiverCount() != 0 || tx.Len() != 0 {
		t.Fatalf("ReceiverCount %d, Len %d, want 0, 0", tx.ReceiverCount(), tx.Len())
	}
	if _, err := tx.Send("three"); err != gate.ErrClosed {
		t.Fatalf("Send with no receiver: %v, want ErrClosed", err)
	}
}

func TestBroadcastLaggingReceiver(t *testing.T) { // lagging_rx
	tx, rx1 := gate.Broadcast[string](2)
	rx2 := tx.Subscribe()
	send(t, tx, "one", 2)
	send(t, tx, "two", 2)
	recvWant(t, rx1, "one")
	send(t, tx, "three", 2)
	recvLagged(t, rx2, 1)
	recvWant(t, rx2, "two")
	recvWant(t, rx1, "two")
	recvWant(t, rx1, "three")
	send(t, tx, "four", 2)
	send(t, tx, "five", 2)
	recvLagged(t, rx2, 1)
	send(t, tx, "six", 2)
	recvLagged(t, rx2, 1)
}

func TestBroadcastSendNoReceiver(t *testing.T) { // send_no_rx
	tx, rx := gate.Broadcast[string](16)
	rx.Close()
	if n, err := tx.Send("hello"); err != gate.ErrClosed || n != 0 {
		t.Fatalf("Send = (%d, %v), want (0, ErrClosed)", n, err)
	}
	rx = tx.Subscribe()
	send(t, tx, "world", 1)
	recvWant(t, rx, "world") // "hello" was not stored
	recvErr(t, rx, gate.ErrEmpty)
}

func TestBroadcastCapacityPanics(t *testing.T) { // zero_capacity, capacity_too_big
	mustPanic(t, "Broadcast(0)", func() { gate.Broadcast[int](0) })
	mustPanic(t, "Broadcast(-1)", func() { gate.Broadcast[int](-1) })
	if gate.MaxPermits < int(^uint(0)>>1) {
		mustPanic(t, "Broadcast(MaxPermits+1)", func() { gate.Broadcast[int](gate.MaxPermits + 1) })
	}
}

func TestBroadcastLastSenderCloseWakesReceivers(t *testing.T) { // dropping_tx_notifies_rx
	synctest.Test(t, func(t *testing.T) {
		tx, rx1 := gate.Broadcast[int](16)
		rx2 := tx.Subscribe()
		tx2 := tx.Clone()
		recv1 := goCall("Recv 1", func() (int, error) { return rx1.Recv(t.Context()) })
		recv2 := goCall("Recv 2", func() (int, error) { return rx2.Recv(t.Context()) })
		synctest.Wait()
		tx.Close()
		synctest.Wait()
		recv1.pending(t)
		recv2.pending(t)
		if rx1.IsClosed() {
			t.Fatal("IsClosed with one sender open")
		}
		tx2.Close()
		synctest.Wait()
		recv1.failed(t, gate.ErrClosed)
		recv2.failed(t, gate.ErrClosed)
		if !rx1.IsClosed() || !rx2.IsClosed() {
			t.Fatal("IsClosed false after every sender closed")
		}
	})
}

// TestBroadcastCloseReleasesValues is unconsumed_messages_are_dropped: a
// value that no open receiver still has to read is not kept alive by the
// ring.
func TestBroadcastCloseReleasesValues(t *testing.T) {
	tx, rx := gate.Broadcast[*[64]byte](16)
	p := new([64]byte)
	wp := weak.Make(p)
	send(t, tx, p, 1)
	p = nil
	runtime.GC()
	if wp.Value() == nil {
		t.Fatal("value collected while a receiver still had to read it")
	}
	rx.Close()
	runtime.GC()
	if wp.Value() != nil {
		t.Fatal("value still alive after its only receiver closed")
	}

	// The same once every receiver has read it.
	rx = tx.Subscribe()
	rx2 := tx.Subscribe()
	p = new([64]byte)
	wp = weak.Make(p)
	send(t, tx, p, 2)
	p = nil
	recvOK(t, rx)
	runtime.GC()
	if wp.Value() == nil {
		t.Fatal("value collected while rx2 still had to read it")
	}
	recvOK(t, rx2)
	runtime.GC()
	if wp.Value() != nil {
		t.Fatal("value still alive after every receiver read it")
	}
}

func TestBroadcastSingleCapacity(t *testing.T) { // single_capacity_recvs*
	t.Run("recv", func(t *testing.T) {
		tx, rx := gate.Broadcast[int](1)
		send(t, tx, 1, 1)
		recvWant(t, rx, 1)
		recvErr(t, rx, gate.ErrEmpty)
	})
	t.Run("after close 1", func(t *testing.T) {
		tx, rx := gate.Broadcast[int](1)
		send(t, tx, 1, 1)
		tx.Close()
		recvWant(t, rx, 1)
		recvErr(t, rx, gate.ErrClosed)
	})
	t.Run("after close 2", func(t *testing.T) {
		tx, rx := gate.Broadcast[int](1)
		send(t, tx, 1, 1)
		send(t, tx, 2, 1)
		tx.Close()
		recvLagged(t, rx, 1)
		recvWant(t, rx, 2)
		recvErr(t, rx, gate.ErrClosed)
	})
}

func TestBroadcastCloseDoesNotOverwrite(t *testing.T) { // dropping_sender_does_not_overwrite
	tx, rx := gate.Broadcast[int](2)
	sendAll(t, tx, 1, 2)
	tx.Close()
	recvWant(t, rx, 1)
	recvWant(t, rx, 2)
	recvErr(t, rx, gate.ErrClosed)
	recvErr(t, rx, gate.ErrClosed)
}

func TestBroadcastLaggingRecoversAfterWrap(t *testing.T) { // lagging_receiver_recovers_after_wrap_*
	t.Run("closed 1", func(t *testing.T) {
		tx, rx := gate.Broadcast[int](2)
		sendAll(t, tx, 1, 2, 3)
		tx.Close()
		recvLagged(t, rx, 1)
		recvWant(t, rx, 2)
		recvWant(t, rx, 3)
		recvErr(t, rx, gate.ErrClosed)
	})
	t.Run("closed 2", func(t *testing.T) {
		tx, rx := gate.Broadcast[int](2)
		sendAll(t, tx, 1, 2, 3, 4)
		tx.Close()
		recvLagged(t, rx, 2)
		recvWant(t, rx, 3)
		recvWant(t, rx, 4)
		recvErr(t, rx, gate.ErrClosed)
	})
	t.Run("open", func(t *testing.T) {
		tx, rx := gate.Broadcast[int](2)
		sendAll(t, tx, 1, 2, 3)
		recvLagged(t, rx, 1)
		recvWant(t, rx, 2)
		recvWant(t, rx, 3)
		recvErr(t, rx, gate.ErrEmpty)
	})
}

// TestBroadcastReceiverLenWithLag is receiver_len_with_lagged re-derived
// for an exact capacity of 3 (tokio's rounds up to 4, where 4 values fit).
// Len never exceeds the capacity (API.md; tokio counts the values lost too).
func TestBroadcastReceiverLenWithLag(t *testing.T) {
	tx, rx := gate.Broadcast[int](3)
	sendAll(t, tx, 10, 20, 30, 40)
	rxLen(t, rx, 3)
	recvLagged(t, rx, 1) // 4 values in 3 slots: 10 was overwritten
	rxLen(t, rx, 3)
	recvWant(t, rx, 20)
	sendAll(t, tx, 50, 60)
	rxLen(t, rx, 3)
	recvLagged(t, rx, 1) // 30 overwritten by 60
	recvWant(t, rx, 40)
	recvWant(t, rx, 50)
	recvWant(t, rx, 60)
	recvErr(t, rx, gate.ErrEmpty)
}

func TestBroadcastResubscribePointsToTail(t *testing.T) { // resubscribe_points_to_tail
	tx, rx := gate.Broadcast[int](3)
	send(t, tx, 1, 1)
	resub := rx.Resubscribe()
	recvErr(t, resub, gate.ErrEmpty)
	recvWant(t, rx, 1)
	send(t, tx, 2, 2)
	recvWant(t, resub, 2)
	send(t, tx, 3, 2)
	recvWant(t, rx, 2)
	recvWant(t, rx, 3)
	recvErr(t, rx, gate.ErrEmpty)
	recvWant(t, resub, 3)
	recvErr(t, resub, gate.ErrEmpty)
}

func TestBroadcastResubscribeLagged(t *testing.T) { // resubscribe_lagged
	tx, rx := gate.Broadcast[int](1)
	sendAll(t, tx, 1, 2)
	resub := rx.Resubscribe()
	recvLagged(t, rx, 1)
	recvErr(t, resub, gate.ErrEmpty)
	recvWant(t, rx, 2)
	recvErr(t, rx, gate.ErrEmpty)
	recvErr(t, resub, gate.ErrEmpty)
}

func TestBroadcastResubscribeClosedChannel(t *testing.T) { // resubscribe_to_closed_channel
	tx, rx := gate.Broadcast[uint32](2)
	tx.Close()
	resub := rx.Resubscribe()
	recvErr(t, resub, gate.ErrClosed)
	if !resub.IsClosed() {
		t.Fatal("IsClosed false")
	}
}

func TestBroadcastSenderLen(t *testing.T) { // sender_len
	tx, rx1 := gate.Broadcast[int](4)
	rx2 := tx.Subscribe()
	wantLen := func(n int) {
		t.Helper()
		if got := tx.Len(); got != n {
			t.Fatalf("Sender.Len = %d, want %d", got, n)
		}
	}
	wantLen(0)
	sendAll(t, tx, 1, 2, 3)
	wantLen(3)
	recvOK(t, rx1)
	recvOK(t, rx1)
	wantLen(3)
	recvOK(t, rx2)
	wantLen(2)
	sendAll(t, tx, 4, 5, 6)
	wantLen(4)
}

func TestBroadcastSenderLenRandom(t *testing.T) { // sender_len_random
	r := rand.New(rand.NewPCG(1, 2))
	tx, rx1 := gate.Broadcast[int](16)
	rx2 := tx.Subscribe()
	for range 1000 {
		switch r.IntN(4) {
		case 0:
			rx1.TryRecv()
		case 1:
			rx2.TryRecv()
		default:
			send(t, tx, 0, 2)
		}
		if got, want := tx.Len(), min(max(rx1.Len(), rx2.Len()), 16); got != want {
			t.Fatalf("Sender.Len = %d, want %d", got, want)
		}
	}
}

func TestBroadcastWaitClosed(t *testing.T) { // broadcast_sender_closed
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Broadcast[int](1)
		rx2 := tx.Subscribe()
		wait := goErr("WaitClosed", func() error { return tx.WaitClosed(t.Context()) })
		synctest.Wait()
		wait.pending(t)
		rx.Close()
		synctest.Wait()
		wait.pending(t)
		rx2.Close()
		synctest.Wait()
		wait.ok(t)
	})
}

func TestBroadcastWaitClosedWithExtraSubscribe(t *testing.T) { // broadcast_sender_closed_with_extra_subscribe
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Broadcast[int](1)
		rx2 := tx.Subscribe()
		wait := goErr("WaitClosed", func() error { return tx.WaitClosed(t.Context()) })
		synctest.Wait()
		rx.Close()
		synctest.Wait()
		wait.pending(t)
		rx2.Close()
		synctest.Wait()
		wait.ok(t)

		// A new receiver: a new WaitClosed waits for it.
		rx3 := tx.Subscribe()
		wait = goErr("WaitClosed", func() error { return tx.WaitClosed(t.Context()) })
		synctest.Wait()
		wait.pending(t)
		rx3.Close()
		synctest.Wait()
		wait.ok(t)

		// No receiver: at once.
		if err := tx.WaitClosed(t.Context()); err != nil {
			t.Fatalf("WaitClosed with no receiver: %v", err)
		}
		rx4 := tx.Subscribe()
		wait = goErr("WaitClosed", func() error { return tx.WaitClosed(t.Context()) })
		synctest.Wait()
		wait.pending(t)
		rx4.Close()
		synctest.Wait()
		wait.ok(t)
	})
}

// Lagging semantics (the block at the end of sync_broadcast.rs).

func TestBroadcastSlowReceiverWithinCapacityDoesNotLag(t *testing.T) {
	tx, slow := gate.Broadcast[int](2)
	fast := tx.Subscribe()
	sendAll(t, tx, 1, 2)
	recvWant(t, fast, 1)
	recvWant(t, fast, 2)
	recvErr(t, fast, gate.ErrEmpty)
	recvWant(t, slow, 1)
	recvWant(t, slow, 2)
	recvErr(t, slow, gate.ErrEmpty)
}

func TestBroadcastLaggedCountsOverwritten(t *testing.T) {
	tx, rx := gate.Broadcast[int](4)
	sendAll(t, tx, 1, 2, 3, 4)
	recvWant(t, rx, 1)
	sendAll(t, tx, 5, 6, 7, 8)
	recvLagged(t, rx, 3)
	for v := 5; v <= 8; v++ {
		recvWant(t, rx, v)
	}
	recvErr(t, rx, gate.ErrEmpty)
}

// TestBroadcastLagUsesExactCapacity replaces lag_uses_power_of_two_buffer_length:
// capacity 3 holds 3 values, not 4, so the fourth unread value lags.
func TestBroadcastLagUsesExactCapacity(t *testing.T) {
	tx, rx := gate.Broadcast[int](3)
	sendAll(t, tx, 1, 2, 3)
	rxLen(t, rx, 3)
	recvWant(t, rx, 1)
	send(t, tx, 4, 1) // holds 2, 3, 4: still no lag
	rxLen(t, rx, 3)
	send(t, tx, 5, 1) // overwrites 2; Len stays at the capacity
	rxLen(t, rx, 3)
	recvLagged(t, rx, 1)
	for v := 3; v <= 5; v++ {
		recvWant(t, rx, v)
	}
	recvErr(t, rx, gate.ErrEmpty)

	// tokio's sequence: four values into capacity 3 lag by one (tokio keeps
	// all four).
	tx2, rx2 := gate.Broadcast[int](3)
	sendAll(t, tx2, 1, 2, 3, 4)
	rxLen(t, rx2, 3)
	recvLagged(t, rx2, 1)
	recvWant(t, rx2, 2)
}

func TestBroadcastRecvLaggedThenOldest(t *testing.T) { // async_recv_lagged_then_resumes_from_oldest_retained
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Broadcast[int](2)
		sendAll(t, tx, 10, 20, 30)
		_, err := rx.Recv(t.Context())
		lagged(t, err, 1)
		for _, want := range []int{20, 30} {
			if v, err := rx.Recv(t.Context()); err != nil || v != want {
				t.Fatalf("Recv = (%d, %v), want %d", v, err, want)
			}
		}
	})
}

func TestBroadcastLagCatchUpThenLagAgain(t *testing.T) {
	tx, rx := gate.Broadcast[int](2)
	sendAll(t, tx, 1, 2, 3)
	recvLagged(t, rx, 1)
	recvWant(t, rx, 2)
	recvWant(t, rx, 3)
	recvErr(t, rx, gate.ErrEmpty)
	sendAll(t, tx, 4, 5, 6)
	recvLagged(t, rx, 1)
	recvWant(t, rx, 5)
	recvWant(t, rx, 6)
	recvErr(t, rx, gate.ErrEmpty)
}

func TestBroadcastLagIsPerReceiver(t *testing.T) {
	tx, slow := gate.Broadcast[int](2)
	fast := tx.Subscribe()
	sendAll(t, tx, 1, 2)
	recvWant(t, fast, 1)
	recvWant(t, fast, 2)
	sendAll(t, tx, 3, 4)
	recvWant(t, fast, 3)
	recvWant(t, fast, 4)
	recvLagged(t, slow, 2)
	recvWant(t, slow, 3)
	recvWant(t, slow, 4)
	recvErr(t, slow, gate.ErrEmpty)
	recvErr(t, fast, gate.ErrEmpty)
}

func TestBroadcastLagAgainBeforeReadingRetained(t *testing.T) {
	tx, rx := gate.Broadcast[int](2)
	sendAll(t, tx, 1, 2, 3)
	recvLagged(t, rx, 1)
	sendAll(t, tx, 4, 5, 6)
	recvLagged(t, rx, 3)
	recvWant(t, rx, 5)
	recvWant(t, rx, 6)
	recvErr(t, rx, gate.ErrEmpty)
}

func TestBroadcastSingleSlotLag(t *testing.T) {
	tx, rx := gate.Broadcast[int](1)
	send(t, tx, 1, 1)
	recvWant(t, rx, 1)
	sendAll(t, tx, 2, 3)
	recvLagged(t, rx, 1)
	recvWant(t, rx, 3)
	recvErr(t, rx, gate.ErrEmpty)
}

func TestBroadcastReceiverLenAfterLag(t *testing.T) {
	tx, rx := gate.Broadcast[int](2)
	sendAll(t, tx, 1, 2, 3, 4)
	for _, step := range []struct {
		len  int
		want int // 0: the lag
	}{{2, 0}, {2, 3}, {1, 4}, {0, -1}} { // never above the capacity, 2
		rxLen(t, rx, step.len)
		switch step.want {
		case 0:
			recvLagged(t, rx, 2)
		case -1:
		default:
			recvWant(t, rx, step.want)
		}
	}
}

// ---------------------------------------------------------------------------
// tokio src/sync/tests/loom_broadcast.rs, as synctest scenarios run many
// times: the goroutines of a bubble still interleave as the scheduler picks,
// and a lost wake-up is a deadlock that synctest reports at once.

// countAll receives until ErrClosed and returns values received plus values
// reported skipped.
func countAll(ctx context.Context, rx *gate.BroadcastReceiver[string]) (int, error) {
	n := 0
	for {
		_, err := rx.Recv(ctx)
		var le *gate.LaggedError
		switch {
		case err == nil:
			n++
		case errors.As(err, &le):
			n += int(le.Skipped)
		case err == gate.ErrClosed:
			return n, nil
		default:
			return n, err
		}
	}
}

func TestBroadcastLoomSend(t *testing.T) { // broadcast_send
	for range loomRounds(200) {
		synctest.Test(t, func(t *testing.T) {
			tx1, rx := gate.Broadcast[string](2)
			tx2 := tx1.Clone()
			var wg sync.WaitGroup
			for _, w := range []struct {
				tx *gate.BroadcastSender[string]
				vs []string
			}{{tx1, []string{"one", "two", "three"}}, {tx2, []string{"eins", "zwei", "drei"}}} {
				wg.Go(func() {
					for _, v := range w.vs {
						if _, err := w.tx.Send(v); err != nil {
							t.Errorf("Send: %v", err)
						}
						runtime.Gosched()
					}
					w.tx.Close()
				})
			}
			n, err := countAll(t.Context(), rx)
			if err != nil || n != 6 {
				t.Errorf("received + skipped = %d (%v), want 6", n, err)
			}
			wg.Wait()
		})
	}
}

func TestBroadcastLoomTwo(t *testing.T) { // broadcast_two
	for range loomRounds(200) {
		synctest.Test(t, func(t *testing.T) {
			tx, rx1 := gate.Broadcast[*string](16)
			rx2 := tx.Subscribe()
			var wg sync.WaitGroup
			for _, rx := range []*gate.BroadcastReceiver[*string]{rx1, rx2} {
				wg.Go(func() {
					for _, want := range []string{"hello", "world"} {
						v, err := rx.Recv(t.Context())
						if err != nil || *v != want {
							t.Errorf("Recv = %v, %v; want %q", v, err, want)
							return
						}
					}
					if _, err := rx.Recv(t.Context()); err != gate.ErrClosed {
						t.Errorf("Recv after close: %v", err)
					}
				})
			}
			hello, world := "hello", "world"
			sendAll(t, tx, &hello, &world)
			tx.Close()
			wg.Wait()
		})
	}
}

func TestBroadcastLoomWrap(t *testing.T) { // broadcast_wrap
	for range loomRounds(200) {
		synctest.Test(t, func(t *testing.T) {
			tx, rx1 := gate.Broadcast[string](2)
			rx2 := tx.Subscribe()
			var wg sync.WaitGroup
			for _, rx := range []*gate.BroadcastReceiver[string]{rx1, rx2} {
				wg.Go(func() {
					if n, err := countAll(t.Context(), rx); err != nil || n != 3 {
						t.Errorf("received + skipped = %d (%v), want 3", n, err)
					}
				})
			}
			sendAll(t, tx, "one", "two", "three")
			tx.Close()
			wg.Wait()
		})
	}
}

func TestBroadcastLoomCloseReceiver(t *testing.T) { // drop_rx
	for range loomRounds(200) {
		synctest.Test(t, func(t *testing.T) {
			tx, rx1 := gate.Broadcast[string](16)
			rx2 := tx.Subscribe()
			var wg sync.WaitGroup
			wg.Go(func() {
				for _, want := range []string{"one", "two", "three"} {
					if v, err := rx1.Recv(t.Context()); err != nil || v != want {
						t.Errorf("Recv = %q, %v; want %q", v, err, want)
					}
				}
				if _, err := rx1.Recv(t.Context()); err != gate.ErrClosed {
					t.Errorf("Recv after close: %v", err)
				}
			})
			wg.Go(rx2.Close)
			sendAll(t, tx, "one", "two", "three")
			tx.Close()
			wg.Wait()
		})
	}
}

func TestBroadcastLoomCloseReceiversWithOverflow(t *testing.T) { // drop_multiple_rx_with_overflow
	for range loomRounds(200) {
		synctest.Test(t, func(t *testing.T) {
			tx, rx := gate.Broadcast[struct{}](1)
			rx2 := tx.Subscribe()
			tx.Send(struct{}{})
			tx2 := tx.Clone()
			var wg sync.WaitGroup
			wg.Go(func() {
				for range 100 {
					tx2.Send(struct{}{})
				}
				tx2.Close()
			})
			tx.Send(struct{}{})
			tx.Close()
			wg.Go(func() {
				for {
					_, err := rx.Recv(t.Context())
					if err == gate.ErrClosed {
						return
					}
					if err != nil && !errors.Is(err, gate.ErrLagged) {
						t.Errorf("Recv: %v", err)
						return
					}
				}
			})
			wg.Wait()
			rx2.Close()
			rx.Close()
		})
	}
}

// ---------------------------------------------------------------------------
// API.md rules

// TestBroadcastDoneCtx: a done ctx fails every call that can wait, first,
// with no effect, even when it could complete at once.
func TestBroadcastDoneCtx(t *testing.T) {
	tx, rx := gate.Broadcast[int](4)
	done := doneCtx(context.Background())
	send(t, tx, 1, 1)
	if _, err := rx.Recv(done); err != context.Canceled {
		t.Fatalf("Recv(done ctx) with a value there: %v, want context.Canceled", err)
	}
	recvWant(t, rx, 1) // not taken
	if _, err := tx.SendWait(done, 2); err != context.Canceled {
		t.Fatalf("SendWait(done ctx) with room: %v, want context.Canceled", err)
	}
	recvErr(t, rx, gate.ErrEmpty) // not sent
	if err := tx.WaitClosed(done); err != context.Canceled {
		t.Fatalf("WaitClosed(done ctx): %v", err)
	}
	// Before ErrClosed too.
	tx.Close()
	rx.Close()
	if _, err := rx.Recv(done); err != context.Canceled {
		t.Fatalf("Recv(done ctx) on a closed receiver: %v", err)
	}
	if _, err := tx.SendWait(done, 3); err != context.Canceled {
		t.Fatalf("SendWait(done ctx) on a closed sender: %v", err)
	}
	if err := tx.WaitClosed(done); err != context.Canceled {
		t.Fatalf("WaitClosed(done ctx) on a closed sender: %v", err)
	}
}

// TestBroadcastRecvCancel: a Recv whose ctx ends while it waits returns
// ctx.Err() (a deadline fires on the bubble's clock) and takes nothing.
func TestBroadcastRecvCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Broadcast[int](4)
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		start := time.Now()
		recv := goCall("Recv", func() (int, error) { return rx.Recv(ctx) })
		synctest.Wait()
		recv.pending(t)
		time.Sleep(time.Hour)
		synctest.Wait()
		recv.failed(t, context.DeadlineExceeded)
		if d := time.Since(start); d != time.Hour {
			t.Fatalf("gave up after %v", d)
		}
		if n := gate.BroadcastRecvWaiters(tx); n != 0 {
			t.Fatalf("%d receivers still queued", n)
		}
		send(t, tx, 7, 1)
		recvWant(t, rx, 7)

		// Cancelled by hand.
		ctx, cancel = context.WithCancel(t.Context())
		recv = goCall("Recv", func() (int, error) { return rx.Recv(ctx) })
		synctest.Wait()
		cancel()
		synctest.Wait()
		recv.failed(t, context.Canceled)
	})
}

// TestBroadcastSendWaitBackpressure: SendWait waits while the oldest slot has
// a reader to go, and goes once every receiver read it (or closed).
func TestBroadcastSendWaitBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx1 := gate.Broadcast[int](2)
		rx2 := tx.Subscribe()
		for v := 1; v <= 2; v++ {
			if n, err := tx.SendWait(t.Context(), v); err != nil || n != 2 {
				t.Fatalf("SendWait(%d) = %d, %v", v, n, err)
			}
		}
		sw := goCall("SendWait(3)", func() (int, error) { return tx.SendWait(t.Context(), 3) })
		synctest.Wait()
		sw.pending(t)
		recvWant(t, rx1, 1)
		synctest.Wait()
		sw.pending(t) // rx2 has not read 1
		recvWant(t, rx2, 1)
		synctest.Wait()
		if n := sw.ok(t); n != 2 {
			t.Fatalf("SendWait returned %d, want 2", n)
		}
		// Nobody lagged.
		recvWant(t, rx2, 2)
		recvWant(t, rx2, 3)
		recvWant(t, rx1, 2)
		recvWant(t, rx1, 3)

		// A receiver that closes releases what it still had to read.
		sendAll(t, tx, 4, 5)
		recvWant(t, rx1, 4)
		recvWant(t, rx1, 5)
		sw = goCall("SendWait(6)", func() (int, error) { return tx.SendWait(t.Context(), 6) })
		synctest.Wait()
		sw.pending(t)
		rx2.Close()
		synctest.Wait()
		if n := sw.ok(t); n != 1 {
			t.Fatalf("SendWait returned %d, want 1", n)
		}
		recvWant(t, rx1, 6)
	})
}

// TestBroadcastSendWaitFIFO: SendWait callers go in the order they started
// waiting, one slot each; a newcomer SendWait does not barge.
func TestBroadcastSendWaitFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Broadcast[int](1)
		send(t, tx, 0, 1)
		var sws []*async[int]
		for v := 1; v <= 3; v++ {
			sws = append(sws, goCall("SendWait", func() (int, error) { return tx.SendWait(t.Context(), v) }))
			synctest.Wait() // queued in this order
		}
		if n := gate.BroadcastSendWaiters(tx); n != 3 {
			t.Fatalf("%d SendWait queued, want 3", n)
		}
		for v := 0; v <= 3; v++ {
			recvWant(t, rx, v)
			synctest.Wait()
			for i, sw := range sws {
				if i < v {
					continue
				}
				if i == v {
					sw.ok(t)
				} else {
					sw.pending(t)
				}
			}
		}
		recvErr(t, rx, gate.ErrEmpty)
	})
}

// TestBroadcastSendDoesNotWaitBehindSendWait: a plain Send overwrites the
// oldest value at once while a SendWait waits, and the SendWait then waits
// for the next oldest.
func TestBroadcastSendDoesNotWaitBehindSendWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Broadcast[int](2)
		sendAll(t, tx, 1, 2)
		sw := goCall("SendWait(10)", func() (int, error) { return tx.SendWait(t.Context(), 10) })
		synctest.Wait()
		send(t, tx, 3, 1) // overwrites 1
		synctest.Wait()
		sw.pending(t)
		recvLagged(t, rx, 1)
		synctest.Wait()
		sw.pending(t)
		recvWant(t, rx, 2) // frees the oldest slot
		synctest.Wait()
		sw.ok(t)
		recvWant(t, rx, 3)
		recvWant(t, rx, 10)

		// Told its turn had come, but a Send takes the slot first: the
		// waiter keeps its place and waits for the next one.
		sendAll(t, tx, 4, 5)
		sw1 := goCall("SendWait(11)", func() (int, error) { return tx.SendWait(t.Context(), 11) })
		synctest.Wait()
		sw2 := goCall("SendWait(12)", func() (int, error) { return tx.SendWait(t.Context(), 12) })
		synctest.Wait()
		recvWant(t, rx, 4) // frees the slot; sw1 is told...
		send(t, tx, 6, 1)  // ...but Send takes it first (holding 5, 6)
		synctest.Wait()
		sw1.pending(t)
		sw2.pending(t)
		recvWant(t, rx, 5)
		synctest.Wait()
		sw1.ok(t)
		sw2.pending(t)
		recvWant(t, rx, 6)
		synctest.Wait()
		sw2.ok(t)
		recvWant(t, rx, 11)
		recvWant(t, rx, 12)
	})
}

// TestBroadcastSendWaitCancel: a cancelled SendWait leaves the queue with no
// effect, and one that was told its turn had come passes the turn on.
func TestBroadcastSendWaitCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Broadcast[int](1)
		send(t, tx, 0, 1)
		ctx1, cancel1 := context.WithCancel(t.Context())
		sw1 := goCall("SendWait(1)", func() (int, error) { return tx.SendWait(ctx1, 1) })
		synctest.Wait()
		sw2 := goCall("SendWait(2)", func() (int, error) { return tx.SendWait(t.Context(), 2) })
		synctest.Wait()
		cancel1()
		synctest.Wait()
		sw1.failed(t, context.Canceled)
		sw2.pending(t)
		if n := gate.BroadcastSendWaiters(tx); n != 1 {
			t.Fatalf("%d SendWait queued, want 1", n)
		}
		recvWant(t, rx, 0)
		synctest.Wait()
		sw2.ok(t)
		recvWant(t, rx, 2) // 1 was never sent
		recvErr(t, rx, gate.ErrEmpty)

		// The head is told and cancelled before it can send: the turn goes
		// to the next waiter. The receiver reads and the cancel happen with
		// no synctest.Wait between, so the head may see either first; both
		// must end with one of the two values sent and nothing lost.
		send(t, tx, 20, 1) // the ring is full again
		ctx3, cancel3 := context.WithCancel(t.Context())
		sw3 := goCall("SendWait(3)", func() (int, error) { return tx.SendWait(ctx3, 3) })
		synctest.Wait()
		sw4 := goCall("SendWait(4)", func() (int, error) { return tx.SendWait(t.Context(), 4) })
		synctest.Wait()
		recvWant(t, rx, 20)
		cancel3()
		synctest.Wait()
		_, err3 := sw3.returned(t)
		switch err3 {
		case context.Canceled:
			sw4.ok(t)
			recvWant(t, rx, 4)
		case nil:
			sw4.pending(t)
			recvWant(t, rx, 3)
			synctest.Wait()
			sw4.ok(t)
			recvWant(t, rx, 4)
		default:
			t.Fatalf("SendWait(3): %v", err3)
		}
		recvErr(t, rx, gate.ErrEmpty)
	})
}

// TestBroadcastSendWaitClosed: SendWait fails with ErrClosed when no receiver
// is left, when its handle closes while it waits, and on a closed handle; a
// waiter on another handle is not affected by that handle's Close.
func TestBroadcastSendWaitClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Broadcast[int](1)
		tx2 := tx.Clone()
		send(t, tx, 0, 1)
		sw1 := goCall("SendWait on tx", func() (int, error) { return tx.SendWait(t.Context(), 1) })
		synctest.Wait()
		sw2 := goCall("SendWait on tx2", func() (int, error) { return tx2.SendWait(t.Context(), 2) })
		synctest.Wait()
		tx.Close()
		synctest.Wait()
		sw1.failed(t, gate.ErrClosed)
		sw2.pending(t)
		closedTx(t, tx)
		rx.Close() // the last receiver
		synctest.Wait()
		sw2.failed(t, gate.ErrClosed)
		if _, err := tx2.SendWait(t.Context(), 9); err != gate.ErrClosed {
			t.Fatalf("SendWait with no receiver: %v", err)
		}
		// Subscribe reopens.
		rx = tx2.Subscribe()
		if n, err := tx2.SendWait(t.Context(), 5); err != nil || n != 1 {
			t.Fatalf("SendWait after Subscribe = %d, %v", n, err)
		}
		recvWant(t, rx, 5)
	})
}

// TestBroadcastHandles: Clone, Close, Subscribe, Resubscribe and the
// counts, including handles used after their own Close.
func TestBroadcastHandles(t *testing.T) {
	tx, rx := gate.Broadcast[int](4)
	if tx.ReceiverCount() != 1 {
		t.Fatalf("ReceiverCount = %d", tx.ReceiverCount())
	}
	rx2 := rx.Resubscribe()
	rx3 := tx.Subscribe()
	if tx.ReceiverCount() != 3 {
		t.Fatalf("ReceiverCount = %d", tx.ReceiverCount())
	}
	rx3.Close()
	rx3.Close() // idempotent
	if tx.ReceiverCount() != 2 {
		t.Fatalf("ReceiverCount after Close = %d", tx.ReceiverCount())
	}
	closedRx(t, rx3)
	tx2 := tx.Clone()
	tx.Close()
	tx.Close() // idempotent
	if rx.IsClosed() || tx2.IsClosed() {
		t.Fatal("IsClosed with a clone open")
	}
	closedTx(t, tx)
	if tx.ReceiverCount() != 2 {
		t.Fatalf("ReceiverCount = %d after calls on closed handles, want 2", tx.ReceiverCount())
	}
	send(t, tx2, 1, 2)
	tx2.Close()
	recvWant(t, rx, 1)
	recvWant(t, rx2, 1)
	recvErr(t, rx, gate.ErrClosed)
	recvErr(t, rx2, gate.ErrClosed)
	if !rx.IsClosed() {
		t.Fatal("IsClosed false")
	}
}

// closedRx fails unless every call on rx answers as on a closed receiver
// (API.md: every later call on a closed handle returns ErrClosed; its
// Resubscribe is closed; reads still answer).
func closedRx(t *testing.T, rx *gate.BroadcastReceiver[int]) {
	t.Helper()
	recvErr(t, rx, gate.ErrClosed)
	if _, err := rx.Recv(context.Background()); err != gate.ErrClosed {
		t.Fatalf("Recv on a closed receiver: %v", err)
	}
	if rx.Len() != 0 || !rx.IsClosed() || !isReady(rx.Ready()) {
		t.Fatal("closed receiver: want Len 0, IsClosed, Ready receivable")
	}
	if !rx.Resubscribe().IsClosed() {
		t.Fatal("Resubscribe of a closed receiver is open")
	}
	for v, err := range rx.All(context.Background()) {
		t.Fatalf("All on a closed receiver yielded (%v, %v)", v, err)
	}
}

// closedTx fails unless every call on tx answers as on a closed sender: its
// Clone and its Subscribe are closed too.
func closedTx(t *testing.T, tx *gate.BroadcastSender[int]) {
	t.Helper()
	if _, err := tx.Send(9); err != gate.ErrClosed {
		t.Fatalf("Send on a closed sender: %v", err)
	}
	if _, err := tx.SendWait(context.Background(), 9); err != gate.ErrClosed {
		t.Fatalf("SendWait on a closed sender: %v", err)
	}
	if err := tx.WaitClosed(context.Background()); err != gate.ErrClosed {
		t.Fatalf("WaitClosed on a closed sender: %v", err)
	}
	if !tx.IsClosed() || !tx.Clone().IsClosed() || !tx.Subscribe().IsClosed() {
		t.Fatal("closed sender: want IsClosed, and its Clone and Subscribe closed")
	}
}

// closeFrom closes rx in another goroutine and waits for the Close to
// return (inside a bubble).
func closeFrom(t *testing.T, rx *gate.BroadcastReceiver[int]) {
	t.Helper()
	c := goErr("Close", func() error { rx.Close(); return nil })
	synctest.Wait()
	c.ok(t)
}

// TestBroadcastReceiverCloseEndsCalls: a receiver's Close, from a goroutine
// other than the one using it, ends its Recv in flight with ErrClosed, makes
// its armed Ready receivable (TryRecv then says ErrClosed), and counts it off
// what it had not read, so a SendWait waiting for it goes on.
func TestBroadcastReceiverCloseEndsCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Broadcast[int](1)
		armed, behind, reader := tx.Subscribe(), tx.Subscribe(), tx.Subscribe()
		recv := goCall("Recv", func() (int, error) { return rx.Recv(t.Context()) })
		ready := armed.Ready()
		synctest.Wait()
		recv.pending(t)
		if isReady(ready) {
			t.Fatal("Ready receivable on an empty channel")
		}
		rx.Close() // the test goroutine is not the one in Recv
		synctest.Wait()
		recv.failed(t, gate.ErrClosed)
		closedRx(t, rx)

		closeFrom(t, armed)
		if !isReady(ready) {
			t.Fatal("armed Ready not receivable after the receiver's Close")
		}
		closedRx(t, armed)

		send(t, tx, 1, 2)
		recvWant(t, reader, 1)
		sw := goCall("SendWait", func() (int, error) { return tx.SendWait(t.Context(), 2) })
		synctest.Wait()
		sw.pending(t) // behind has not read 1
		closeFrom(t, behind)
		if n := sw.ok(t); n != 1 {
			t.Fatalf("SendWait reached %d receivers, want 1", n)
		}
		closedRx(t, behind)
		recvWant(t, reader, 2)
		if n := tx.ReceiverCount(); n != 1 {
			t.Fatalf("ReceiverCount = %d, want 1", n)
		}
	})
}

// TestBroadcastCloseRace closes a receiver from another goroutine while its
// own goroutine is inside Recv, TryRecv or Ready (run it with -race): every
// call returns, and the Close counts the receiver off each value it had not
// read exactly once, so that once the receiver that stays has read
// everything, nothing is owed (Sender.Len 0) and SendWait fills the ring
// without waiting.
func TestBroadcastCloseRace(t *testing.T) {
	watchdog(t)
	ctx := context.Background()
	for round := range loomRounds(400) {
		tx, stay := gate.Broadcast[int](4)
		rx := tx.Subscribe()
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := round; ; i++ {
				var err error
				switch i % 3 {
				case 0:
					_, err = rx.Recv(ctx)
				case 1:
					_, err = rx.TryRecv()
				default:
					<-rx.Ready()
					_, err = rx.TryRecv()
				}
				if _, lag := err.(*gate.LaggedError); err == gate.ErrClosed {
					return
				} else if err != nil && err != gate.ErrEmpty && !lag {
					t.Errorf("round %d: %v", round, err)
					return
				}
			}
		})
		wg.Go(func() {
			for v := range round % 7 {
				tx.Send(v)
				if v == round%5 {
					runtime.Gosched()
				}
			}
		})
		wg.Go(func() {
			for range round % 3 {
				runtime.Gosched()
			}
			rx.Close()
		})
		wg.Wait()
		for {
			if _, err := stay.TryRecv(); err == gate.ErrEmpty {
				break
			}
		}
		if n, c := tx.Len(), tx.ReceiverCount(); n != 0 || c != 1 {
			t.Fatalf("round %d: Sender.Len = %d, ReceiverCount = %d, want 0, 1", round, n, c)
		}
		for v := range 4 {
			if _, err := tx.SendWait(ctx, v); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestBroadcastSenderCloseEndsCalls: a sender's Close ends the SendWait and
// WaitClosed calls in flight on that handle with ErrClosed, a SendWait in
// line for the turn too, but not those of another handle. IsClosed: this
// handle is closed, or no receiver is left.
func TestBroadcastSenderCloseEndsCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Broadcast[int](1)
		tx2 := tx.Clone()
		send(t, tx, 0, 1)
		sw2 := goCall("SendWait on tx2", func() (int, error) { return tx2.SendWait(t.Context(), 2) })
		synctest.Wait() // holds the turn, waits for the slot
		sw := goCall("SendWait on tx", func() (int, error) { return tx.SendWait(t.Context(), 1) })
		wc := goErr("WaitClosed on tx", func() error { return tx.WaitClosed(t.Context()) })
		wc2 := goErr("WaitClosed on tx2", func() error { return tx2.WaitClosed(t.Context()) })
		synctest.Wait()
		tx.Close()
		synctest.Wait()
		sw.failed(t, gate.ErrClosed)
		wc.failed(t, gate.ErrClosed)
		sw2.pending(t)
		wc2.pending(t)
		if !tx.IsClosed() || tx2.IsClosed() {
			t.Fatalf("IsClosed = %v, %v, want true, false", tx.IsClosed(), tx2.IsClosed())
		}
		recvWant(t, rx, 0)
		synctest.Wait()
		sw2.ok(t)
		rx.Close()
		synctest.Wait()
		wc2.ok(t)
		if !tx2.IsClosed() {
			t.Fatal("IsClosed false with no receiver left")
		}
		tx2.Subscribe()
		if tx2.IsClosed() {
			t.Fatal("IsClosed true after a Subscribe")
		}
	})
}

// TestBroadcastAll: All yields every value with a nil error, and a lag once
// as (zero, *LaggedError) followed by the oldest value held; it ends when
// every sender is closed and nothing is left.
func TestBroadcastAll(t *testing.T) {
	tx, rx := gate.Broadcast[int](2)
	sendAll(t, tx, 1, 2, 3, 4, 5)
	tx.Close()
	var got []string
	for v, err := range rx.All(context.Background()) {
		if err != nil && v != 0 {
			t.Fatalf("All yielded (%v, %v), want the zero value with an error", v, err)
		}
		got = append(got, recvString(v, err))
	}
	if want := []string{"lagged 3", "value 4", "value 5"}; !slices.Equal(got, want) {
		t.Fatalf("All yielded %q, want %q", got, want)
	}
}

// TestBroadcastAllEnds: All ends when ctx is done, when the loop breaks (the
// receiver stays at the next value), and when another goroutine closes the
// receiver.
func TestBroadcastAllEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Broadcast[int](4)
		count := func(ctx context.Context) *async[int] {
			return goCall("All", func() (int, error) {
				n := 0
				for range rx.All(ctx) {
					n++
				}
				return n, ctx.Err()
			})
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		loop := count(ctx)
		sendAll(t, tx, 1, 2)
		synctest.Wait()
		loop.pending(t)
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := loop.failed(t, context.DeadlineExceeded); n != 2 {
			t.Fatalf("All yielded %d values, want 2", n)
		}

		sendAll(t, tx, 3, 4)
		for v := range rx.All(t.Context()) {
			if v == 3 {
				break
			}
		}
		recvWant(t, rx, 4)

		loop = count(t.Context())
		synctest.Wait()
		rx.Close()
		synctest.Wait()
		if n := loop.ok(t); n != 0 {
			t.Fatalf("All yielded %d values, want 0", n)
		}
	})
}

// TestBroadcastWaitClosedCancel: a WaitClosed whose ctx ends leaves the
// queue.
func TestBroadcastWaitClosedCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Broadcast[int](1)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		wait := goErr("WaitClosed", func() error { return tx.WaitClosed(ctx) })
		synctest.Wait()
		wait.pending(t)
		time.Sleep(time.Minute)
		synctest.Wait()
		wait.failed(t, context.DeadlineExceeded)
		if n := gate.BroadcastCloseWaiters(tx); n != 0 {
			t.Fatalf("%d WaitClosed still queued", n)
		}
		rx.Close()
	})
}

// TestBroadcastReady checks the Select rule: receivable once TryRecv would
// return a value, a lag or ErrClosed; nothing invented, nothing lost.
func TestBroadcastReady(t *testing.T) {
	tx, rx := gate.Broadcast[int](1)
	if isReady(rx.Ready()) {
		t.Fatal("Ready receivable on an empty channel")
	}
	send(t, tx, 1, 1)
	if !isReady(rx.Ready()) {
		t.Fatal("Ready not receivable with a value there")
	}
	recvWant(t, rx, 1)

	// Armed, then a value: receivable (nothing lost).
	ch := rx.Ready()
	if isReady(ch) {
		t.Fatal("receivable before the send")
	}
	send(t, tx, 2, 1)
	if !isReady(ch) {
		t.Fatal("armed Ready not receivable after a send")
	}
	recvWant(t, rx, 2)

	// Armed and signalled, but the select took another case: the token is
	// not received. After TryRecv empties the receiver, a new Ready must not
	// be receivable (nothing invented).
	ch = rx.Ready()
	send(t, tx, 3, 1)
	recvWant(t, rx, 3)
	if ch2 := rx.Ready(); isReady(ch2) {
		t.Fatal("Ready receivable with nothing there (a stale wake-up)")
	}
	// Re-arming an armed receiver gives the same, still armed channel.
	if ch2 := rx.Ready(); isReady(ch2) {
		t.Fatal("Ready receivable with nothing there")
	}
	_ = ch

	// A lag makes it receivable.
	sendAll(t, tx, 4, 5)
	if !isReady(rx.Ready()) {
		t.Fatal("not receivable on a lag")
	}
	recvLagged(t, rx, 1)
	recvWant(t, rx, 5)

	// The last sender's Close makes it receivable: TryRecv says ErrClosed.
	ch = rx.Ready()
	if isReady(ch) {
		t.Fatal("receivable before Close")
	}
	tx.Close()
	if !isReady(ch) {
		t.Fatal("armed Ready not receivable after the last sender closed")
	}
	recvErr(t, rx, gate.ErrClosed)
	if !isReady(rx.Ready()) {
		t.Fatal("Ready not receivable on a closed channel")
	}
}

// TestBroadcastReadySelect uses Ready in a select loop beside a ticker, as
// API.md shows, in a bubble: the loop sees every value in order.
func TestBroadcastReadySelect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.Broadcast[int](8)
		var got []int
		ticks := 0
		loop := goErr("select loop", func() error {
			ticker := time.NewTicker(time.Second)
			defer ticker.Stop()
			for {
				select {
				case <-rx.Ready():
					v, err := rx.TryRecv()
					if err == gate.ErrClosed {
						return nil
					}
					if err != nil {
						return err
					}
					got = append(got, v)
				case <-ticker.C:
					ticks++
				}
			}
		})
		for v := range 5 {
			time.Sleep(1500 * time.Millisecond)
			send(t, tx, v, 1)
		}
		synctest.Wait()
		loop.pending(t)
		tx.Close()
		synctest.Wait()
		loop.ok(t)
		if len(got) != 5 || ticks < 5 {
			t.Fatalf("got %v after %d ticks", got, ticks)
		}
		for i, v := range got {
			if v != i {
				t.Fatalf("got %v", got)
			}
		}
		rx.Close()
	})
}

// TestBroadcastReadyCloseReceiver: closing an armed receiver takes it off the
// list, so no later Send signals it.
func TestBroadcastReadyCloseReceiver(t *testing.T) {
	tx, rx := gate.Broadcast[int](1)
	rx2 := tx.Subscribe()
	rx.Ready()
	if n := gate.BroadcastRecvWaiters(tx); n != 1 {
		t.Fatalf("%d armed, want 1", n)
	}
	rx.Close()
	if n := gate.BroadcastRecvWaiters(tx); n != 0 {
		t.Fatalf("%d armed after Close, want 0", n)
	}
	send(t, tx, 1, 1)
	recvWant(t, rx2, 1)
}

// TestBroadcastNoAllocs: no allocation per message in steady state: Send and
// TryRecv, SendWait and Recv without waiting, Ready with a value there and
// Ready re-armed in a select loop that is woken by each value.
func TestBroadcastNoAllocs(t *testing.T) {
	tx, rx := gate.Broadcast[int](4)
	rx2 := tx.Subscribe()
	ctx := context.Background()
	check := func(what string, f func()) {
		t.Helper()
		f() // warm up
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", what, n)
		}
	}
	check("Send+TryRecv", func() {
		tx.Send(1)
		rx.TryRecv()
		rx2.TryRecv()
	})
	check("SendWait+Recv", func() {
		tx.SendWait(ctx, 1)
		rx.Recv(ctx)
		rx2.Recv(ctx)
	})
	check("Ready+TryRecv", func() {
		tx.Send(1)
		<-rx.Ready()
		rx.TryRecv()
		rx2.TryRecv()
	})
	check("Ready armed", func() {
		ch := rx.Ready()
		rx2.Ready()
		tx.Send(1)
		<-ch
		rx.TryRecv()
		rx2.TryRecv()
	})
	check("TryRecv empty", func() { rx.TryRecv() })
}

// broadcastAcrossBubbles is made outside any bubble: it must work in one
// bubble after another and outside them (API.md, Testing).
var broadcastAcrossBubbles, broadcastAcrossBubblesRx = gate.Broadcast[int](1)

func TestBroadcastAcrossBubbles(t *testing.T) {
	tx := broadcastAcrossBubbles
	for round := range 3 {
		synctest.Test(t, func(t *testing.T) {
			rx := tx.Subscribe()
			recv := goCall("Recv", func() (int, error) { return rx.Recv(t.Context()) })
			synctest.Wait()
			recv.pending(t)
			send(t, tx, round, 2)
			synctest.Wait()
			if v := recv.ok(t); v != round {
				t.Fatalf("Recv = %d", v)
			}
			// SendWait parks (the package-level receiver has not read).
			sw := goCall("SendWait", func() (int, error) { return tx.SendWait(t.Context(), 100+round) })
			synctest.Wait()
			sw.pending(t)
			if _, err := broadcastAcrossBubblesRx.TryRecv(); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			sw.ok(t)
			if v, err := rx.Recv(t.Context()); err != nil || v != 100+round {
				t.Fatalf("Recv = %d, %v", v, err)
			}
			if v, err := broadcastAcrossBubblesRx.TryRecv(); err != nil || v != 100+round {
				t.Fatalf("package receiver: %d, %v", v, err)
			}
			// The armed Ready of an in-bubble receiver, closed before the
			// bubble ends.
			ch := rx.Ready()
			send(t, tx, 200+round, 2)
			<-ch
			recvWant(t, rx, 200+round)
			rx.Close()
			if _, err := broadcastAcrossBubblesRx.TryRecv(); err != nil {
				t.Fatal(err)
			}
		})
	}
	// And outside a bubble.
	watchdog(t)
	recv := goCall("Recv", func() (int, error) { return broadcastAcrossBubblesRx.Recv(context.Background()) })
	send(t, tx, 7, 1)
	if v, err := recv.wait(t); err != nil || v != 7 {
		t.Fatalf("Recv = %d, %v", v, err)
	}
}

// ---------------------------------------------------------------------------
// Model (TESTING.md layer 2): a sequential model of the whole channel, checked
// after every action once the bubble has settled. Values are unique numbers;
// the model keeps the value at every position, so every receive, lag count,
// length and SendWait result is predicted exactly.

// bcModelRx is a receiver in the model.
type bcModelRx struct {
	next int  // cursor
	sub  int  // tail when it subscribed: it counts for positions >= sub
	open bool // not closed
}

// bcModelSendWait is a queued SendWait.
type bcModelSendWait struct{ id, tx, v int }

type bcMachine struct {
	capacity int
	vals     []int // the value sent at each position; len is the tail
	closed   bool  // every sender handle closed
	nextVal  int

	tx     map[int]*gate.BroadcastSender[int]
	txOpen map[int]bool
	rx     map[int]*gate.BroadcastReceiver[int]
	rxm    map[int]*bcModelRx
	nextID int

	queue      []bcModelSendWait          // SendWait waiters, FIFO
	recvs      map[int]int                // receiver id -> id of its pending Recv
	closeWaits map[int]int                // pending WaitClosed id -> its sender id
	calls      map[int]*async[string]     // every call in flight
	cancels    map[int]context.CancelFunc // their ctx
	want       map[int]string             // calls that must have returned, with what
	arms       map[int]<-chan struct{}    // receiver id -> channel from Ready
}

func newBCMachine(rt *rapid.T) *bcMachine {
	m := &bcMachine{
		capacity:   rapid.IntRange(1, 4).Draw(rt, "capacity"),
		tx:         map[int]*gate.BroadcastSender[int]{},
		txOpen:     map[int]bool{},
		rx:         map[int]*gate.BroadcastReceiver[int]{},
		rxm:        map[int]*bcModelRx{},
		recvs:      map[int]int{},
		closeWaits: map[int]int{},
		calls:      map[int]*async[string]{},
		cancels:    map[int]context.CancelFunc{},
		want:       map[int]string{},
		arms:       map[int]<-chan struct{}{},
	}
	tx, rx := gate.Broadcast[int](m.capacity)
	m.tx[0], m.txOpen[0] = tx, true
	m.rx[0], m.rxm[0] = rx, &bcModelRx{open: true}
	m.nextID = 1
	return m
}

func (m *bcMachine) cleanup() {
	for _, cancel := range m.cancels {
		cancel()
	}
	synctest.Wait()
}

func (m *bcMachine) tail() int { return len(m.vals) }

func (m *bcMachine) openRx() int {
	n := 0
	for _, r := range m.rxm {
		if r.open {
			n++
		}
	}
	return n
}

// owed reports whether some open receiver has still to read position p.
func (m *bcMachine) owed(p int) bool {
	for _, r := range m.rxm {
		if r.open && r.sub <= p && r.next <= p {
			return true
		}
	}
	return false
}

// slotFree reports whether the next send overwrites nothing owed.
func (m *bcMachine) slotFree() bool {
	t := m.tail()
	return t < m.capacity || !m.owed(t-m.capacity)
}

func (m *bcMachine) has(r *bcModelRx) bool { return !r.open || m.closed || m.tail() > r.next }

// tryRecv applies a receive to r and returns the result as recvString does.
func (m *bcMachine) tryRecv(r *bcModelRx) string {
	t := m.tail()
	switch {
	case !r.open:
		return "closed"
	case t-r.next > m.capacity:
		skipped := t - m.capacity - r.next
		r.next = t - m.capacity
		return fmt.Sprintf("lagged %d", skipped)
	case r.next < t:
		r.next++
		return fmt.Sprintf("value %d", m.vals[r.next-1])
	case m.closed:
		return "closed"
	default:
		return "empty"
	}
}

func (m *bcMachine) send(v int) int {
	m.vals = append(m.vals, v)
	return m.openRx()
}

// settle plays what the woken goroutines do until nothing changes.
func (m *bcMachine) settle() {
	for progress := true; progress; {
		progress = false
		if m.openRx() == 0 {
			for _, w := range m.queue {
				m.want[w.id] = "closed"
			}
			m.queue = nil
			for id := range m.closeWaits {
				m.want[id] = "ok"
				delete(m.closeWaits, id)
			}
		}
		if len(m.queue) > 0 && m.slotFree() {
			w := m.queue[0]
			m.queue = m.queue[1:]
			m.want[w.id] = fmt.Sprintf("n %d", m.send(w.v))
			progress = true
		}
		for rid, id := range m.recvs {
			if r := m.rxm[rid]; m.has(r) {
				m.want[id] = m.tryRecv(r)
				delete(m.recvs, rid)
				progress = true
			}
		}
	}
}

func recvString(v int, err error) string {
	var le *gate.LaggedError
	switch {
	case err == nil:
		return fmt.Sprintf("value %d", v)
	case errors.As(err, &le):
		return fmt.Sprintf("lagged %d", le.Skipped)
	default:
		return resultString(err)
	}
}

// call starts f in a goroutine with a ctx (already done if precancelled) and
// returns the call's id.
func (m *bcMachine) call(precancelled bool, what string, f func(ctx context.Context) string) int {
	id := m.nextID
	m.nextID++
	ctx, cancel := context.WithCancel(context.Background())
	if precancelled {
		cancel()
	}
	m.cancels[id] = cancel
	m.calls[id] = goCall(what, func() (string, error) { return f(ctx), nil })
	return id
}

func (m *bcMachine) pickTx(rt *rapid.T) int {
	id, _ := pick(rt, m.tx, "tx")
	return id
}

func (m *bcMachine) pickRx(rt *rapid.T) int {
	id, _ := pick(rt, m.rx, "rx")
	return id
}

// pickIdleRx picks a receiver with no Recv in flight (a receiver is used by
// one goroutine at a time).
func (m *bcMachine) pickIdleRx(rt *rapid.T) (int, bool) {
	idle := map[int]bool{}
	for id := range m.rx {
		if _, busy := m.recvs[id]; !busy {
			idle[id] = true
		}
	}
	return pick(rt, idle, "rx")
}

func (m *bcMachine) sendAction(rt *rapid.T) {
	id := m.pickTx(rt)
	v := m.nextVal
	m.nextVal++
	n, err := m.tx[id].Send(v)
	want := "closed"
	if m.txOpen[id] && m.openRx() > 0 {
		want = fmt.Sprintf("n %d", m.send(v))
	}
	if got := map[bool]string{true: fmt.Sprintf("n %d", n), false: resultString(err)}[err == nil]; got != want {
		rt.Fatalf("Send(%d) on tx %d: %s, want %s", v, id, got, want)
	}
	m.settle()
}

func (m *bcMachine) sendWaitAction(rt *rapid.T) {
	id := m.pickTx(rt)
	pre := drawPrecancelled(rt)
	v := m.nextVal
	m.nextVal++
	tx := m.tx[id]
	cid := m.call(pre, "SendWait", func(ctx context.Context) string {
		n, err := tx.SendWait(ctx, v)
		if err != nil {
			return resultString(err)
		}
		return fmt.Sprintf("n %d", n)
	})
	switch {
	case pre:
		m.want[cid] = "canceled"
	case !m.txOpen[id] || m.openRx() == 0:
		m.want[cid] = "closed"
	case len(m.queue) == 0 && m.slotFree():
		m.want[cid] = fmt.Sprintf("n %d", m.send(v))
	default:
		m.queue = append(m.queue, bcModelSendWait{id: cid, tx: id, v: v})
	}
	m.settle()
}

func (m *bcMachine) recvAction(rt *rapid.T) {
	rid, ok := m.pickIdleRx(rt)
	if !ok {
		return
	}
	pre := drawPrecancelled(rt)
	rx := m.rx[rid]
	delete(m.arms, rid)
	cid := m.call(pre, "Recv", func(ctx context.Context) string { return recvString(rx.Recv(ctx)) })
	r := m.rxm[rid]
	switch {
	case pre:
		m.want[cid] = "canceled"
	case m.has(r):
		m.want[cid] = m.tryRecv(r)
	default:
		m.recvs[rid] = cid
	}
	m.settle()
}

func (m *bcMachine) tryRecvAction(rt *rapid.T) {
	rid, ok := m.pickIdleRx(rt)
	if !ok {
		return
	}
	delete(m.arms, rid)
	v, err := m.rx[rid].TryRecv()
	got := recvString(v, err)
	if err == gate.ErrEmpty {
		got = "empty"
	}
	if want := m.tryRecv(m.rxm[rid]); got != want {
		rt.Fatalf("TryRecv on rx %d: %s, want %s", rid, got, want)
	}
	m.settle()
}

func (m *bcMachine) newRx(r *gate.BroadcastReceiver[int], open bool) {
	id := m.nextID
	m.nextID++
	m.rx[id] = r
	m.rxm[id] = &bcModelRx{next: m.tail(), sub: m.tail(), open: open}
}

func (m *bcMachine) subscribe(rt *rapid.T) {
	id := m.pickTx(rt)
	m.newRx(m.tx[id].Subscribe(), m.txOpen[id])
}

func (m *bcMachine) resubscribe(rt *rapid.T) {
	rid, ok := m.pickIdleRx(rt)
	if !ok {
		return
	}
	m.newRx(m.rx[rid].Resubscribe(), m.rxm[rid].open)
}

// closeRx closes any receiver, also one with a Recv in flight (Close is the
// one call another goroutine may make): that Recv returns ErrClosed, and an
// armed Ready becomes receivable.
func (m *bcMachine) closeRx(rt *rapid.T) {
	rid := m.pickRx(rt)
	m.rx[rid].Close()
	if !m.rxm[rid].open {
		return
	}
	m.rxm[rid].open = false
	if cid, busy := m.recvs[rid]; busy {
		m.want[cid] = "closed"
		delete(m.recvs, rid)
	}
	m.settle()
}

func (m *bcMachine) closeTx(rt *rapid.T) {
	id := m.pickTx(rt)
	m.tx[id].Close()
	if !m.txOpen[id] {
		return
	}
	m.txOpen[id] = false
	var q []bcModelSendWait
	for _, w := range m.queue {
		if w.tx == id {
			m.want[w.id] = "closed"
		} else {
			q = append(q, w)
		}
	}
	m.queue = q
	for cid, tx := range m.closeWaits {
		if tx == id { // a Close ends its handle's WaitClosed
			m.want[cid] = "closed"
			delete(m.closeWaits, cid)
		}
	}
	m.closed = true
	for _, open := range m.txOpen {
		if open {
			m.closed = false
		}
	}
	m.settle()
}

func (m *bcMachine) clone(rt *rapid.T) {
	id := m.pickTx(rt)
	nid := m.nextID
	m.nextID++
	m.tx[nid], m.txOpen[nid] = m.tx[id].Clone(), m.txOpen[id]
}

func (m *bcMachine) waitClosed(rt *rapid.T) {
	id := m.pickTx(rt)
	pre := drawPrecancelled(rt)
	tx := m.tx[id]
	cid := m.call(pre, "WaitClosed", func(ctx context.Context) string {
		if err := tx.WaitClosed(ctx); err != nil {
			return resultString(err)
		}
		return "ok"
	})
	switch {
	case pre:
		m.want[cid] = "canceled"
	case !m.txOpen[id]:
		m.want[cid] = "closed"
	case m.openRx() == 0:
		m.want[cid] = "ok"
	default:
		m.closeWaits[cid] = id
	}
}

// cancel ends the ctx of a call in flight; one still waiting returns
// ctx.Err() with no effect.
func (m *bcMachine) cancel(rt *rapid.T) {
	pending := map[int]bool{}
	for id := range m.calls {
		if _, done := m.want[id]; !done {
			pending[id] = true
		}
	}
	id, ok := pick(rt, pending, "call")
	if !ok {
		return
	}
	m.cancels[id]()
	m.want[id] = "canceled"
	for i, w := range m.queue {
		if w.id == id {
			m.queue = slices.Delete(m.queue, i, i+1)
		}
	}
	for rid, cid := range m.recvs {
		if cid == id {
			delete(m.recvs, rid)
		}
	}
	delete(m.closeWaits, id)
	m.settle()
}

func (m *bcMachine) ready(rt *rapid.T) {
	rid, ok := m.pickIdleRx(rt)
	if !ok {
		return
	}
	m.arms[rid] = m.rx[rid].Ready()
}

func (m *bcMachine) check(rt *rapid.T) {
	synctest.Wait()
	for id, a := range m.calls {
		want, done := m.want[id]
		select {
		case r := <-a.ch:
			if !done {
				rt.Fatalf("%s (call %d) returned %s, want it still waiting", a.what, id, r.v)
			}
			if r.v != want {
				rt.Fatalf("%s (call %d) returned %s, want %s", a.what, id, r.v, want)
			}
			delete(m.calls, id)
			m.cancels[id]()
			delete(m.cancels, id)
		default:
			if done {
				rt.Fatalf("%s (call %d) still waiting, want %s", a.what, id, want)
			}
		}
	}
	for id, tx := range m.tx {
		if got, want := tx.IsClosed(), !m.txOpen[id] || m.openRx() == 0; got != want {
			rt.Fatalf("tx %d: IsClosed = %v, want %v", id, got, want)
		}
	}
	tx := m.tx[0]
	if got, want := tx.ReceiverCount(), m.openRx(); got != want {
		rt.Fatalf("ReceiverCount = %d, want %d", got, want)
	}
	if got, want := gate.BroadcastSendWaiters(tx), len(m.queue); got != want {
		rt.Fatalf("%d SendWait queued, want %d", got, want)
	}
	wantLen := 0
	for p := max(0, m.tail()-m.capacity); p < m.tail(); p++ {
		if m.owed(p) {
			wantLen++
		}
	}
	if got := tx.Len(); got != wantLen {
		rt.Fatalf("Sender.Len = %d, want %d", got, wantLen)
	}
	for rid, r := range m.rxm {
		if _, busy := m.recvs[rid]; busy {
			continue
		}
		rx := m.rx[rid]
		wantLen, wantClosed := 0, true
		if r.open {
			wantLen, wantClosed = min(m.tail()-r.next, m.capacity), m.closed
		}
		if got := rx.Len(); got != wantLen {
			rt.Fatalf("rx %d: Len = %d, want %d", rid, got, wantLen)
		}
		if got := rx.IsClosed(); got != wantClosed {
			rt.Fatalf("rx %d: IsClosed = %v, want %v", rid, got, wantClosed)
		}
	}
	for rid, ch := range m.arms {
		if want := m.has(m.rxm[rid]); isReady(ch) != want {
			rt.Fatalf("rx %d: Ready receivable = %v, want %v", rid, !want, want)
		} else if want {
			delete(m.arms, rid) // received from it: re-arm before the next look
		}
	}
}

func broadcastModel(rt *rapid.T) {
	runModel(rt, func(rt *rapid.T) (func(), modelActions) {
		m := newBCMachine(rt)
		return m.cleanup, modelActions{
			"":            m.check,
			"send":        m.sendAction,
			"sendWait":    m.sendWaitAction,
			"recv":        m.recvAction,
			"tryRecv":     m.tryRecvAction,
			"subscribe":   m.subscribe,
			"resubscribe": m.resubscribe,
			"closeRx":     m.closeRx,
			"closeTx":     m.closeTx,
			"clone":       m.clone,
			"waitClosed":  m.waitClosed,
			"cancel":      m.cancel,
			"ready":       m.ready,
		}
	})
}

func TestBroadcastModel(t *testing.T) { checkModel(t, broadcastModel, false) }

func FuzzBroadcastModel(f *testing.F) { fuzzModel(f, broadcastModel, false) }
