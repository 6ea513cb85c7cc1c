package gate_test

// Tests of the mpsc channels: tokio's tests/sync_mpsc.rs (the P and A rows of
// reference/tokio-sync.md §3.1) and its loom mpsc scenarios, ported to
// testing/synctest; the rules of API.md (Context, Fairness, Close, Nothing
// lost, Select, Testing); allocation checks; and a porcupine FIFO
// linearizability check of real goroutines.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/gophergate/gate"
)

var bg = context.Background()

// mpscRecvOK receives one value and fails the test unless it is want.
func mpscRecvOK[T comparable](t *testing.T, rx *gate.MPSCReceiver[T], want T) {
	t.Helper()
	v, err := rx.Recv(t.Context())
	if err != nil || v != want {
		t.Fatalf("Recv = %v, %v; want %v, nil", v, err, want)
	}
}

// mpscTryRecvOK receives one value with TryRecv and fails unless it is want.
func mpscTryRecvOK[T comparable](t *testing.T, rx *gate.MPSCReceiver[T], want T) {
	t.Helper()
	v, err := rx.TryRecv()
	if err != nil || v != want {
		t.Fatalf("TryRecv = %v, %v; want %v, nil", v, err, want)
	}
}

// tryRecvErr fails unless TryRecv returns want.
func tryRecvErr[T any](t *testing.T, rx *gate.MPSCReceiver[T], want error) {
	t.Helper()
	if v, err := rx.TryRecv(); err != want {
		t.Fatalf("TryRecv = %v, %v; want %v", v, err, want)
	}
}

// recvClosed fails unless Recv returns ErrClosed at once.
func recvClosed[T any](t *testing.T, rx *gate.MPSCReceiver[T]) {
	t.Helper()
	if v, err := rx.Recv(t.Context()); err != gate.ErrClosed {
		t.Fatalf("Recv = %v, %v; want ErrClosed", v, err)
	}
}

// both runs f for a bounded channel of capacity c and for an unbounded one.
func both(t *testing.T, c int, f func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int])) {
	t.Run("bounded", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tx, rx := gate.MPSC[int](c)
			f(t, tx, rx)
		})
	})
	t.Run("unbounded", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tx, rx := gate.UnboundedMPSC[int]()
			f(t, tx, rx)
		})
	})
}

// ---------------------------------------------------------------------------
// tokio tests/sync_mpsc.rs

func TestMPSCSendRecvWithBuffer(t *testing.T) { // send_recv_with_buffer
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.MPSC[int](16)
		p, err := tx.Reserve(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		p.Send(1)
		if err := tx.TrySend(2); err != nil {
			t.Fatal(err)
		}
		tx.Close()
		mpscRecvOK(t, rx, 1)
		mpscRecvOK(t, rx, 2)
		recvClosed(t, rx)
	})
}

func TestMPSCReserveDisarm(t *testing.T) { // reserve_disarm
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.MPSC[int](2)
		ctx := t.Context()
		p1, _ := tx.Reserve(ctx)
		p2, _ := tx.Reserve(ctx)
		r3 := goCall("reserve 3", func() (*gate.MPSCPermit[int], error) { p, err := tx.Reserve(ctx); return &p, err })
		synctest.Wait()
		r4 := goCall("reserve 4", func() (*gate.MPSCPermit[int], error) { p, err := tx.Reserve(ctx); return &p, err })
		synctest.Wait()
		r3.pending(t)
		r4.pending(t)
		p1.Send(1) // sending does not free the slot: the value holds it
		synctest.Wait()
		r3.pending(t)
		mpscRecvOK(t, rx, 1) // the receive frees it: r3 gets it, not r4
		synctest.Wait()
		p3 := r3.ok(t)
		r4.pending(t)
		p2.Release() // an unused slot given back wakes r4
		synctest.Wait()
		p4 := r4.ok(t)
		r5 := goCall("reserve 5", func() (*gate.MPSCPermit[int], error) { p, err := tx.Reserve(ctx); return &p, err })
		synctest.Wait()
		r5.pending(t)
		p3.Release()
		synctest.Wait()
		p5 := r5.ok(t)
		p4.Release()
		p5.Release()
	})
}

func TestMPSCAsyncSendRecv(t *testing.T) { // async_send_recv_with_buffer, async_send_recv_unbounded
	both(t, 16, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		go func() {
			_ = tx.Send(t.Context(), 1)
			_ = tx.Send(t.Context(), 2)
			tx.Close()
		}()
		mpscRecvOK(t, rx, 1)
		mpscRecvOK(t, rx, 2)
		recvClosed(t, rx)
	})
}

func TestMPSCRecvManyAsync(t *testing.T) { // async_send_recv_many_with_buffer
	both(t, 2, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		ctx := t.Context()
		buf := make([]int, 3)
		if n, err := rx.RecvMany(ctx, buf[:0]); n != 0 || err != nil {
			t.Fatalf("RecvMany(len 0) = %d, %v; want 0, nil at once", n, err)
		}
		go func() {
			for _, v := range []int{1, 2, 7, 0} {
				_ = tx.Send(ctx, v)
			}
			tx.Close()
		}()
		var got []int
		for {
			n, err := rx.RecvMany(ctx, buf)
			if err == gate.ErrClosed {
				if n != 0 {
					t.Fatalf("RecvMany = %d, ErrClosed", n)
				}
				break
			}
			if err != nil || n == 0 {
				t.Fatalf("RecvMany = %d, %v", n, err)
			}
			got = append(got, buf[:n]...)
		}
		if !slices.Equal(got, []int{1, 2, 7, 0}) {
			t.Fatalf("got %v", got)
		}
	})
}

func TestMPSCStartSendPastCap(t *testing.T) { // start_send_past_cap
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.MPSC[int](1)
		tx2 := tx.Clone()
		if err := tx.TrySend(0); err != nil {
			t.Fatal(err)
		}
		ctx1, cancel1 := context.WithCancel(t.Context())
		s1 := goErr("send 1", func() error { return tx.Send(ctx1, 1) })
		synctest.Wait()
		s2 := goErr("send 2", func() error { return tx2.Send(t.Context(), 2) })
		synctest.Wait()
		s1.pending(t)
		s2.pending(t)
		cancel1() // s1 leaves the queue; its value is not sent
		synctest.Wait()
		s1.failed(t, context.Canceled)
		mpscRecvOK(t, rx, 0)
		synctest.Wait()
		s2.ok(t)
		tx.Close()
		tx2.Close()
		mpscRecvOK(t, rx, 2)
		recvClosed(t, rx)
	})
}

func TestMPSCCapacityPanics(t *testing.T) { // buffer_gteq_one
	mustPanic(t, "MPSC(0)", func() { gate.MPSC[int](0) })
	mustPanic(t, "MPSC(-1)", func() { gate.MPSC[int](-1) })
	if gate.MaxPermits < 1<<62 { // int is 64 bits: MaxPermits+1 fits
		mustPanic(t, "MPSC(MaxPermits+1)", func() { gate.MPSC[int](gate.MaxPermits + 1) })
	}
	tx, rx := gate.MPSC[int](gate.MaxPermits) // the largest works
	if tx.MaxCapacity() != gate.MaxPermits || rx.Capacity() != gate.MaxPermits {
		t.Fatalf("MaxCapacity %d Capacity %d", tx.MaxCapacity(), rx.Capacity())
	}
	p, _ := tx.Reserve(bg)
	mustPanic(t, "MPSCPermit.Send twice", func() {
		p.Send(1)
		p.Send(2)
	})
	mustPanic(t, "ReserveN(-1)", func() { tx.ReserveN(bg, -1) })
	mustPanic(t, "TryReserveN(-1)", func() { tx.TryReserveN(-1) })
	var zero gate.MPSCPermit[int]
	mustPanic(t, "zero MPSCPermit.Send", func() { zero.Send(1) })
	zero.Release() // does nothing
}

func TestMPSCSendRecvUnbounded(t *testing.T) { // send_recv_unbounded, send_recv_many_unbounded
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.UnboundedMPSC[int]()
		for _, v := range []int{7, 13, 100, 1002} {
			if err := tx.Send(t.Context(), v); err != nil {
				t.Fatal(err)
			}
		}
		buf := make([]int, 1)
		for _, want := range []int{7, 13, 100, 1002} {
			if n, err := rx.RecvMany(t.Context(), buf); n != 1 || err != nil || buf[0] != want {
				t.Fatalf("RecvMany = %d, %v, %v; want 1, nil, [%d]", n, err, buf, want)
			}
		}
		tx.Close()
		if n, err := rx.RecvMany(t.Context(), buf); n != 0 || err != gate.ErrClosed {
			t.Fatalf("RecvMany after close = %d, %v", n, err)
		}
		recvClosed(t, rx)
	})
}

func TestMPSCRecvManyCapacity(t *testing.T) { // send_recv_many_{bounded,unbounded}_capacity
	both(t, 100, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		ctx := t.Context()
		for i := range 10 {
			_ = tx.Send(ctx, i)
		}
		buf := make([]int, 9)
		if n, err := rx.RecvMany(ctx, buf); n != 9 || err != nil || !slices.Equal(buf, []int{0, 1, 2, 3, 4, 5, 6, 7, 8}) {
			t.Fatalf("RecvMany = %d, %v, %v", n, err, buf)
		}
		if n, err := rx.RecvMany(ctx, buf); n != 1 || err != nil || buf[0] != 9 {
			t.Fatalf("RecvMany = %d, %v, %v", n, err, buf[:n])
		}
		go func() {
			_ = tx.Send(ctx, 1000)
			tx.Close()
		}()
		if n, err := rx.RecvMany(ctx, buf); n != 1 || err != nil || buf[0] != 1000 {
			t.Fatalf("RecvMany = %d, %v, %v; want the final value", n, err, buf[:n])
		}
		if n, err := rx.RecvMany(ctx, buf); n != 0 || err != gate.ErrClosed {
			t.Fatalf("RecvMany = %d, %v; want 0, ErrClosed", n, err)
		}
	})
}

