package gate_test

// Conservation stress tests of every channel under -race (layer 4 of
// TESTING.md), written against API.md only: Close of either side races the
// sends, the receives and a cancellation storm, in many short rounds so that
// the Close falls at a different moment each time. What each checks is the
// "Nothing lost" rule and the Close rules of API.md:
//
//   - mpsc: every value whose send returned nil is received exactly once
//     (sent-with-nil and received compared as multisets), each sending
//     goroutine's values in the order it sent them; a send that starts after
//     a Close returned fails; after Recv's ErrClosed nothing more arrives.
//   - oneshot: the value is received iff its Send returned nil, also when the
//     receiver closed after the Send (a value sent before Close can still be
//     received).
//   - broadcast: every receiver reads positions in order; a lag is a
//     *LaggedError whose count is exactly the positions it skips; a receiver
//     that stays to the end accounts for every value whose Send returned n>0.
//   - watch: a receiver never sees a version go backwards and at the end sees
//     the last value stored.
//
// The tests named ...FromAnotherGoroutine and ...WithoutReceivers check rules
// that are new in API.md (a receiver's Close from another goroutine ends its
// call in flight; a watch Send stores with no receiver): they fail fast, with
// a message naming the rule, where a channel does not follow them yet.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gophergate/gate"
)

// closeEndsTimeout is how long a call in flight may take to return after its
// handle's Close returned, before a test calls the Close rule broken.
const closeEndsTimeout = 2 * time.Second

// A closer is a handle's Close run at a random moment: right away, after a few
// yields or after a few microseconds, from its own goroutine. closed is set
// once Close has returned; a call that starts after that must fail.
type closer struct {
	started, closed atomic.Bool // Close was called; it returned
	once            sync.Once
	done            chan struct{}
}

// closeLater starts close in a new goroutine on wg, after a delay drawn from r.
func closeLater(wg *sync.WaitGroup, r *rand.Rand, close func()) *closer {
	c := &closer{done: make(chan struct{})}
	kind, n := r.IntN(3), r.IntN(100)
	wg.Go(func() {
		switch kind {
		case 1:
			for range n / 4 {
				runtime.Gosched()
			}
		case 2:
			time.Sleep(time.Duration(n) * time.Microsecond)
		}
		c.now(close)
	})
	return c
}

// now runs close (idempotent) on this goroutine and marks it done.
func (c *closer) now(close func()) {
	c.started.Store(true)
	close()
	c.closed.Store(true)
	c.once.Do(func() { closeChan(c.done) })
}

func closeChan(ch chan struct{}) { close(ch) }

// sameMultiset fails the test unless sent and got hold the same values the
// same number of times. It sorts both.
func sameMultiset(t *testing.T, what string, sent, got []int) {
	t.Helper()
	sort.Ints(sent)
	sort.Ints(got)
	if fmt.Sprint(sent) != fmt.Sprint(got) {
		t.Errorf("%s: %d values sent with a nil error, %d received:\nsent     %v\nreceived %v", what, len(sent), len(got), sent, got)
	}
}

// A receiver is an mpsc, oneshot or broadcast receiver.
type receiver[T any] interface {
	Recv(ctx context.Context) (T, error)
	TryRecv() (T, error)
	Ready() <-chan struct{}
}

// recvOne receives from rx once, one of three ways drawn from r: Recv(ctx);
// TryRecv, yielding if it returns ErrEmpty; a select on Ready and ctx.Done,
// then TryRecv, which may not return ErrEmpty (with strictReady, the test
// fails if it does) or ctx.Err(). what names the channel in failures.
func recvOne[T any](t *testing.T, r *rand.Rand, ctx context.Context, rx receiver[T], what string, strictReady bool) (T, error) {
	switch r.IntN(3) {
	case 0:
		return rx.Recv(ctx)
	case 1:
		v, err := rx.TryRecv()
		if err == gate.ErrEmpty {
			runtime.Gosched()
		}
		return v, err
	}
	select {
	case <-rx.Ready():
		v, err := rx.TryRecv()
		if err == gate.ErrEmpty && strictReady {
			t.Errorf("%s: TryRecv after a receive from Ready = ErrEmpty: invented", what)
		}
		return v, err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// channelStorm runs rounds of round under a cancellation storm, from several
// goroutines at once, each with its own seeded rand; it stops at the first
// failure.
func channelStorm(t *testing.T, workers, rounds int, round func(r *rand.Rand, st *storm)) {
	watchdog(t)
	seed := logSeed(t)
	st := newStorm(2)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			for range rounds {
				round(r, st)
				if t.Failed() {
					return
				}
			}
		})
	}
	waitLive(t, &wg, func() string { return "channel storm" })
	st.stop()
}