func TestMPSCRecvManyClosedIdle(t *testing.T) { // recv_many_with_non_empty_buffer_*_rx_closed_and_idle
	both(t, 4, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		buf := []int{1}
		rx.Close()
		if n, err := rx.RecvMany(t.Context(), buf); n != 0 || err != gate.ErrClosed || buf[0] != 1 {
			t.Fatalf("RecvMany = %d, %v, %v; want 0, ErrClosed, buf unchanged", n, err, buf)
		}
	})
}

func TestMPSCSendRecvBufferLimited(t *testing.T) { // send_recv_buffer_limited
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.MPSC[int](1)
		ctx := t.Context()
		p, _ := tx.Reserve(ctx)
		p.Send(1)
		r2 := goCall("reserve", func() (*gate.MPSCPermit[int], error) { p, err := tx.Reserve(ctx); return &p, err })
		synctest.Wait()
		r2.pending(t)
		mpscRecvOK(t, rx, 1)
		synctest.Wait()
		p2 := r2.ok(t)
		// The freed slot went to the queued reserve: TrySend does not barge.
		if err := tx.TrySend(3); err != gate.ErrFull {
			t.Fatalf("TrySend = %v; want ErrFull", err)
		}
		p2.Send(2)
		mpscRecvOK(t, rx, 2)
	})
}

func TestMPSCRecvCloseGetsNoneIdle(t *testing.T) { // recv_close_gets_none_idle
	both(t, 10, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		rx.Close()
		recvClosed(t, rx)
		if err := tx.Send(t.Context(), 1); err != gate.ErrClosed {
			t.Fatalf("Send = %v; want ErrClosed", err)
		}
	})
}

func TestMPSCRecvCloseGetsNoneReserved(t *testing.T) { // recv_close_gets_none_reserved
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.MPSC[int](1)
		ctx := t.Context()
		p1, _ := tx.Reserve(ctx)
		r2 := goErr("reserve 2", func() error { _, err := tx.Reserve(ctx); return err })
		synctest.Wait()
		r2.pending(t)
		rx.Close()
		synctest.Wait()
		r2.failed(t, gate.ErrClosed)
		recv := goCall("recv", func() (int, error) { return rx.Recv(ctx) })
		synctest.Wait()
		recv.pending(t) // a permit is outstanding
		p1.Send(123)
		synctest.Wait()
		if v := recv.ok(t); v != 123 {
			t.Fatalf("Recv = %d", v)
		}
		recvClosed(t, rx)
	})
}

// failed_reserve_many_wakes_closed_receiver and its cancelled variant. In
// gate, Close fails the queued reservation and returns its partial grant at
// once; the receiver waits only for the permit still held.
func TestMPSCClosedReceiverWaitsForPartialGrantHolder(t *testing.T) {
	for _, cancel := range []bool{false, true} {
		t.Run(fmt.Sprint("cancel=", cancel), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tx, rx := gate.MPSC[int](2)
				ctx, stop := context.WithCancel(t.Context())
				p1, _ := tx.Reserve(t.Context())
				r := goErr("reserve 2", func() error { _, err := tx.ReserveN(ctx, 2); return err })
				synctest.Wait()
				if g := gate.MPSCHeadGrant(tx); g != 1 {
					t.Fatalf("head grant %d; want 1", g)
				}
				if cancel {
					stop()
					synctest.Wait()
					r.failed(t, context.Canceled)
				}
				rx.Close()
				synctest.Wait()
				if !cancel {
					r.failed(t, gate.ErrClosed)
				}
				if c := tx.Capacity(); c != 1 {
					t.Fatalf("Capacity = %d; want 1 (the partial grant is back)", c)
				}
				recv := goCall("recv", func() (int, error) { return rx.Recv(t.Context()) })
				synctest.Wait()
				recv.pending(t)
				p1.Release()
				synctest.Wait()
				recv.failed(t, gate.ErrClosed)
				stop()
			})
		})
	}
}

// failed_reserve_wakes_closed_receiver / cancelled_reserve_wakes_closed_receiver:
// a reserve whose slot was granted before Close returns the permit (the grant
// came first); a cancelled one passes the slot on. Either way the receiver
// reports ErrClosed once no permit is left.
func TestMPSCGrantedReserveAndClose(t *testing.T) {
	for _, cancel := range []bool{false, true} {
		t.Run(fmt.Sprint("cancel=", cancel), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tx, rx := gate.MPSC[int](1)
				ctx, stop := context.WithCancel(t.Context())
				defer stop()
				p1, _ := tx.Reserve(t.Context())
				r := goCall("reserve", func() (*gate.MPSCPermit[int], error) { p, err := tx.Reserve(ctx); return &p, err })
				synctest.Wait()
				if cancel {
					stop()
					synctest.Wait()
					r.failed(t, context.Canceled)
					p1.Release()
					rx.Close()
					recvClosed(t, rx)
					return
				}
				p1.Release() // granted to r
				synctest.Wait()
				rx.Close()
				p2 := r.ok(t)
				recv := goCall("recv", func() (int, error) { return rx.Recv(t.Context()) })
				synctest.Wait()
				recv.pending(t)
				p2.Release()
				synctest.Wait()
				recv.failed(t, gate.ErrClosed)
			})
		})
	}
}

func TestMPSCTxCloseGetsNone(t *testing.T) { // tx_close_gets_none
	both(t, 10, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		tx.Close()
		recvClosed(t, rx)
		tryRecvErr(t, rx, gate.ErrClosed)
	})
}

func TestMPSCTrySendFail(t *testing.T) { // try_send_fail, try_send_fail_with_try_recv
	for _, viaTry := range []bool{false, true} {
		t.Run(fmt.Sprint("tryRecv=", viaTry), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tx, rx := gate.MPSC[string](1)
				if err := tx.TrySend("hello"); err != nil {
					t.Fatal(err)
				}
				if err := tx.TrySend("fail"); err != gate.ErrFull {
					t.Fatalf("TrySend = %v; want ErrFull", err)
				}
				if viaTry {
					mpscTryRecvOK(t, rx, "hello")
				} else {
					mpscRecvOK(t, rx, "hello")
				}
				if err := tx.TrySend("goodbye"); err != nil {
					t.Fatal(err)
				}
				tx.Close()
				if viaTry {
					mpscTryRecvOK(t, rx, "goodbye")
					tryRecvErr(t, rx, gate.ErrClosed)
				} else {
					mpscRecvOK(t, rx, "goodbye")
					recvClosed(t, rx)
				}
			})
		})
	}
}

func TestMPSCReserveManyAboveCap(t *testing.T) { // reserve_many_above_cap, try_reserve_many_edge_cases
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.MPSC[int](1)
		for _, n := range []int{2, gate.MaxPermits, gate.MaxPermits + 1, int(^uint(0) >> 1)} {
			if _, err := tx.ReserveN(t.Context(), n); err != gate.ErrTooMany {
				t.Fatalf("ReserveN(%d) = %v; want ErrTooMany", n, err)
			}
			if _, err := tx.TryReserveN(n); err != gate.ErrTooMany {
				t.Fatalf("TryReserveN(%d) = %v; want ErrTooMany", n, err)
			}
		}
		// The order: a done ctx, then ErrTooMany, then ErrClosed.
		rx.Close()
		if _, err := tx.ReserveN(doneCtx(t.Context()), 2); err != context.Canceled {
			t.Fatalf("ReserveN(done ctx, 2) = %v", err)
		}
		if _, err := tx.ReserveN(t.Context(), 2); err != gate.ErrTooMany {
			t.Fatalf("ReserveN(2) on closed = %v; want ErrTooMany", err)
		}
		if _, err := tx.TryReserveN(2); err != gate.ErrTooMany {
			t.Fatalf("TryReserveN(2) on closed = %v; want ErrTooMany", err)
		}
		if _, err := tx.ReserveN(t.Context(), 1); err != gate.ErrClosed {
			t.Fatalf("ReserveN(1) on closed = %v; want ErrClosed", err)
		}

		utx, urx := gate.UnboundedMPSC[int]()
		if _, err := utx.ReserveN(t.Context(), gate.MaxPermits+1); err != gate.ErrTooMany {
			t.Fatalf("unbounded ReserveN(MaxPermits+1) = %v", err)
		}
		p, err := utx.ReserveN(t.Context(), gate.MaxPermits)
		if err != nil || p.Count() != gate.MaxPermits {
			t.Fatalf("unbounded ReserveN(MaxPermits) = %d, %v", p.Count(), err)
		}
		if _, err := utx.TryReserveN(1); err != gate.ErrTooMany {
			t.Fatalf("unbounded TryReserveN past MaxPermits reserved = %v", err)
		}
		p.Release()
		urx.Close()
		if _, err := utx.TryReserveN(1); err != gate.ErrClosed {
			t.Fatalf("unbounded TryReserveN on closed = %v", err)
		}
	})
}

func TestMPSCReserveManyZero(t *testing.T) { // reserve_many_zero, try_reserve_many_zero
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.MPSC[int](1)
		_ = tx.TrySend(1) // full
		p, err := tx.ReserveN(t.Context(), 0)
		if err != nil || p.Count() != 0 {
			t.Fatalf("ReserveN(0) on full = %d, %v", p.Count(), err)
		}
		if p, err := tx.TryReserveN(0); err != nil || p.Count() != 0 {
			t.Fatalf("TryReserveN(0) on full = %d, %v", p.Count(), err)
		}
		rx.Close()
		if _, err := tx.ReserveN(t.Context(), 0); err != gate.ErrClosed {
			t.Fatalf("ReserveN(0) on closed = %v", err)
		}
		if _, err := tx.TryReserveN(0); err != gate.ErrClosed {
			t.Fatalf("TryReserveN(0) on closed = %v", err)
		}
	})
}

func TestMPSCTryReserveManyFull(t *testing.T) { // try_reserve_many_full
	synctest.Test(t, func(t *testing.T) {
		for n := 1; n < 100; n++ {
			for k := 0; k < n; k++ {
				tx, rx := gate.MPSC[int](n)
				p, err := tx.TryReserveN(n)
				if err != nil || tx.Capacity() != 0 {
					t.Fatalf("n=%d: TryReserveN = %v, capacity %d", n, err, tx.Capacity())
				}
				if _, err := tx.TryReserveN(1); err != gate.ErrFull {
					t.Fatalf("n=%d: extra TryReserveN = %v", n, err)
				}
				for i := range k {
					p.Send(i)
				}
				p.Release()
				if c := tx.Capacity(); c != n-k {
					t.Fatalf("n=%d k=%d: capacity %d", n, k, c)
				}
				if k > 0 {
					if _, err := tx.TryReserveN(n - k + 1); err != gate.ErrFull {
						t.Fatalf("n=%d k=%d: TryReserveN(n-k+1) = %v", n, k, err)
					}
				}
				q, err := tx.TryReserve()
				if err != nil && n-k > 0 {
					t.Fatalf("n=%d k=%d: TryReserve = %v", n, k, err)
				}
				q.Release()
				for i := range k {
					mpscTryRecvOK(t, rx, i)
				}
				if c := tx.Capacity(); c != n {
					t.Fatalf("n=%d k=%d: capacity after receiving %d", n, k, c)
				}
			}
		}
	})
}

func TestMPSCReleasePermitWakesReserve(t *testing.T) { // drop_permit_releases_permit, drop_permit_iterator_releases_permits
	synctest.Test(t, func(t *testing.T) {
		for n := 1; n <= 5; n++ {
			tx, _ := gate.MPSC[int](n)
			p, _ := tx.ReserveN(t.Context(), n)
			r := goCall("reserveN", func() (*gate.MPSCPermit[int], error) { p, err := tx.ReserveN(t.Context(), n); return &p, err })
			synctest.Wait()
			r.pending(t)
			p.Release()
			p.Release() // a second release does nothing
			synctest.Wait()
			q := r.ok(t)
			if q.Count() != n || tx.Capacity() != 0 {
				t.Fatalf("n=%d: permit %d capacity %d", n, q.Count(), tx.Capacity())
			}
			q.Release()
			if tx.Capacity() != n {
				t.Fatalf("n=%d: capacity %d after release", n, tx.Capacity())
			}
		}
	})
}

// dropping_last_permit_wakes_closed_receiver and its variants (owned, iterator,
// send, release): the last permit, used or given back, wakes a receiver that
// waits on a closed channel.
func TestMPSCLastPermitWakesClosedReceiver(t *testing.T) {
	for _, how := range []string{"release", "send", "releaseN", "sendN"} {
		for _, unbounded := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/unbounded=%v", how, unbounded), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					tx, rx := gate.MPSC[int](3)
					if unbounded {
						tx, rx = gate.UnboundedMPSC[int]()
					}
					n := 1
					if how == "releaseN" || how == "sendN" {
						n = 3
					}
					p, err := tx.ReserveN(t.Context(), n)
					if err != nil {
						t.Fatal(err)
					}
					rx.Close()
					recv := goCall("recv", func() (int, error) { return rx.Recv(t.Context()) })
					synctest.Wait()
					recv.pending(t)
					if !rx.IsClosed() || !tx.IsClosed() {
						t.Fatal("not closed")
					}
					switch how {
					case "release", "releaseN":
						p.Release()
						synctest.Wait()
						recv.failed(t, gate.ErrClosed)
					default:
						for i := range n {
							p.Send(i)
						}
						synctest.Wait()
						if v := recv.ok(t); v != 0 {
							t.Fatalf("Recv = %d", v)
						}
						for i := 1; i < n; i++ {
							mpscRecvOK(t, rx, i)
						}
						recvClosed(t, rx)
					}
				})
			})
		}
	}
}

func TestMPSCCloseRxClosesChannel(t *testing.T) { // dropping_rx_closes_channel(_for_try)
	both(t, 100, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		_ = tx.Send(t.Context(), 1)
		rx.Close()
		if _, err := tx.Reserve(t.Context()); err != gate.ErrClosed {
			t.Fatalf("Reserve = %v", err)
		}
		if _, err := tx.ReserveN(t.Context(), 3); err != gate.ErrClosed {
			t.Fatalf("ReserveN = %v", err)
		}
		if err := tx.TrySend(2); err != gate.ErrClosed {
			t.Fatalf("TrySend = %v", err)
		}
		if _, err := tx.TryReserve(); err != gate.ErrClosed {
			t.Fatalf("TryReserve = %v", err)
		}
		if err := tx.Send(t.Context(), 2); err != gate.ErrClosed {
			t.Fatalf("Send = %v", err)
		}
		mpscRecvOK(t, rx, 1) // buffered values are still delivered
		recvClosed(t, rx)
	})
}

func TestMPSCPermitAvailableNotAcquiredClose(t *testing.T) { // permit_available_not_acquired_close
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.MPSC[int](1)
		ctx, cancel := context.WithCancel(t.Context())
		p1, _ := tx.Reserve(t.Context())
		r2 := goErr("reserve 2", func() error { _, err := tx.Reserve(ctx); return err })
		synctest.Wait()
		rx.Close()
		synctest.Wait()
		r2.failed(t, gate.ErrClosed)
		p1.Release()
		cancel()
		recvClosed(t, rx)
	})
}

func TestMPSCTryRecvBounded(t *testing.T) { // try_recv_bounded
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.MPSC[string](5)
		for range 5 {
			if err := tx.TrySend("hello"); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.TrySend("hello"); err != gate.ErrFull {
			t.Fatalf("TrySend on full = %v", err)
		}
		for range 5 {
			mpscTryRecvOK(t, rx, "hello")
		}
		tryRecvErr(t, rx, gate.ErrEmpty)
		for range 5 {
			_ = tx.TrySend("hello")
		}
		mpscTryRecvOK(t, rx, "hello")
		_ = tx.TrySend("hello")
		for range 5 {
			mpscTryRecvOK(t, rx, "hello")
		}
		tryRecvErr(t, rx, gate.ErrEmpty)
		_ = tx.TrySend("hello")
		tx.Close()
		mpscTryRecvOK(t, rx, "hello")
		tryRecvErr(t, rx, gate.ErrClosed)
	})
}

func TestMPSCTryRecvUnbounded(t *testing.T) { // try_recv_unbounded
	synctest.Test(t, func(t *testing.T) {
		for n := range 100 {
			tx, rx := gate.UnboundedMPSC[int]()
			for i := range n {
				_ = tx.Send(t.Context(), i)
			}
			for i := range n {
				mpscTryRecvOK(t, rx, i)
			}
			tryRecvErr(t, rx, gate.ErrEmpty)
			tx.Close()
			tryRecvErr(t, rx, gate.ErrClosed)
		}
	})
}

func TestMPSCTryRecvAfterReceiverClose(t *testing.T) { // try_recv_after_receiver_close(_with_permit), try_recv_close_while_empty_*
	both(t, 4, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		tryRecvErr(t, rx, gate.ErrEmpty)
		p, _ := tx.Reserve(t.Context())
		rx.Close()
		tryRecvErr(t, rx, gate.ErrEmpty) // a permit is outstanding
		p.Release()
		tryRecvErr(t, rx, gate.ErrClosed)
	})
	both(t, 4, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		tx.Close()
		tryRecvErr(t, rx, gate.ErrClosed)
	})
}

func TestMPSCSendTimeout(t *testing.T) { // recv_timeout (send_timeout)
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.MPSC[int](5)
		for i := range 5 {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
			if err := tx.Send(ctx, 10*i); err != nil {
				t.Fatal(err)
			}
			cancel()
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		start := time.Now()
		if err := tx.Send(ctx, 60); err != context.DeadlineExceeded {
			t.Fatalf("Send on full = %v; want DeadlineExceeded", err)
		}
		cancel()
		if d := time.Since(start); d != 10*time.Millisecond {
			t.Fatalf("Send gave up after %v", d)
		}
		rx.Close()
		ctx, cancel = context.WithTimeout(t.Context(), 10*time.Millisecond)
		if err := tx.Send(ctx, 70); err != gate.ErrClosed {
			t.Fatalf("Send on closed = %v; want ErrClosed", err)
		}
		cancel()
		for i := range 5 {
			mpscRecvOK(t, rx, 10*i) // 60 was not delivered
		}
		recvClosed(t, rx)
	})
}

func TestMPSCCapacity(t *testing.T) { // test_tx_capacity
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.MPSC[int](10)
		if tx.Capacity() != 10 || tx.MaxCapacity() != 10 {
			t.Fatalf("capacity %d/%d", tx.Capacity(), tx.MaxCapacity())
		}
		p, _ := tx.Reserve(t.Context())
		if tx.Capacity() != 9 || rx.Capacity() != 9 || rx.MaxCapacity() != 10 {
			t.Fatalf("after reserve: %d/%d", tx.Capacity(), tx.MaxCapacity())
		}
		_ = tx.Send(t.Context(), 1)
		if tx.Capacity() != 8 {
			t.Fatalf("after send: %d", tx.Capacity())
		}
		p.Release()
		mpscRecvOK(t, rx, 1)
		if tx.Capacity() != 10 {
			t.Fatalf("after recv: %d", tx.Capacity())
		}
		utx, urx := gate.UnboundedMPSC[int]()
		if utx.Capacity() != -1 || utx.MaxCapacity() != -1 || urx.Capacity() != -1 || urx.MaxCapacity() != -1 {
			t.Fatal("unbounded capacity not -1")
		}
	})
}