// TestMPSCStressCloseRace: on bounded and unbounded mpsc channels, several
// sender handles, each used by two goroutines with Send, TrySend, Reserve and
// ReserveN (permits sent or released) under a cancellation storm, race the
// senders' Close and the receiver's Close, both from other goroutines at
// random moments; the receiver mixes Recv, RecvMany, TryRecv and Ready until
// ErrClosed. Every value whose send returned nil is received exactly once.
func TestMPSCStressCloseRace(t *testing.T) {
	mpscCloseStorm(t, false)
}

// TestMPSCStressReadyInventsNothing is TestMPSCStressCloseRace that also
// fails when a receive from Ready is followed by TryRecv's ErrEmpty ("Nothing
// is invented", API.md's Select rule).
func TestMPSCStressReadyInventsNothing(t *testing.T) {
	mpscCloseStorm(t, true)
}

func mpscCloseStorm(t *testing.T, strictReady bool) {
	for _, capacity := range []int{1, 3, -1} {
		t.Run(fmt.Sprintf("cap=%d", capacity), func(t *testing.T) {
			channelStorm(t, 2, stormScale(60), func(r *rand.Rand, st *storm) {
				mpscCloseRound(t, r, st, capacity, strictReady)
			})
		})
	}
}

func mpscCloseRound(t *testing.T, r *rand.Rand, st *storm, capacity int, strictReady bool) {
	tx, rx := gate.UnboundedMPSC[int]()
	if capacity > 0 {
		tx, rx = gate.MPSC[int](capacity)
	}
	const handles, perHandle = 3, 2 // goroutines per handle
	var wg sync.WaitGroup
	rxCloser := &closer{done: make(chan struct{})}
	if r.IntN(3) > 0 {
		rxCloser = closeLater(&wg, r, rx.Close)
	}
	sent := make([][]int, handles*perHandle) // per sending goroutine
	for h := range handles {
		htx := tx
		if h > 0 {
			htx = tx.Clone()
		}
		txCloser := &closer{done: make(chan struct{})}
		if r.IntN(2) == 0 {
			txCloser = closeLater(&wg, r, htx.Close)
		}
		var hwg sync.WaitGroup
		for g := range perHandle {
			src := h*perHandle + g
			gr := rand.New(rand.NewPCG(r.Uint64(), uint64(src)))
			n := 1 + gr.IntN(30)
			hwg.Go(func() {
				for i := range n {
					v := src<<16 | i
					closedBefore := rxCloser.closed.Load() || txCloser.closed.Load()
					ok, err := mpscSendOne(t, gr, st, htx, v, capacity)
					if ok {
						sent[src] = append(sent[src], v)
					}
					if err == nil && closedBefore {
						t.Errorf("a send that started after a Close returned succeeded")
					}
				}
			})
		}
		wg.Go(func() {
			hwg.Wait()
			txCloser.now(htx.Close)
		})
	}

	got := mpscDrain(t, r, st, rx, strictReady)
	waitLive(t, &wg, func() string { return fmt.Sprintf("%d received", len(got)) })
	if v, err := rx.TryRecv(); err != gate.ErrClosed {
		t.Errorf("TryRecv after ErrClosed and every sender done = (%v, %v), want ErrClosed", v, err)
	}
	last := map[int]int{}
	for _, v := range got {
		if l, ok := last[v>>16]; ok && v <= l {
			t.Errorf("value %#x received after %#x: one goroutine's values out of order", v, l)
		}
		last[v>>16] = v
	}
	var all []int
	for _, vs := range sent {
		all = append(all, vs...)
	}
	sameMultiset(t, "mpsc", all, got)
}

// mpscSendOne sends v on tx one of five ways and reports whether v was sent
// (a permit send, or a send that returned nil); err is the call's error.
func mpscSendOne(t *testing.T, r *rand.Rand, st *storm, tx *gate.MPSCSender[int], v, capacity int) (sent bool, err error) {
	ctx, cancel := st.ctx(r)
	defer cancel()
	switch r.IntN(5) {
	case 0:
		err = tx.TrySend(v)
		checkStormErr(t, "TrySend", ctx, err, gate.ErrClosed, gate.ErrFull)
		return err == nil, err
	case 1, 2:
		n := 1
		if r.IntN(2) == 0 && capacity != 1 {
			n = 2
		}
		var p gate.MPSCPermit[int]
		p, err = tx.ReserveN(ctx, n)
		checkStormErr(t, "ReserveN", ctx, err, gate.ErrClosed)
		if err != nil {
			return false, err
		}
		defer p.Release()
		hold(r)
		if r.IntN(8) == 0 {
			return false, nil // released unused
		}
		p.Send(v)
		return true, nil
	default:
		err = tx.Send(ctx, v)
		checkStormErr(t, "Send", ctx, err, gate.ErrClosed)
		return err == nil, err
	}
}