// test_rx_is_closed_*, test_rx_is_empty_*, test_rx_len_* and their unbounded
// variants, as one table.
func TestMPSCIsClosedAndLen(t *testing.T) {
	type step struct {
		name   string
		do     func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int])
		closed bool
		len    int
	}
	send := func(n int) func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		return func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
			for i := range n {
				if err := tx.TrySend(i); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	recv := func(n int) func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		return func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
			for range n {
				if _, err := rx.TryRecv(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	closeTx := func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) { tx.Close() }
	closeRx := func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) { rx.Close() }
	none := func(*testing.T, *gate.MPSCSender[int], *gate.MPSCReceiver[int]) {}
	cases := map[string][]step{
		"fresh":                      {{"nothing", none, false, 0}},
		"close with sender":          {{"close rx", closeRx, true, 0}},
		"all senders closed":         {{"close tx", closeTx, true, 0}},
		"buffer filled":              {{"send 100", send(100), false, 100}},
		"messages and no senders":    {{"send 100", send(100), false, 100}, {"close tx", closeTx, true, 100}},
		"messages and close":         {{"send 1", send(1), false, 1}, {"close rx", closeRx, true, 1}},
		"close then sender closed":   {{"send 1", send(1), false, 1}, {"close rx", closeRx, true, 1}, {"close tx", closeTx, true, 1}},
		"sender closed then close":   {{"send 1", send(1), false, 1}, {"close tx", closeTx, true, 1}, {"close rx", closeRx, true, 1}},
		"all but one consumed":       {{"send 100", send(100), false, 100}, {"recv 99", recv(99), false, 1}},
		"all consumed":               {{"send 100", send(100), false, 100}, {"recv 100", recv(100), false, 0}},
		"no senders and consumed":    {{"send 100", send(100), false, 100}, {"close tx", closeTx, true, 100}, {"recv 100", recv(100), true, 0}},
		"len tracks sends and recvs": {{"send 1", send(1), false, 1}, {"send 1", send(1), false, 2}, {"recv 1", recv(1), false, 1}},
	}
	for name, steps := range cases {
		both(t, 100, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
			for _, s := range steps {
				s.do(t, tx, rx)
				if rx.IsClosed() != s.closed || rx.Len() != s.len {
					t.Fatalf("%s: after %s: IsClosed %v Len %d; want %v %d", name, s.name, rx.IsClosed(), rx.Len(), s.closed, s.len)
				}
			}
		})
	}
}

func TestMPSCIsEmptyAcrossBlocks(t *testing.T) { // test_is_empty_32_msgs
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.MPSC[int](33)
		for i := range 256 {
			_ = tx.TrySend(i)
			mpscRecvOK(t, rx, i)
			if rx.Len() != 0 {
				t.Fatalf("Len %d after %d", rx.Len(), i)
			}
		}
	})
}

// ---------------------------------------------------------------------------
// tokio's loom mpsc scenarios (src/sync/tests/loom_mpsc.rs), with goroutines
// in a bubble; the stress tests run the same races on real threads.

func TestMPSCLoomClosing(t *testing.T) {
	// closing_tx, closing_unbounded_tx, dropping_tx, dropping_unbounded_tx
	both(t, 16, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		tx2 := tx.Clone()
		go func() { _ = tx.Send(t.Context(), 1); tx.Close() }()
		go func() { tx2.Close() }()
		mpscRecvOK(t, rx, 1)
		recvClosed(t, rx)
	})
	// closing_bounded_rx, closing_unbounded_rx, closing_and_sending
	both(t, 16, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		done := goErr("sender", func() error {
			for i := 0; ; i++ {
				if err := tx.Send(t.Context(), i); err != nil {
					return err
				}
			}
		})
		wc := goErr("WaitClosed", func() error { return tx.WaitClosed(t.Context()) })
		mpscRecvOK(t, rx, 0)
		rx.Close()
		synctest.Wait()
		done.failed(t, gate.ErrClosed)
		wc.ok(t)
		for i := 1; ; i++ {
			v, err := rx.Recv(t.Context())
			if err == gate.ErrClosed {
				break
			}
			if err != nil || v != i {
				t.Fatalf("Recv = %d, %v; want %d", v, err, i)
			}
		}
	})
	// len_nonzero_after_send, nonempty_after_send, try_recv, is_empty_during_close,
	// len_during_close_{0,1,block_cap,block_cap_plus_1}
	for _, n := range []int{0, 1, 32, 33} {
		both(t, 64, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
			for i := range n {
				_ = tx.Send(t.Context(), i)
			}
			go tx.Close()
			if l := rx.Len(); l != n {
				t.Fatalf("Len %d; want %d", l, n)
			}
			synctest.Wait()
			if l := rx.Len(); l != n {
				t.Fatalf("Len after close %d; want %d", l, n)
			}
			for i := range n {
				mpscTryRecvOK(t, rx, i)
			}
			tryRecvErr(t, rx, gate.ErrClosed)
		})
	}
}

// ---------------------------------------------------------------------------
// API.md rules

func TestMPSCDoneCtxFailsFirst(t *testing.T) {
	both(t, 4, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		done := doneCtx(t.Context())
		if err := tx.Send(done, 1); err != context.Canceled {
			t.Fatalf("Send(done) = %v", err)
		}
		if _, err := tx.Reserve(done); err != context.Canceled {
			t.Fatalf("Reserve(done) = %v", err)
		}
		if _, err := tx.ReserveN(done, 0); err != context.Canceled {
			t.Fatalf("ReserveN(done, 0) = %v", err)
		}
		if rx.Len() != 0 {
			t.Fatalf("Len %d: a failed send was delivered", rx.Len())
		}
		_ = tx.TrySend(7)
		if _, err := rx.Recv(done); err != context.Canceled {
			t.Fatalf("Recv(done) = %v", err)
		}
		if _, err := rx.RecvMany(done, make([]int, 4)); err != context.Canceled {
			t.Fatalf("RecvMany(done) = %v", err)
		}
		if _, err := rx.RecvMany(done, nil); err != context.Canceled {
			t.Fatalf("RecvMany(done, nil) = %v", err)
		}
		mpscRecvOK(t, rx, 7) // the value stayed where it was
		rx.Close()
		if err := tx.WaitClosed(done); err != context.Canceled {
			t.Fatalf("WaitClosed(done) on closed = %v", err)
		}
		if err := tx.Send(done, 1); err != context.Canceled {
			t.Fatalf("Send(done) on closed = %v; a done ctx comes first", err)
		}
		if _, err := rx.Recv(done); err != context.Canceled {
			t.Fatalf("Recv(done) on closed = %v", err)
		}
		n := 0
		for range rx.All(done) {
			n++
		}
		if n != 0 {
			t.Fatalf("All(done) yielded %d", n)
		}
	})
}

func TestMPSCSendersFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.MPSC[int](1)
		_ = tx.TrySend(0)
		var calls []*async[struct{}]
		for i := 1; i <= 5; i++ {
			calls = append(calls, goErr(fmt.Sprint("send ", i), func() error { return tx.Send(t.Context(), i) }))
			synctest.Wait()
		}
		if w := gate.MPSCSenderWaiters(tx); w != 5 {
			t.Fatalf("%d senders queued", w)
		}
		for i := range 6 {
			mpscRecvOK(t, rx, i)
			synctest.Wait()
			if i < 5 {
				calls[i].ok(t)
				for _, c := range calls[i+1:] {
					c.pending(t)
				}
			}
		}
	})
}

func TestMPSCReserveNBlocksSmallerRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.MPSC[int](4)
		for i := range 3 {
			_ = tx.TrySend(i)
		}
		big := goCall("reserve 4", func() (*gate.MPSCPermit[int], error) { p, err := tx.ReserveN(t.Context(), 4); return &p, err })
		synctest.Wait()
		small := goErr("send", func() error { return tx.Send(t.Context(), 99) })
		synctest.Wait()
		if g := gate.MPSCHeadGrant(tx); g != 1 {
			t.Fatalf("head grant %d", g)
		}
		if err := tx.TrySend(5); err != gate.ErrFull {
			t.Fatalf("TrySend = %v", err)
		}
		mpscRecvOK(t, rx, 0)
		mpscRecvOK(t, rx, 1)
		synctest.Wait()
		big.pending(t)
		small.pending(t)
		mpscRecvOK(t, rx, 2)
		synctest.Wait()
		p := big.ok(t)
		small.pending(t)
		p.Send(10)
		p.Release()
		synctest.Wait()
		small.ok(t)
		mpscRecvOK(t, rx, 10)
		mpscRecvOK(t, rx, 99)
	})
}

func TestMPSCHandles(t *testing.T) {
	both(t, 4, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		tx2 := tx.Clone()
		p, _ := tx.Reserve(t.Context())
		tx.Close()
		tx.Close() // idempotent
		if err := tx.Send(t.Context(), 1); err != gate.ErrClosed {
			t.Fatalf("Send on a closed handle = %v", err)
		}
		if err := tx.TrySend(1); err != gate.ErrClosed {
			t.Fatalf("TrySend on a closed handle = %v", err)
		}
		if _, err := tx.Reserve(t.Context()); err != gate.ErrClosed {
			t.Fatalf("Reserve on a closed handle = %v", err)
		}
		c := tx.Clone()
		if err := c.TrySend(1); err != gate.ErrClosed {
			t.Fatalf("the clone of a closed handle sends: %v", err)
		}
		c.Close()
		if rx.IsClosed() {
			t.Fatal("receiver closed while a sender is open")
		}
		_ = tx2.Send(t.Context(), 2)
		tx2.Close()
		if !rx.IsClosed() || !tx2.IsClosed() {
			t.Fatal("IsClosed wrong after the last sender closed")
		}
		mpscRecvOK(t, rx, 2)
		recv := goCall("recv", func() (int, error) { return rx.Recv(t.Context()) })
		synctest.Wait()
		recv.pending(t) // the permit is outstanding
		p.Send(3)       // a permit outlives its handle
		synctest.Wait()
		if v := recv.ok(t); v != 3 {
			t.Fatalf("Recv = %d", v)
		}
		recvClosed(t, rx)
		if c := tx2.Clone(); c.TrySend(1) != gate.ErrClosed {
			t.Fatal("clone after the last close is open")
		}
	})
}