// mpscDrain receives from rx until ErrClosed, with Recv and RecvMany under
// storm contexts, TryRecv, and Ready in a select; with strictReady, a receive
// from Ready followed by ErrEmpty fails the test.
func mpscDrain(t *testing.T, r *rand.Rand, st *storm, rx *gate.MPSCReceiver[int], strictReady bool) []int {
	var got []int
	buf := make([]int, 4)
	for {
		ctx, cancel := st.ctx(r)
		var err error
		if r.IntN(4) == 0 {
			var n int
			n, err = rx.RecvMany(ctx, buf)
			got = append(got, buf[:n]...)
		} else {
			var v int
			if v, err = recvOne(t, r, ctx, rx, "mpsc", strictReady); err == nil {
				got = append(got, v)
			} else if err == gate.ErrEmpty {
				err = nil
			}
		}
		checkStormErr(t, "receive", ctx, err, gate.ErrClosed)
		cancel()
		if err == gate.ErrClosed {
			return got
		}
	}
}

// TestOneshotStressCloseRace: on many oneshot channels at once, Send races
// the receiver's Close and the sender's Close, both from other goroutines at
// random moments, while the receiver mixes Recv under a cancellation storm,
// TryRecv and Ready until it has a value or ErrClosed. The value is received
// iff its Send returned nil; a Send that starts after either Close returned
// fails.
func TestOneshotStressCloseRace(t *testing.T) {
	channelStorm(t, 8, stormScale(400), func(r *rand.Rand, st *storm) {
		oneshotCloseRound(t, r, st)
	})
}

func oneshotCloseRound(t *testing.T, r *rand.Rand, st *storm) {
	tx, rx := gate.Oneshot[int]()
	var wg sync.WaitGroup
	none := func() *closer { return &closer{done: make(chan struct{})} }
	rxCloser, txCloser := none(), none()
	if r.IntN(2) == 0 {
		rxCloser = closeLater(&wg, r, rx.Close)
	}
	if r.IntN(4) == 0 {
		txCloser = closeLater(&wg, r, tx.Close)
	}
	v := r.Int()
	var sendErr error
	sr := rand.New(rand.NewPCG(r.Uint64(), 1))
	wg.Go(func() {
		hold(sr)
		closedBefore := rxCloser.closed.Load() || txCloser.closed.Load()
		sendErr = tx.Send(v)
		if sendErr == nil && closedBefore {
			t.Errorf("oneshot Send that started after a Close returned succeeded")
		} else if sendErr != nil && sendErr != gate.ErrClosed {
			t.Errorf("oneshot Send = %v", sendErr)
		}
	})

	got, gotErr := 0, error(gate.ErrEmpty)
	for gotErr == gate.ErrEmpty {
		ctx, cancel := st.ctx(r)
		got, gotErr = recvOne(t, r, ctx, rx, "oneshot", true)
		checkStormErr(t, "oneshot receive", ctx, gotErr, gate.ErrClosed, gate.ErrEmpty)
		if isCtxErr(ctx, gotErr) {
			gotErr = gate.ErrEmpty // try again
		}
		cancel()
	}
	wg.Wait()
	if _, err := rx.TryRecv(); err != gate.ErrClosed {
		t.Errorf("oneshot TryRecv after the end = %v, want ErrClosed", err)
	}
	if !tx.IsClosed() {
		t.Errorf("oneshot sender's IsClosed = false at the end")
	}
	switch {
	case sendErr == nil && (gotErr != nil || got != v):
		t.Errorf("oneshot: Send(%d) returned nil, the receiver got (%d, %v)", v, got, gotErr)
	case sendErr != nil && gotErr != gate.ErrClosed:
		t.Errorf("oneshot: Send returned %v, the receiver got (%d, %v)", sendErr, got, gotErr)
	}
}