func TestMPSCWaitClosed(t *testing.T) {
	both(t, 4, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		ctx, cancel := context.WithCancel(t.Context())
		w1 := goErr("WaitClosed 1", func() error { return tx.WaitClosed(ctx) })
		w2 := goErr("WaitClosed 2", func() error { return tx.WaitClosed(t.Context()) })
		synctest.Wait()
		w1.pending(t)
		w2.pending(t)
		cancel()
		synctest.Wait()
		w1.failed(t, context.Canceled)
		w2.pending(t)
		if tx.IsClosed() {
			t.Fatal("IsClosed before Close")
		}
		rx.Close()
		synctest.Wait()
		w2.ok(t)
		if !tx.IsClosed() {
			t.Fatal("IsClosed false after Close")
		}
		if err := tx.WaitClosed(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMPSCRecvCancel(t *testing.T) {
	both(t, 4, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, err := rx.Recv(ctx); err != context.DeadlineExceeded {
			t.Fatalf("Recv = %v", err)
		}
		_ = tx.Send(t.Context(), 5)
		mpscRecvOK(t, rx, 5) // nothing lost; the next wait works
		r := goCall("recv", func() (int, error) { return rx.Recv(t.Context()) })
		synctest.Wait()
		r.pending(t)
		_ = tx.Send(t.Context(), 6)
		synctest.Wait()
		if v := r.ok(t); v != 6 {
			t.Fatalf("Recv = %d", v)
		}
	})
}

func TestMPSCAll(t *testing.T) {
	both(t, 4, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		go func() {
			for i := range 10 {
				_ = tx.Send(t.Context(), i)
			}
			tx.Close()
		}()
		var got []int
		for v := range rx.All(t.Context()) {
			got = append(got, v)
			if v == 4 {
				break
			}
		}
		for v := range rx.All(t.Context()) {
			got = append(got, v)
		}
		if !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
			t.Fatalf("got %v", got)
		}
	})
}

// Values that reference memory are dropped from the channel once received,
// across block boundaries, and strings survive intact.
func TestMPSCPointerValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.UnboundedMPSC[*string]()
		for i := range 200 {
			s := fmt.Sprint(i)
			_ = tx.Send(t.Context(), &s)
		}
		for i := range 200 {
			p, err := rx.Recv(t.Context())
			if err != nil || *p != fmt.Sprint(i) {
				t.Fatalf("Recv = %v, %v", p, err)
			}
		}
	})
}

// ---------------------------------------------------------------------------
// Select: Ready

func TestMPSCReady(t *testing.T) {
	both(t, 4, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		ready := func() bool {
			select {
			case <-rx.Ready():
				return true
			default:
				return false
			}
		}
		if ready() {
			t.Fatal("Ready on an empty channel")
		}
		_ = tx.Send(t.Context(), 1)
		if !ready() {
			t.Fatal("not Ready with a value")
		}
		mpscTryRecvOK(t, rx, 1)
		// Arm, let a value arrive, do not receive from the channel; drain the
		// value another way; then Ready must not be receivable (nothing
		// invented from the stale arming).
		ch := rx.Ready()
		_ = tx.Send(t.Context(), 2)
		mpscRecvOK(t, rx, 2)
		_ = ch
		if ready() {
			t.Fatal("Ready receivable with nothing there (a stale token)")
		}
		// A value sent while a select waits on Ready wakes it.
		got := goCall("select", func() (int, error) {
			tick := time.NewTicker(time.Hour)
			defer tick.Stop()
			for {
				select {
				case <-rx.Ready():
					return rx.TryRecv()
				case <-tick.C:
					return 0, errors.New("ticker fired")
				}
			}
		})
		synctest.Wait()
		got.pending(t)
		if !gate.MPSCReceiverParked(tx) {
			t.Fatal("Ready did not arm")
		}
		_ = tx.Send(t.Context(), 3)
		synctest.Wait()
		if v := got.ok(t); v != 3 {
			t.Fatalf("got %d", v)
		}
		// Closing makes it receivable, once drained and no permit is left.
		p, _ := tx.Reserve(t.Context())
		tx.Close()
		waiter := goErr("select", func() error {
			<-rx.Ready()
			_, err := rx.TryRecv()
			return err
		})
		synctest.Wait()
		waiter.pending(t)
		p.Release()
		synctest.Wait()
		waiter.failed(t, gate.ErrClosed)
		if !ready() {
			t.Fatal("not Ready when closed")
		}
	})
}

// TestMPSCReadyMerge merges two receivers and a ticker in one select loop:
// every value arrives, each exactly once, with no helper goroutine.
func TestMPSCReadyMerge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx1, rx1 := gate.MPSC[int](2)
		tx2, rx2 := gate.UnboundedMPSC[int]()
		go func() {
			for i := range 50 {
				_ = tx1.Send(t.Context(), i)
				time.Sleep(time.Millisecond)
			}
			tx1.Close()
		}()
		go func() {
			for i := range 50 {
				_ = tx2.Send(t.Context(), 1000+i)
				time.Sleep(3 * time.Millisecond)
			}
			tx2.Close()
		}()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var got1, got2 []int
		ticks := 0
		open1, open2 := true, true
		for open1 || open2 {
			var r1, r2 <-chan struct{}
			if open1 {
				r1 = rx1.Ready()
			}
			if open2 {
				r2 = rx2.Ready()
			}
			select {
			case <-r1:
				v, err := rx1.TryRecv()
				switch err {
				case nil:
					got1 = append(got1, v)
				case gate.ErrClosed:
					open1 = false
				default:
					t.Fatalf("rx1.TryRecv after Ready = %v", err)
				}
			case <-r2:
				v, err := rx2.TryRecv()
				switch err {
				case nil:
					got2 = append(got2, v)
				case gate.ErrClosed:
					open2 = false
				default:
					t.Fatalf("rx2.TryRecv after Ready = %v", err)
				}
			case <-tick.C:
				ticks++
			}
		}
		for i := range 50 {
			if got1[i] != i || got2[i] != 1000+i {
				t.Fatalf("got %v and %v", got1, got2)
			}
		}
		if ticks < 10 {
			t.Fatalf("%d ticks", ticks)
		}
	})
}

// ---------------------------------------------------------------------------
// Allocations and memory

func TestMPSCNoAllocs(t *testing.T) {
	ctx := context.Background()
	for _, unbounded := range []bool{false, true} {
		tx, rx := gate.MPSC[int](1024)
		if unbounded {
			tx, rx = gate.UnboundedMPSC[int]()
		}
		for i := range 1000 { // warm up: blocks to recycle
			_ = tx.Send(ctx, i)
			_, _ = rx.Recv(ctx)
		}
		if a := testing.AllocsPerRun(1000, func() {
			for i := range 100 {
				_ = tx.Send(ctx, i)
			}
			for range 100 {
				_, _ = rx.Recv(ctx)
			}
		}); a != 0 {
			t.Errorf("unbounded=%v: Send+Recv of 100: %v allocs", unbounded, a)
		}
		buf := make([]int, 16)
		if a := testing.AllocsPerRun(1000, func() {
			_ = tx.TrySend(1)
			p, _ := tx.Reserve(ctx)
			p.Send(2)
			_, _ = rx.RecvMany(ctx, buf)
		}); a != 0 {
			t.Errorf("unbounded=%v: TrySend+Reserve+RecvMany: %v allocs", unbounded, a)
		}
		// Ready on an empty channel arms it; a send fires it; TryRecv takes
		// the value. None of it allocates.
		if a := testing.AllocsPerRun(1000, func() {
			ch := rx.Ready()
			_ = tx.TrySend(3)
			<-ch
			_, _ = rx.TryRecv()
		}); a != 0 {
			t.Errorf("unbounded=%v: Ready+TrySend+TryRecv: %v allocs", unbounded, a)
		}
	}
}

// A bounded channel that fills up and drains in turn keeps the blocks its
// capacity needs, as a Go channel keeps its buffer: after the first round it
// allocates nothing.
func TestMPSCFillDrainNoAllocs(t *testing.T) {
	ctx := context.Background()
	for _, capacity := range []int{1, 31, 32, 33, 1024} {
		tx, rx := gate.MPSC[int](capacity)
		fillDrain := func() {
			for i := range capacity {
				if err := tx.Send(ctx, i); err != nil {
					t.Fatalf("cap %d: Send: %v", capacity, err)
				}
			}
			for i := range capacity {
				if v, err := rx.Recv(ctx); err != nil || v != i {
					t.Fatalf("cap %d: Recv = %d, %v; want %d", capacity, v, err, i)
				}
			}
		}
		fillDrain() // the first round allocates the blocks
		if a := testing.AllocsPerRun(100, fillDrain); a != 0 {
			t.Errorf("cap %d: %v allocs per fill and drain", capacity, a)
		}
		if b, most := gate.MPSCBlocks(rx), capacity/32+4; b > most {
			t.Errorf("cap %d: %d blocks kept, want at most %d", capacity, b, most)
		}
	}
}

func TestMPSCMemoryReusedAfterBurst(t *testing.T) {
	tx, rx := gate.UnboundedMPSC[int]()
	ctx := context.Background()
	for round := range 3 {
		for i := range 100_000 {
			_ = tx.Send(ctx, i)
		}
		for i := range 100_000 {
			v, err := rx.Recv(ctx)
			if err != nil || v != i {
				t.Fatalf("round %d: Recv = %d, %v", round, v, err)
			}
		}
		if b := gate.MPSCBlocks(rx); b > 8 {
			t.Fatalf("round %d: %d blocks kept after the burst drained", round, b)
		}
	}
	// A steady stream within a few blocks reuses them: no allocation.
	if a := testing.AllocsPerRun(100, func() {
		for i := range 64 {
			_ = tx.Send(ctx, i)
		}
		for range 64 {
			_, _ = rx.Recv(ctx)
		}
	}); a != 0 {
		t.Fatalf("%v allocs per 64 messages after a burst", a)
	}
}

// ---------------------------------------------------------------------------
// Testing rule: a package-level channel works in one bubble after another
// and outside them.

var pkgTx, pkgRx = gate.MPSC[int](1)

func TestMPSCPackageLevelAcrossBubbles(t *testing.T) {
	for round := range 3 {
		synctest.Test(t, func(t *testing.T) {
			s := goErr("send", func() error {
				for i := range 3 {
					if err := pkgTx.Send(t.Context(), i); err != nil {
						return err
					}
				}
				return nil
			})
			for i := range 3 {
				mpscRecvOK(t, pkgRx, i)
			}
			synctest.Wait()
			s.ok(t)
			r := goCall("recv", func() (int, error) { return pkgRx.Recv(t.Context()) })
			synctest.Wait() // parked on a channel of this bubble
			r.pending(t)
			_ = pkgTx.TrySend(round)
			synctest.Wait()
			if v := r.ok(t); v != round {
				t.Fatalf("Recv = %d", v)
			}
		})
	}
	watchdog(t)
	go func() { _ = pkgTx.Send(bg, 42) }()
	if v, err := pkgRx.Recv(bg); v != 42 || err != nil {
		t.Fatalf("outside a bubble: Recv = %d, %v", v, err)
	}
}