// broadcastRound is one round of a broadcast storm: one sender handle whose
// Send and SendWait (under a cancellation storm) race its Close from another
// goroutine, and receivers subscribed before the first send. Each value is
// its position, so a receiver checks exactly what it reads: value v at
// position v, a lag of k moves it k positions. Stayers read until ErrClosed
// and must account for every value whose Send returned n>0; leavers close at a
// random moment, on their own goroutine, or, with fromOther, from another one,
// whose Close must end their Recv in flight.
func broadcastRound(t *testing.T, r *rand.Rand, st *storm, fromOther bool) {
	const stayers, leavers = 2, 2
	tx, rx0 := gate.Broadcast[int](1 + r.IntN(4))
	rxs := []*gate.BroadcastReceiver[int]{rx0}
	for len(rxs) < stayers+leavers {
		rxs = append(rxs, tx.Subscribe())
	}
	var wg, leaversDone sync.WaitGroup
	leaversDone.Add(leavers)
	txCloser := &closer{done: make(chan struct{})}
	if r.IntN(2) == 0 {
		txCloser = closeLater(&wg, r, tx.Close)
	}
	n := 1 + r.IntN(60)
	var sent atomic.Int64
	sr := rand.New(rand.NewPCG(r.Uint64(), 1))
	wg.Go(func() {
		for range n {
			closedBefore := txCloser.closed.Load()
			var got int
			var err error
			ctx, cancel := st.ctx(sr)
			if sr.IntN(2) == 0 {
				got, err = tx.Send(int(sent.Load()))
			} else {
				got, err = tx.SendWait(ctx, int(sent.Load()))
			}
			checkStormErr(t, "broadcast send", ctx, err, gate.ErrClosed)
			cancel()
			if err == nil {
				if closedBefore {
					t.Errorf("broadcast send that started after Close returned succeeded")
				}
				if got < stayers || got > stayers+leavers {
					t.Errorf("broadcast send reached %d receivers, want %d to %d", got, stayers, stayers+leavers)
				}
				sent.Add(1)
			}
		}
		if fromOther {
			// The leavers' Close must end their calls in flight, with
			// this sender still open.
			if !waitTimeout(&leaversDone, closeEndsTimeout) {
				t.Errorf("a broadcast receiver's Close from another goroutine did not end its Recv within %v", closeEndsTimeout)
			}
		}
		txCloser.now(tx.Close)
	})
	pos := make([]int, len(rxs))
	for i, rx := range rxs {
		rr := rand.New(rand.NewPCG(r.Uint64(), uint64(2+i)))
		var leave *closer
		stop := -1
		if i >= stayers {
			if fromOther {
				leave = closeLater(&wg, rr, rx.Close)
			} else {
				stop = rr.IntN(2 * n)
			}
		}
		wg.Go(func() {
			pos[i] = broadcastFollow(t, rr, st, rx, stop)
			if i >= stayers {
				if leave != nil {
					<-leave.done
				}
				leaversDone.Done()
			}
			rx.Close()
		})
	}
	waitLive(t, &wg, func() string { return fmt.Sprintf("%d sent", sent.Load()) })
	for i, p := range pos[:stayers] {
		if s := int(sent.Load()); p != s {
			t.Errorf("broadcast receiver %d stayed and moved over %d positions; %d values were sent", i, p, s)
		}
	}
	if c := tx.ReceiverCount(); c != 0 {
		t.Errorf("%d broadcast receivers left at the end", c)
	}
}

// broadcastFollow reads rx until ErrClosed, or until stop reads when stop >=
// 0, and returns its position: the values it received plus the ones its lags
// skipped.
func broadcastFollow(t *testing.T, r *rand.Rand, st *storm, rx *gate.BroadcastReceiver[int], stop int) (pos int) {
	for i := 0; i != stop; i++ {
		ctx, cancel := st.ctx(r)
		v, err := recvOne(t, r, ctx, rx, "broadcast", true)
		var lag *gate.LaggedError
		switch {
		case err == nil:
			if v != pos {
				t.Errorf("broadcast receiver at position %d got value %d", pos, v)
			}
			pos++
		case errors.As(err, &lag):
			if lag.Skipped == 0 || !errors.Is(err, gate.ErrLagged) {
				t.Errorf("broadcast lag %v: Skipped %d, Is(ErrLagged) %v", err, lag.Skipped, errors.Is(err, gate.ErrLagged))
			}
			pos += int(lag.Skipped)
		case err == gate.ErrClosed:
			cancel()
			return pos
		default:
			checkStormErr(t, "broadcast receive", ctx, err, gate.ErrEmpty)
		}
		cancel()
	}
	return pos
}

// waitTimeout waits for wg, at most d; it reports whether wg was done.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false // the goroutine ends once wg is done
	}
}

// TestBroadcastStressNothingLost: receivers that stay to the end account for
// every value whose Send returned n>0, in order, lags counted exactly, while
// the sender's Close races its sends and other receivers leave midway.
func TestBroadcastStressNothingLost(t *testing.T) { broadcastStorm(t, false) }

// TestBroadcastStressCloseFromAnotherGoroutine is TestBroadcastStressNothingLost
// with the leavers closed by other goroutines at random moments: their Recv in
// flight must end with ErrClosed while the sender is still open.
func TestBroadcastStressCloseFromAnotherGoroutine(t *testing.T) { broadcastStorm(t, true) }

func broadcastStorm(t *testing.T, fromOther bool) {
	channelStorm(t, 4, stormScale(60), func(r *rand.Rand, st *storm) {
		broadcastRound(t, r, st, fromOther)
	})
}

// How a watch round's receivers leave (watchRound).
const (
	watchSelfClose  = iota // one receiver closes itself midway; two stay
	watchOtherClose        // one is closed by another goroutine; two stay
	watchNoneLeft          // every receiver closes itself midway
)

// watchRound is one round of a watch storm. The sender stores 1, 2, 3, ...
// with Send on tx, whose Close from another goroutine races it (except in
// watchNoneLeft), and with SendReplace, SendModify and SendIfModified on a
// clone it closes itself at its end. Every value is larger than the one
// before, so a version that goes backwards shows as a value that does. The
// receivers wait with Changed and WaitFor under a cancellation storm, and use
// HasChanged, Ready and Borrow. One that stays to the end finally sees the
// last value stored, marked seen. In watchOtherClose the leaver's call in
// flight must end while the senders are open; in watchNoneLeft, a Send with
// no receiver left must store its value for a later Subscribe.
func watchRound(t *testing.T, r *rand.Rand, st *storm, mode int) {
	tx, rx0 := gate.Watch(0)
	tx2 := tx.Clone()
	rxs := []*gate.WatchReceiver[int]{rx0, tx.Subscribe(), rx0.Clone()}
	stayers := 2
	if mode == watchNoneLeft {
		stayers = 0
	}
	var wg, leaversDone sync.WaitGroup
	var left atomic.Int32 // leavers that have closed
	leaversDone.Add(len(rxs) - stayers)
	txCloser := &closer{done: make(chan struct{})}
	if mode != watchNoneLeft && r.IntN(2) == 0 {
		txCloser = closeLater(&wg, r, tx.Close)
	}
	n := 1 + r.IntN(60)
	last := 0 // the last value stored
	sr := rand.New(rand.NewPCG(r.Uint64(), 1))
	send := func(v int) {
		closedBefore := txCloser.closed.Load()
		err := tx.Send(v)
		switch {
		case err == nil && closedBefore:
			t.Errorf("watch Send that started after Close returned succeeded")
		case err == gate.ErrClosed && !txCloser.started.Load():
			t.Errorf("watch Send = ErrClosed with its handle open (%d receivers): a Send stores without receivers", tx2.ReceiverCount())
		case err != nil && err != gate.ErrClosed:
			t.Errorf("watch Send = %v", err)
		case err == nil:
			last = v
		}
	}
	wg.Go(func() {
		for v := 1; v <= n; v++ {
			switch sr.IntN(5) {
			case 0:
				if old := tx2.SendReplace(v); old != last {
					t.Errorf("watch SendReplace returned %d, the last value stored was %d", old, last)
				}
				last = v
			case 1:
				tx2.SendModify(func(p *int) { *p = v })
				last = v
			case 2:
				store := sr.IntN(2) == 0
				if tx2.SendIfModified(func(p *int) bool {
					if store {
						*p = v
					}
					return store
				}) != store {
					t.Errorf("watch SendIfModified did not return what f did")
				}
				if store {
					last = v
				}
			default:
				send(v)
			}
		}
		if mode == watchOtherClose && !waitTimeout(&leaversDone, closeEndsTimeout) {
			t.Errorf("a watch receiver's Close from another goroutine did not end its call in flight within %v", closeEndsTimeout)
		}
		if mode == watchNoneLeft {
			// Wake the receivers until all have left, then send once more.
			v := n + 1
			for ; left.Load() < int32(len(rxs)); v++ {
				send(v)
				runtime.Gosched()
			}
			send(v)
			if got := tx2.Subscribe().Borrow(); got != last {
				t.Errorf("watch Subscribe after the receivers left: Borrow = %d, want %d, the last value stored", got, last)
			}
		}
		txCloser.now(tx.Close)
		tx2.Close()
	})
	final := make([]int, len(rxs)) // each stayer's value at the end
	for i, rx := range rxs {
		rr := rand.New(rand.NewPCG(r.Uint64(), uint64(2+i)))
		var leave *closer
		stop := -1
		if i >= stayers {
			if mode == watchOtherClose {
				leave = closeLater(&wg, rr, rx.Close)
			} else {
				stop = rr.IntN(2 * n)
			}
		}
		wg.Go(func() {
			final[i] = watchFollow(t, rr, st, rx, stop)
			if leave != nil {
				<-leave.done
			}
			rx.Close()
			if i >= stayers {
				left.Add(1)
				leaversDone.Done()
			}
		})
	}
	waitLive(t, &wg, func() string { return "watch round" })
	for i, v := range final[:stayers] {
		if v != last {
			t.Errorf("watch receiver %d stayed to the end and saw %d last, the last value stored was %d", i, v, last)
		}
	}
}