// ---------------------------------------------------------------------------
// Linearizability: a FIFO queue with capacity, from real goroutines.

type mpscLinOp uint8

const (
	mpscLinSend    mpscLinOp = iota // a Send that returned nil; value in
	mpscLinSendErr                  // a Send that failed with ctx.Err(): no effect
	mpscLinTrySend                  // value in; output ok (nil) or full
	mpscLinTryRecv                  // output value or empty
	mpscLinRecv                     // a Recv that returned a value
)

type mpscLinIn struct {
	op  mpscLinOp
	val int
}

type mpscLinOut struct {
	ok  bool
	val int
}

// mpscLinState is the model: the queue's values, oldest first, and how many
// blocking sends are pending (see linearizability_test.go: a pending sender
// may be queued ahead of a TrySend, which may then fail although there is
// room).
type mpscLinState struct {
	queue   []int
	pending int
}

func mpscLinModel(capacity int) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return mpscLinState{} },
		Step: func(state, input, output any) (bool, any) {
			s := state.(mpscLinState)
			in := input.(mpscLinIn)
			switch in.op {
			case mpscLinSend:
				if in.val < 0 { // the begin marker of a blocking send
					s.pending++
					return true, s
				}
				if len(s.queue) >= capacity {
					return false, s
				}
				s.pending--
				s.queue = append(slices.Clone(s.queue), in.val)
				return true, s
			case mpscLinSendErr:
				s.pending--
				return true, s
			case mpscLinTrySend:
				out := output.(mpscLinOut)
				if !out.ok {
					return len(s.queue) >= capacity || s.pending > 0, s
				}
				if len(s.queue) >= capacity {
					return false, s
				}
				s.queue = append(slices.Clone(s.queue), in.val)
				return true, s
			default: // TryRecv, Recv
				out := output.(mpscLinOut)
				if !out.ok {
					return len(s.queue) == 0, s
				}
				if len(s.queue) == 0 || s.queue[0] != out.val {
					return false, s
				}
				s.queue = s.queue[1:]
				return true, s
			}
		},
		Equal: func(a, b any) bool {
			x, y := a.(mpscLinState), b.(mpscLinState)
			return x.pending == y.pending && slices.Equal(x.queue, y.queue)
		},
		DescribeOperation: func(input, output any) string {
			in := input.(mpscLinIn)
			o, _ := output.(mpscLinOut)
			switch in.op {
			case mpscLinSend:
				if in.val < 0 {
					return "begin Send"
				}
				return fmt.Sprintf("Send(%d)", in.val)
			case mpscLinSendErr:
				return "Send -> ctx err"
			case mpscLinTrySend:
				return fmt.Sprintf("TrySend(%d) -> %v", in.val, o.ok)
			case mpscLinTryRecv:
				return fmt.Sprintf("TryRecv -> %d %v", o.val, o.ok)
			default:
				return fmt.Sprintf("Recv -> %d", o.val)
			}
		},
	}
}

func TestMPSCLinearizable(t *testing.T) {
	watchdog(t)
	for _, capacity := range []int{1, 3, 40} {
		for run := range 4 {
			t.Run(fmt.Sprintf("cap=%d/run=%d", capacity, run), func(t *testing.T) {
				tx, rx := gate.MPSC[int](capacity)
				const senders = 3
				ops := shortOr(20, 10)
				rec := newLinRecorder(senders + 1)
				var wg sync.WaitGroup
				for c := range senders {
					wg.Go(func() {
						r := rand.New(rand.NewPCG(uint64(run), uint64(c)))
						for i := range ops {
							v := c*1000 + i
							if r.IntN(3) == 0 {
								call := rec.now()
								err := tx.TrySend(v)
								rec.add(c, mpscLinIn{mpscLinTrySend, v}, mpscLinOut{ok: err == nil}, call, rec.now())
								continue
							}
							ctx, cancel := randomCtx(r, context.Background())
							call := rec.begin(c, mpscLinIn{mpscLinSend, -1})
							err := tx.Send(ctx, v)
							ret := rec.now()
							if err == nil {
								rec.add(c, mpscLinIn{mpscLinSend, v}, nil, call, ret)
							} else {
								checkStormErr(t, "Send", ctx, err)
								rec.add(c, mpscLinIn{mpscLinSendErr, v}, nil, call, ret)
							}
							cancel()
						}
					})
				}
				// The receiver takes values until every sender is done and the
				// queue is empty: mostly Recv with a short deadline (a Recv that
				// gives up has no effect and is left out of the history), some
				// TryRecv.
				sendersDone := make(chan struct{})
				go func() { wg.Wait(); close(sendersDone) }()
				r := rand.New(rand.NewPCG(uint64(run), 99))
				for {
					finished := false
					select {
					case <-sendersDone:
						finished = true
					default:
					}
					if finished || r.IntN(4) == 0 {
						call := rec.now()
						v, err := rx.TryRecv()
						rec.add(senders, mpscLinIn{op: mpscLinTryRecv}, mpscLinOut{ok: err == nil, val: v}, call, rec.now())
						if err != nil && finished {
							break
						}
						continue
					}
					ctx, cancel := context.WithTimeout(bg, 200*time.Microsecond)
					call := rec.now()
					v, err := rx.Recv(ctx)
					ret := rec.now()
					cancel()
					if err == nil {
						rec.add(senders, mpscLinIn{op: mpscLinRecv}, mpscLinOut{ok: true, val: v}, call, ret)
					}
				}
				checkLinearizable(t, mpscLinModel(capacity), rec.history())
			})
		}
	}
}

// ---------------------------------------------------------------------------
// A rapid model of the bounded channel (TESTING.md layer 2), under
// rapid.SyncTest: each action draws on the test goroutine and starts at most
// one goroutine (a waiting Send, ReserveN or Recv); the check settles the
// bubble and compares what can be observed with a sequential model.
//
// The model is the batch semaphore of capacity slots (see model_test.go's
// semModel) plus the buffer. Values pushed by senders that one event granted
// together (a release of several slots) may arrive in any order among
// themselves, so the buffer is a list of groups; a receive must return a value
// of the first group.

type mpscModelWaiter struct {
	id, n, grant int
	val          int // a Send's value; -1 for a ReserveN
}

type mpscModel struct {
	cap, avail       int
	queue            []mpscModelWaiter
	buf              [][]int        // groups, oldest first
	held             map[int]int    // permits held by the test: id -> slots left
	done             map[int]string // Send/ReserveN goroutines that returned
	rxClosed, txDone bool           // receiver closed; the (only) sender handle closed
}

func (m *mpscModel) closed() bool { return m.rxClosed || m.txDone }

func (m *mpscModel) drained() bool { return m.closed() && m.avail == m.cap && len(m.queue) == 0 }

func (m *mpscModel) len() int {
	n := 0
	for _, g := range m.buf {
		n += len(g)
	}
	return n
}

// granted records that w's request was met.
func (m *mpscModel) granted(w mpscModelWaiter, group *[]int) {
	m.done[w.id] = "granted"
	if w.val >= 0 {
		*group = append(*group, w.val)
	} else {
		m.held[w.id] = w.n
	}
}

// give hands n freed slots to the queue, head first; the rest becomes free.
func (m *mpscModel) give(n int) {
	var group []int
	for n > 0 && len(m.queue) > 0 {
		w := &m.queue[0]
		need := w.n - w.grant
		if n < need {
			w.grant += n
			n = 0
			break
		}
		n -= need
		m.granted(*w, &group)
		m.queue = m.queue[1:]
	}
	if len(m.queue) == 0 {
		m.avail += n
	}
	if len(group) > 0 {
		m.buf = append(m.buf, group)
	}
}

// request models Send (val >= 0, n == 1) or ReserveN (val == -1).
func (m *mpscModel) request(id, n, val int, precancelled bool) {
	switch {
	case precancelled:
		m.done[id] = "canceled"
	case n > m.cap:
		m.done[id] = "too-many"
	case m.closed():
		m.done[id] = "closed"
	case n == 0 || len(m.queue) == 0 && m.avail >= n:
		m.avail -= n
		var g []int
		m.granted(mpscModelWaiter{id: id, n: n, val: val}, &g)
		if len(g) > 0 {
			m.buf = append(m.buf, g)
		}
	default:
		m.queue = append(m.queue, mpscModelWaiter{id: id, n: n, grant: m.avail, val: val})
		m.avail = 0
	}
}

// take removes v from the first group and frees its slot, or reports false
// if v is not there.
func (m *mpscModel) take(v int) bool {
	if len(m.buf) == 0 {
		return false
	}
	i := slices.Index(m.buf[0], v)
	if i < 0 {
		return false
	}
	m.buf[0] = slices.Delete(slices.Clone(m.buf[0]), i, i+1)
	if len(m.buf[0]) == 0 {
		m.buf = m.buf[1:]
	}
	m.give(1)
	return true
}

func (m *mpscModel) close() {
	for _, w := range m.queue {
		m.done[w.id] = "closed"
		m.avail += w.grant
	}
	m.queue = nil
}

type mpscObs struct {
	Capacity, Len, Waiters, HeadGrant int
	RxClosed, TxIsClosed              bool
	Done                              map[int]string
	Held                              map[int]int
}

func (m *mpscModel) obs() mpscObs {
	o := mpscObs{Capacity: m.avail, Len: m.len(), Waiters: len(m.queue),
		RxClosed: m.closed(), TxIsClosed: m.closed(), Done: maps.Clone(m.done), Held: maps.Clone(m.held)}
	if len(m.queue) > 0 {
		o.HeadGrant = m.queue[0].grant
	}
	return o
}