// watchFollow reads rx until it is closed, or until stop reads when stop >=
// 0, and fails the test if a value it reads is smaller than one read before,
// or if Changed returns nil and BorrowAndUpdate gives no newer value. It
// returns the value it saw last, marked seen, once Changed returned ErrClosed.
func watchFollow(t *testing.T, r *rand.Rand, st *storm, rx *gate.WatchReceiver[int], stop int) int {
	seen, marked := 0, 0 // the largest value read; the one marked seen
	look := func(v int, what string) {
		if v < seen {
			t.Errorf("watch %s = %d after %d: a version went backwards", what, v, seen)
		}
		seen = max(seen, v)
	}
	mark := func(what string) {
		v := rx.BorrowAndUpdate()
		if v <= marked {
			t.Errorf("watch %s returned nil, then BorrowAndUpdate = %d, not newer than %d seen", what, v, marked)
		}
		look(v, "BorrowAndUpdate")
		marked = v
	}
	for i := 0; i != stop; i++ {
		ctx, cancel := st.ctx(r)
		var err error
		switch r.IntN(5) {
		case 0:
			if err = rx.Changed(ctx); err == nil {
				mark("Changed")
			}
		case 1:
			var v int
			v, err = rx.WaitFor(ctx, func(v int) bool { return v > marked })
			if err == nil {
				look(v, "WaitFor")
				marked = v
			}
		case 2:
			var changed bool
			if changed, err = rx.HasChanged(); changed {
				mark("HasChanged")
			}
		case 3:
			select {
			case <-rx.Ready():
				var changed bool
				changed, err = rx.HasChanged()
				if !changed && err == nil {
					t.Errorf("watch HasChanged after a receive from Ready = false, nil: invented")
				}
			case <-ctx.Done():
			}
		default:
			look(rx.Borrow(), "Borrow")
		}
		checkStormErr(t, "watch receive", ctx, err, gate.ErrClosed)
		cancel()
		if err == gate.ErrClosed {
			break
		}
	}
	if stop >= 0 {
		return marked
	}
	// Every sender is closed (or this handle): take what is unseen, until
	// Changed says the last version was seen.
	for rx.Changed(context.Background()) == nil {
		mark("Changed after close")
	}
	return marked
}

// TestWatchStressNothingLost: receivers that stay to the end see versions in
// order and finally the last value stored, while Close of one sender handle
// races the sends and a receiver leaves midway.
func TestWatchStressNothingLost(t *testing.T) { watchCloseStorm(t, watchSelfClose) }

// TestWatchStressCloseFromAnotherGoroutine is TestWatchStressNothingLost with
// the leaver closed by another goroutine at a random moment: its Changed or
// WaitFor in flight must end with ErrClosed while the senders are open.
func TestWatchStressCloseFromAnotherGoroutine(t *testing.T) { watchCloseStorm(t, watchOtherClose) }

// TestWatchStressSendWithoutReceivers: every receiver closes midway while the
// sender goes on; a Send with no receiver left returns nil and stores its
// value, which a later Subscribe sees.
func TestWatchStressSendWithoutReceivers(t *testing.T) { watchCloseStorm(t, watchNoneLeft) }

func watchCloseStorm(t *testing.T, mode int) {
	channelStorm(t, 4, stormScale(150), func(r *rand.Rand, st *storm) {
		watchRound(t, r, st, mode)
	})
}