type mpscCall struct {
	ch chan mpscCallResult
	n  int
}

type mpscCallResult struct {
	p   *gate.MPSCPermit[int]
	v   int
	err error
}

type mpscMachine struct {
	tx      *gate.MPSCSender[int]
	rx      *gate.MPSCReceiver[int]
	m       mpscModel
	nextID  int
	nextVal int
	pending map[int]mpscCall
	cancels map[int]context.CancelFunc
	ctxs    []context.CancelFunc
	permits map[int]*gate.MPSCPermit[int]
	done    map[int]string
	recv    *mpscCall // the pending Recv goroutine
	recvCtx context.CancelFunc
}

func (mm *mpscMachine) id() int { mm.nextID++; return mm.nextID }

func (mm *mpscMachine) cleanup() {
	for _, c := range mm.ctxs {
		c()
	}
	for _, c := range mm.pending {
		<-c.ch
	}
	if mm.recv != nil {
		<-mm.recv.ch
	}
}

func (mm *mpscMachine) check(rt *rapid.T) {
	synctest.Wait()
	for id, c := range mm.pending {
		select {
		case r := <-c.ch:
			delete(mm.pending, id)
			mm.done[id] = resultString(r.err)
			if r.err == gate.ErrFull {
				mm.done[id] = "full"
			}
			if r.err == nil && r.p != nil {
				if r.p.Count() != c.n {
					rt.Fatalf("ReserveN(%d) returned a permit of %d", c.n, r.p.Count())
				}
				mm.permits[id] = r.p
			}
		default:
		}
	}
	if mm.recv != nil {
		select {
		case r := <-mm.recv.ch:
			mm.recv = nil
			switch {
			case r.err == nil:
				if !mm.m.take(r.v) {
					rt.Fatalf("Recv = %d, not at the front of %v", r.v, mm.m.buf)
				}
			case r.err == gate.ErrClosed:
				if !mm.m.drained() || mm.m.len() > 0 { // ErrClosed is final: closed and drained
					rt.Fatalf("Recv = ErrClosed, model not drained")
				}
			case r.err == context.Canceled:
			default:
				rt.Fatalf("Recv = %v", r.err)
			}
		default:
			if mm.m.len() > 0 || mm.m.drained() {
				rt.Fatalf("Recv still blocked with %d values buffered (drained %v)", mm.m.len(), mm.m.drained())
			}
		}
	}
	got := mpscObs{Capacity: mm.tx.Capacity(), Len: mm.rx.Len(), Waiters: gate.MPSCSenderWaiters(mm.tx),
		HeadGrant: gate.MPSCHeadGrant(mm.tx), RxClosed: mm.rx.IsClosed(), TxIsClosed: mm.tx.IsClosed(),
		Done: maps.Clone(mm.done), Held: map[int]int{}}
	for id, p := range mm.permits {
		got.Held[id] = p.Count()
	}
	if diff := cmp.Diff(mm.m.obs(), got); diff != "" {
		rt.Fatalf("channel differs from the model (-model +real):\n%s", diff)
	}
}

// request starts Send or ReserveN in a goroutine.
func (mm *mpscMachine) request(rt *rapid.T) {
	reserve := rapid.Bool().Draw(rt, "reserve")
	n := 1
	if reserve {
		n = rapid.IntRange(0, mm.m.cap+1).Draw(rt, "n")
	}
	pre := drawPrecancelled(rt)
	id := mm.id()
	ctx := callCtx(&mm.ctxs, mm.cancels, id, pre)
	c := mpscCall{ch: make(chan mpscCallResult, 1), n: n}
	mm.pending[id] = c
	val := -1
	tx := mm.tx
	if reserve {
		go func() { p, err := tx.ReserveN(ctx, n); c.ch <- mpscCallResult{p: &p, err: err} }()
	} else {
		mm.nextVal++
		val = mm.nextVal
		go func() { c.ch <- mpscCallResult{err: tx.Send(ctx, val)} }()
	}
	mm.m.request(id, n, val, pre)
}

// try calls TrySend or TryReserveN on the test goroutine.
func (mm *mpscMachine) try(rt *rapid.T) {
	reserve := rapid.Bool().Draw(rt, "reserve")
	n := 1
	if reserve {
		n = rapid.IntRange(0, mm.m.cap+1).Draw(rt, "n")
	}
	id := mm.id()
	val := -1
	var err error
	var p gate.MPSCPermit[int]
	if reserve {
		p, err = mm.tx.TryReserveN(n)
	} else {
		mm.nextVal++
		val = mm.nextVal
		err = mm.tx.TrySend(val)
	}
	m := &mm.m
	want := "granted"
	switch {
	case n > m.cap:
		want = "too-many"
	case m.closed():
		want = "closed"
	case n > 0 && (len(m.queue) > 0 || m.avail < n):
		want = "full"
	default:
		m.request(id, n, val, false)
		delete(m.done, id)
	}
	got := resultString(err)
	if err == gate.ErrFull {
		got = "full"
	}
	if got != want {
		rt.Fatalf("Try(reserve=%v, n=%d) = %s; model %s", reserve, n, got, want)
	}
	if reserve && err == nil {
		mm.permits[id] = &p
	}
}

func (mm *mpscMachine) permitSend(rt *rapid.T) {
	id, ok := pick(rt, mm.permits, "permit")
	if !ok || mm.permits[id].Count() == 0 {
		return
	}
	mm.nextVal++
	mm.permits[id].Send(mm.nextVal)
	mm.m.held[id]--
	mm.m.buf = append(mm.m.buf, []int{mm.nextVal})
}

func (mm *mpscMachine) permitRelease(rt *rapid.T) {
	id, ok := pick(rt, mm.permits, "permit")
	if !ok {
		return
	}
	mm.permits[id].Release()
	delete(mm.permits, id)
	n := mm.m.held[id]
	delete(mm.m.held, id)
	mm.m.give(n)
}

// receive runs TryRecv or RecvMany on the test goroutine, or starts a Recv.
func (mm *mpscMachine) receive(rt *rapid.T) {
	if mm.recv != nil {
		return // one receiving goroutine at a time
	}
	m := &mm.m
	switch rapid.IntRange(0, 2).Draw(rt, "how") {
	case 0:
		v, err := mm.rx.TryRecv()
		switch {
		case err == nil:
			if !m.take(v) {
				rt.Fatalf("TryRecv = %d, not at the front of %v", v, m.buf)
			}
		case err == gate.ErrClosed && m.len() == 0 && m.drained():
		case err == gate.ErrEmpty && m.len() == 0 && !m.drained():
		default:
			rt.Fatalf("TryRecv = %v with %d buffered (drained %v)", err, m.len(), m.drained())
		}
	case 1:
		if m.len() == 0 && !m.drained() {
			return // it would wait
		}
		buf := make([]int, rapid.IntRange(1, 4).Draw(rt, "k"))
		n, err := mm.rx.RecvMany(context.Background(), buf)
		if want := min(len(buf), m.len()); n != want || (n == 0) != (err == gate.ErrClosed) {
			rt.Fatalf("RecvMany(%d) = %d, %v; model has %d", len(buf), n, err, m.len())
		}
		for _, v := range buf[:n] {
			if !m.take(v) {
				rt.Fatalf("RecvMany value %d not at the front of %v", v, m.buf)
			}
		}
	default:
		ctx, cancel := context.WithCancel(context.Background())
		mm.ctxs = append(mm.ctxs, cancel)
		mm.recvCtx = cancel
		c := mpscCall{ch: make(chan mpscCallResult, 1)}
		mm.recv = &c
		rx := mm.rx
		go func() { v, err := rx.Recv(ctx); c.ch <- mpscCallResult{v: v, err: err} }()
	}
}

func (mm *mpscMachine) cancel(rt *rapid.T) {
	if mm.recv != nil && rapid.Bool().Draw(rt, "recv") {
		mm.recvCtx()
		return
	}
	id, ok := pick(rt, mm.cancels, "waiter")
	if !ok {
		return
	}
	mm.cancels[id]()
	delete(mm.cancels, id)
	m := &mm.m
	for i, w := range m.queue {
		if w.id == id {
			m.queue = slices.Delete(m.queue, i, i+1)
			m.done[id] = "canceled"
			m.give(w.grant)
			return
		}
	}
}

func (mm *mpscMachine) closeRx(rt *rapid.T) {
	// A Close from another goroutine wakes a Recv that waits; like one that
	// starts after it, it returns ErrClosed only once drained (API.md, mpsc).
	mm.rx.Close()
	mm.m.rxClosed = true
	mm.m.close()
}

func (mm *mpscMachine) closeTx(rt *rapid.T) {
	mm.tx.Close()
	mm.m.txDone = true
	mm.m.close()
}

func mpscModelProp(rt *rapid.T) {
	runModel(rt, func(rt *rapid.T) (func(), modelActions) {
		capacity := rapid.IntRange(1, 3).Draw(rt, "capacity")
		tx, rx := gate.MPSC[int](capacity)
		mm := &mpscMachine{tx: tx, rx: rx, pending: map[int]mpscCall{}, cancels: map[int]context.CancelFunc{},
			permits: map[int]*gate.MPSCPermit[int]{}, done: map[int]string{},
			m: mpscModel{cap: capacity, avail: capacity, held: map[int]int{}, done: map[int]string{}}}
		return mm.cleanup, modelActions{
			"":              mm.check,
			"request":       mm.request,
			"try":           mm.try,
			"permitSend":    mm.permitSend,
			"permitRelease": mm.permitRelease,
			"receive":       mm.receive,
			"cancel":        mm.cancel,
			"closeRx":       mm.closeRx,
			"closeTx":       mm.closeTx,
		}
	})
}

func TestMPSCModel(t *testing.T) { checkModel(t, mpscModelProp, false) }

// errCountCtx counts the calls of Err, so that a test knows a call has got
// past its first ctx check and into its slow path.
type errCountCtx struct {
	context.Context
	n atomic.Int32
}

func (c *errCountCtx) Err() error {
	c.n.Add(1)
	return c.Context.Err()
}

// A bounded Send that finds the channel full is queued before it yields to
// the receiver, so a TrySend that comes while it waits cannot take the slot
// the receiver frees (found by review: the Send used to yield before it
// queued, and a later TrySend took the slot in every round).
func TestMPSCSpinningSendKeepsItsPlace(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for round := range 100 {
		tx, rx := gate.MPSC[int](1)
		if err := tx.TrySend(0); err != nil {
			t.Fatal(err)
		}
		ctx := &errCountCtx{Context: bg}
		a := goErr("Send(1)", func() error { return tx.Send(ctx, 1) })
		for ctx.n.Load() < 2 {
			runtime.Gosched() // a is in Send's slow path, waiting for room
		}
		mpscTryRecvOK(t, rx, 0)
		if err := tx.TrySend(2); err != gate.ErrFull {
			t.Fatalf("round %d: TrySend while an earlier Send waits = %v, want ErrFull", round, err)
		}
		if _, err := a.wait(t); err != nil {
			t.Fatal(err)
		}
		mpscRecvOK(t, rx, 1)
		tx.Close()
		rx.Close()
	}
}

// WaitClosed on a sender handle that was closed before the call returns
// ErrClosed at once, bounded or unbounded (found by review: it waited for the
// receiver, perhaps forever).
func TestMPSCWaitClosedAfterOwnClose(t *testing.T) {
	for _, unbounded := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			tx, rx := gate.MPSC[int](1)
			if unbounded {
				tx, rx = gate.UnboundedMPSC[int]()
			}
			defer rx.Close()
			tx2 := tx.Clone()
			defer tx2.Close()
			tx.Close()
			wc := goErr("WaitClosed on a closed handle", func() error { return tx.WaitClosed(t.Context()) })
			synctest.Wait()
			wc.failed(t, gate.ErrClosed)
		})
	}
}

// ---------------------------------------------------------------------------
// Handles and Close (API.md): a handle's Close ends its own calls in flight
// and fails its later ones; other handles go on.

// A sender's Close ends its waiting ReserveN (whose partial grant goes to the
// next sender, of another handle), its waiting Send and WaitClosed with
// ErrClosed; a Send of another handle queued behind them goes on.
func TestMPSCSenderCloseEndsItsCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.MPSC[int](2)
		tx2 := tx.Clone()
		ctx := t.Context()
		_ = tx.TrySend(0)
		reserve := goErr("ReserveN(2)", func() error { _, err := tx.ReserveN(ctx, 2); return err })
		synctest.Wait()
		other := goErr("other handle's Send", func() error { return tx2.Send(ctx, 7) })
		synctest.Wait()
		send := goErr("Send", func() error { return tx.Send(ctx, 8) })
		wait := goErr("WaitClosed", func() error { return tx.WaitClosed(ctx) })
		wait2 := goErr("other handle's WaitClosed", func() error { return tx2.WaitClosed(ctx) })
		synctest.Wait()
		if g := gate.MPSCHeadGrant(tx); g != 1 {
			t.Fatalf("head grant %d; want 1", g)
		}
		tx.Close()
		synctest.Wait()
		reserve.failed(t, gate.ErrClosed)
		send.failed(t, gate.ErrClosed)
		wait.failed(t, gate.ErrClosed)
		other.ok(t) // it got the partial grant of the closed ReserveN
		wait2.pending(t)
		if !tx.IsClosed() || tx2.IsClosed() || rx.IsClosed() {
			t.Fatalf("IsClosed: tx %v, tx2 %v, rx %v; want true, false, false", tx.IsClosed(), tx2.IsClosed(), rx.IsClosed())
		}
		mpscRecvOK(t, rx, 0)
		mpscRecvOK(t, rx, 7)
		tryRecvErr(t, rx, gate.ErrEmpty)
		rx.Close()
		synctest.Wait()
		wait2.ok(t)
	})
}

// Every later call on a closed sender handle returns ErrClosed, its clone is
// closed, and the error order of ReserveN and TryReserveN is: a done ctx,
// ErrTooMany, ErrClosed, ErrFull.
func TestMPSCClosedSenderHandle(t *testing.T) {
	both(t, 1, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		ctx := t.Context()
		bounded := tx.MaxCapacity() > 0
		tooMany := gate.MaxPermits
		if bounded {
			tooMany = 2
			if _, err := tx.TryReserveN(2); err != gate.ErrTooMany {
				t.Fatalf("TryReserveN(2) on an open channel = %v; want ErrTooMany", err)
			}
			_ = tx.TrySend(0) // full: ErrFull comes last
			if _, err := tx.TryReserveN(1); err != gate.ErrFull {
				t.Fatalf("TryReserveN(1) on a full channel = %v; want ErrFull", err)
			}
		}
		keep := tx.Clone() // the channel stays open: only tx is closed
		defer keep.Close()
		tx.Close()
		for _, c := range []*gate.MPSCSender[int]{tx, tx.Clone()} {
			if !c.IsClosed() || rx.IsClosed() {
				t.Fatalf("IsClosed: sender %v, receiver %v; want true, false", c.IsClosed(), rx.IsClosed())
			}
			if _, err := c.ReserveN(doneCtx(ctx), tooMany+1); err != context.Canceled {
				t.Fatalf("ReserveN(done ctx, too many) = %v", err)
			}
			if _, err := c.ReserveN(ctx, tooMany+1); err != gate.ErrTooMany {
				t.Fatalf("ReserveN(too many) = %v; want ErrTooMany", err)
			}
			if _, err := c.TryReserveN(tooMany + 1); err != gate.ErrTooMany {
				t.Fatalf("TryReserveN(too many) = %v; want ErrTooMany", err)
			}
			for what, err := range map[string]error{
				"Send":        c.Send(ctx, 1),
				"TrySend":     c.TrySend(1),
				"Reserve":     second(c.Reserve(ctx)),
				"ReserveN(0)": second(c.ReserveN(ctx, 0)),
				"TryReserve":  second(c.TryReserve()),
				"TryReserveN": second(c.TryReserveN(1)),
				"WaitClosed":  c.WaitClosed(ctx),
			} {
				if err != gate.ErrClosed {
					t.Fatalf("%s on a closed handle = %v; want ErrClosed", what, err)
				}
			}
		}
	})
}

// second returns the error of a two-result call.
func second[T any](_ T, err error) error { return err }

// A Close of the receiver from another goroutine ends a Recv or RecvMany
// that waits: at once with ErrClosed when nothing is left, and, with a
// reserved slot outstanding, once that slot is sent on (its value first) or
// released, since ErrClosed means closed and drained (API.md, mpsc: no permit
// outstanding) and so is final. An armed Ready is receivable once nothing is
// left.
func TestMPSCReceiverCloseEndsRecv(t *testing.T) {
	for _, how := range []string{"Recv", "RecvMany"} {
		t.Run(how, func(t *testing.T) {
			both(t, 2, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
				recvFn := func() (int, error) {
					if how == "Recv" {
						return rx.Recv(t.Context())
					}
					buf := make([]int, 2)
					n, err := rx.RecvMany(t.Context(), buf)
					if n != 1 {
						return 0, err
					}
					return buf[0], err
				}
				p, _ := tx.Reserve(t.Context())
				recv := goCall(how, recvFn)
				synctest.Wait()
				recv.pending(t)
				rx.Close()
				synctest.Wait()
				recv.pending(t) // the reserved slot may still be sent on
				p.Send(5)
				synctest.Wait()
				if v := recv.ok(t); v != 5 {
					t.Fatalf("%s = %d; want 5", how, v)
				}
				recvClosed(t, rx)
			})
			both(t, 2, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
				recv := goErr(how, func() error {
					_, err := rx.Recv(t.Context())
					return err
				})
				synctest.Wait()
				recv.pending(t)
				rx.Close() // nothing sent, nothing reserved: drained
				synctest.Wait()
				recv.failed(t, gate.ErrClosed)
				recvClosed(t, rx)
			})
		})
	}
	both(t, 2, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		_ = tx.Send(t.Context(), 1)
		rx.Close()
		mpscRecvOK(t, rx, 1) // buffered values first
		recvClosed(t, rx)
	})
	both(t, 2, func(t *testing.T, tx *gate.MPSCSender[int], rx *gate.MPSCReceiver[int]) {
		ready := rx.Ready()
		synctest.Wait()
		if isReady(ready) {
			t.Fatal("Ready receivable on an empty channel")
		}
		rx.Close()
		if !isReady(ready) {
			t.Fatal("Ready not receivable after Close")
		}
		tryRecvErr(t, rx, gate.ErrClosed)
	})
}

// An MPSCReceiver used by two goroutines at once panics with a message that
// names the misuse.
func TestMPSCReceiverTwoGoroutinesPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.MPSC[int](1)
		first := goCall("Recv", func() (int, error) { return rx.Recv(t.Context()) })
		synctest.Wait()
		msg := mustPanic(t, "a second goroutine's Recv", func() { _, _ = rx.Recv(t.Context()) })
		if !strings.Contains(msg, "two goroutines at once") {
			t.Fatalf("panic %q does not name the misuse", msg)
		}
		_ = tx.Send(t.Context(), 1)
		synctest.Wait()
		if v := first.ok(t); v != 1 {
			t.Fatalf("Recv = %d", v)
		}
	})
}

// go.dev/issue/63615, for Send: a Send whose ctx was cancelled before the
// receiver made room returns ctx.Canceled, and its value is not delivered,
// even if the room comes before the sender runs again.
func TestMPSCSendCancelledBeforeRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := gate.MPSC[int](1)
		_ = tx.TrySend(1)
		ctx, cancel := context.WithCancel(t.Context())
		send := goErr("Send", func() error { return tx.Send(ctx, 2) })
		synctest.Wait()
		send.pending(t)
		cancel()
		mpscTryRecvOK(t, rx, 1) // makes room before the sender runs
		synctest.Wait()
		send.failed(t, context.Canceled)
		tryRecvErr(t, rx, gate.ErrEmpty)
		if c := tx.Capacity(); c != 1 {
			t.Fatalf("Capacity = %d; want 1 (the slot went back)", c)
		}
	})
}
