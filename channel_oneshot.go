package gate

import (
	"context"
	"runtime"
	"sync/atomic"
)

// This file is the oneshot channel, after tokio's oneshot
// (tokio/src/sync/oneshot.rs): one value, sent at most once, from one sender
// to one receiver. Both handles are views of one struct, made with one
// allocation; one atomic state word carries everything the fast paths need.
// Every wait (Recv, WaitClosed) and the receiver's Ready go through the
// core's wait queue, only touched when someone has to wait. (Send and
// Recv are not inlined: with Go 1.26 each costs about 260, over the budget
// of 80; their slow paths are outlined to keep them short.)

// State word of a oneshot.
//
// Bits (high to low):
//
//	3        | 2        | 1     | 0
//	rxClosed | txClosed | value | sent
//
// sent, txClosed and rxClosed are never cleared; value comes and goes as
// described below.
const (
	// oneshotSent: a Send has claimed the value slot. It is set by the Send
	// that wins (one CAS) before it writes the value, and never cleared, so
	// every later or concurrent Send returns ErrClosed and the slot has one
	// writer. It also marks the sender handle used up, as Close does.
	oneshotSent uint32 = 1 << iota
	// oneshotValue: the slot holds a sent value that nobody has received.
	// Set by the CAS that publishes a Send (refused once rxClosed is set),
	// cleared by the receive that takes the value.
	oneshotValue
	// oneshotTxClosed: OneshotSender.Close was called before any Send, or
	// a Send found the receiver closed: the handle is used up without a
	// value.
	oneshotTxClosed
	// oneshotRxClosed: the receiver is closed: OneshotReceiver.Close was
	// called, or a Recv or TryRecv has returned the value or ErrClosed (the
	// receiver has nothing left to receive). A Send not yet published when
	// it is set fails.
	oneshotRxClosed

	// oneshotTxUsed: the sender handle is used up (IsClosed, WaitClosed).
	oneshotTxUsed = oneshotSent | oneshotTxClosed
	// oneshotHas: what makes TryRecv report something other than ErrEmpty,
	// and so what a Recv and a Ready wait for.
	oneshotHas = oneshotValue | oneshotTxClosed | oneshotRxClosed
)

// Why a claim bit and a value bit, not one "sent" bit as in tokio: a gate
// sender handle may be used by several goroutines at once (every sender
// handle is safe for concurrent use), so two Sends may race. The claim
// (sent) makes exactly one of them the writer of the slot; the publish
// (value) is what the receiver acts on, and it is refused if the receiver
// closed in between, so a Send that returns ErrClosed never delivered its
// value. A Send is linearized at its publish.
//
// Why one wait queue for both sides: every event of a oneshot concerns both.
// A Send or the sender's Close gives a waiting Recv its value or ErrClosed,
// and uses the sender handle up, which ends its WaitClosed calls with
// ErrClosed; the receiver's Close or its receive closes the receiver, which
// ends a Recv in flight (Close from another goroutine) and completes the
// WaitClosed calls. So each event wakes the whole queue (notify: one load
// when nobody waits), and nobody is woken for nothing.

// oneshot is the state shared by a OneshotSender and its OneshotReceiver.
type oneshot[T any] struct {
	state atomic.Uint32 // see the bit map above
	// rx is the receiver handle's Close flag: a Recv waits on its behalf,
	// so that a Close from another goroutine ends it (waitFor's owner).
	rx      handle
	rxStats waitStats // the receiver's Recv waits (rx.stats points here)
	// q holds the waiting Recv, the armed Ready (a token waiter) and the
	// WaitClosed calls. Its mu guards the list and their status.
	q waitQueue
	// rd is the receiver's Ready, made by its first call. Only the
	// receiver's goroutine reads or writes this field; wakers reach its
	// waiter through q's list.
	rd    *readiness
	value T // written by the Send that set sent, read and cleared by the receive that clears value
}

// A OneshotSender sends one value to its [OneshotReceiver]. Make the pair
// with [Oneshot].
//
// Send may succeed once, and uses the handle up, as Close does: every later
// Send fails, and so does one after the receiver closed. Close says that no
// value will come. A OneshotSender may be used by any number of goroutines
// at once: of concurrent Sends exactly one can succeed.
//
// There is no useful zero value: the handles of one channel come from
// Oneshot. A OneshotSender must not be copied (use the pointer).
//
// In the terminology of the Go memory model, a Send that returns nil
// synchronizes before the Recv or TryRecv that returns its value, and Close
// synchronizes before the Recv or TryRecv that reports it with ErrClosed.
type OneshotSender[T any] struct {
	_ noCopy
	c oneshot[T]
}

// A OneshotReceiver receives the one value of its [OneshotSender]. Make the
// pair with [Oneshot].
//
// It is used by one goroutine at a time, as in tokio, except Close and
// IsClosed, which any goroutine may call. Recv, TryRecv and Ready report the
// value once; after that, or once the channel is closed without a value,
// they report [ErrClosed]. Close refuses later sends; a value sent before it
// can still be received.
//
// There is no useful zero value: the handles of one channel come from
// Oneshot. A OneshotReceiver must not be copied (use the pointer).
//
// In the terminology of the Go memory model, the receiver's Close, and a
// Recv or TryRecv that returns the value or ErrClosed, synchronize before
// the sender's IsClosed that reports true and the WaitClosed that returns
// nil because of it.
type OneshotReceiver[T any] struct {
	_ noCopy
	c oneshot[T]
}

// Oneshot returns the two handles of a new oneshot channel, which carries one
// value of type T from the sender to the receiver. The handles are two views
// of one allocation.
func Oneshot[T any]() (*OneshotSender[T], *OneshotReceiver[T]) {
	tx := new(OneshotSender[T])
	tx.c.rx.stats = &tx.c.rxStats
	// OneshotSender and OneshotReceiver have the same underlying struct, so
	// the receiver is the same memory seen through the other type.
	return tx, (*OneshotReceiver[T])(tx)
}

// Send sends v to the receiver and uses the sender up: later calls of Send
// and WaitClosed return [ErrClosed], and WaitClosed calls in flight return
// ErrClosed. It never waits.
//
// It returns ErrClosed, and v is not delivered (the caller still has it), if
// the receiver is closed, if Close was called, or if a Send was already
// called or is running concurrently: a oneshot carries one value. A nil
// result means that v is in the channel: the receiver gets it with its next
// Recv or TryRecv, even if it closes first. It does not mean that the
// receiver will ever ask for it.
func (s *OneshotSender[T]) Send(v T) error {
	c := &s.c
	// Fast path: nobody sent, nobody closed. Claim the slot, write it,
	// publish it: two CASes, no lock, and a load to see whether anyone
	// waits.
	if old := c.state.Load(); old&(oneshotTxUsed|oneshotRxClosed) == 0 &&
		c.state.CompareAndSwap(old, old|oneshotSent) {
		c.value = v
		// Publish, if the word did not change since the claim. It may
		// have: the receiver closed, or Close was called concurrently;
		// sendPublish sorts that out.
		if !c.state.CompareAndSwap(old|oneshotSent, old|oneshotSent|oneshotValue) {
			return c.sendPublish()
		}
		c.q.notify()
		return nil
	}
	return c.sendSlow(v)
}

// sendSlow is Send when the fast path's first CAS was not tried or failed:
// the channel is used up or closed (ErrClosed), or the CAS lost a race.
func (c *oneshot[T]) sendSlow(v T) error {
	for {
		old := c.state.Load()
		if old&oneshotTxUsed != 0 {
			// Another Send claimed the slot, or the sender closed: a
			// oneshot carries one value.
			return ErrClosed
		}
		if old&oneshotRxClosed != 0 {
			// The receiver closed: the value is refused, and this Send
			// uses the handle up all the same, as Close does (a receiver
			// that is closed never looks at txClosed).
			if c.state.CompareAndSwap(old, old|oneshotTxClosed) {
				c.q.notify() // WaitClosed calls: ErrClosed now
				return ErrClosed
			}
			continue
		}
		if c.state.CompareAndSwap(old, old|oneshotSent) {
			break // the slot is ours
		}
		// The receiver closed, or another goroutine sent or closed: look
		// again.
	}
	c.value = v
	return c.sendPublish()
}

// sendPublish publishes the value just written to the claimed slot, unless
// the receiver closed since the claim, and wakes the queue: a waiting Recv
// gets the value, and WaitClosed calls see the handle used up.
func (c *oneshot[T]) sendPublish() error {
	for {
		old := c.state.Load()
		if old&oneshotRxClosed != 0 {
			// The receiver closed before the value was in: it will never
			// look at the slot again. The value goes back to the caller;
			// clear the slot so that it does not keep garbage alive. The
			// claim used the handle up: WaitClosed calls return.
			var zero T
			c.value = zero
			c.q.notify()
			return ErrClosed
		}
		if c.state.CompareAndSwap(old, old|oneshotValue) {
			c.q.notify()
			return nil
		}
		// The receiver closed, or Close was called concurrently: try
		// again.
	}
}

// Close closes the sender: the receiver, at once, gets [ErrClosed], and so
// do later Sends and WaitClosed calls and the WaitClosed calls waiting.
// Close after a Send does nothing: the Send used the handle up, and the
// value stays in the channel. Close is idempotent.
func (s *OneshotSender[T]) Close() {
	c := &s.c
	for {
		old := c.state.Load()
		if old&oneshotTxUsed != 0 {
			return // closed, or used up by a Send
		}
		if c.state.CompareAndSwap(old, old|oneshotTxClosed) {
			break
		}
		// Raced with the receiver or a Send: look again.
	}
	c.q.notify()
}

// IsClosed reports whether the sender is closed: Send or Close was called,
// or the receiver is closed (its Close was called, or it has received the
// value or ErrClosed). A Send would then fail.
func (s *OneshotSender[T]) IsClosed() bool {
	return s.c.state.Load()&(oneshotTxUsed|oneshotRxClosed) != 0
}

// WaitClosed waits until the receiver is closed: its Close was called, or it
// received ErrClosed. It returns nil then. So a goroutine that computes the
// value can stop when nobody wants it any more.
//
// If ctx is done first, even if the receiver is already closed, WaitClosed
// returns ctx.Err(). It returns [ErrClosed] if this sender is used up (Send
// or Close was called) when it is called, or is used up while it waits.
func (s *OneshotSender[T]) WaitClosed(ctx context.Context) error {
	c := &s.c
	for {
		switch old := c.state.Load(); {
		case ctx.Err() != nil:
			return ctx.Err()
		case old&oneshotTxUsed != 0:
			return ErrClosed // this handle is closed
		case old&oneshotRxClosed != 0:
			return nil
		}
		// Woken: look at the word again.
		if err := c.q.waitUntil(ctx, c.txDone); err != nil {
			return err
		}
	}
}

// txDone reports whether a WaitClosed has something to return.
func (c *oneshot[T]) txDone() bool {
	return c.state.Load()&(oneshotTxUsed|oneshotRxClosed) != 0
}

// has reports whether TryRecv would report something other than ErrEmpty.
func (c *oneshot[T]) has() bool { return c.state.Load()&oneshotHas != 0 }

// Recv waits for the value and returns it.
//
// If ctx is done first, even if the value is already there, Recv returns
// ctx.Err() and leaves the value where it is (a later call gets it). A value
// that arrives as ctx ends is returned. Recv returns [ErrClosed] if the
// sender closed without sending, if the receiver closed without a value
// sent before (a Close from another goroutine ends a waiting Recv so), or if
// the value was already received. After it returns the value or ErrClosed,
// the receiver counts as closed.
func (r *OneshotReceiver[T]) Recv(ctx context.Context) (T, error) {
	c := &r.c
	// Fast path: the value is there: take it and close the receiver in
	// one CAS.
	if old := c.state.Load(); old&oneshotValue != 0 && ctx.Err() == nil &&
		c.state.CompareAndSwap(old, old&^oneshotValue|oneshotRxClosed) {
		v := c.value
		var zero T
		c.value = zero
		c.q.notify() // WaitClosed calls: the receiver is closed
		return v, nil
	}
	return c.recvSlow(ctx)
}

// oneshotSpins is how many times a Recv that found nothing yields the
// processor, looking again, before it parks: a reply is often a few
// scheduling rounds away (a goroutine just started to send it runs next on
// this processor), and then Recv needs no channel and no wake-up.
const oneshotSpins = 2

// recvSlow is Recv when the fast path did not apply: ctx is done, the value
// is not there yet, or the receiver is closed.
func (c *oneshot[T]) recvSlow(ctx context.Context) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	for spin := 0; ; spin++ {
		if v, err := c.tryRecv(); err != ErrEmpty {
			return v, err
		}
		if spin < oneshotSpins {
			runtime.Gosched()
			continue
		}
		// ErrClosed from waitFor is the receiver's Close: tryRecv reports
		// it, or a value sent before it.
		if err := c.q.waitFor(ctx, &c.rx, c.has); err != nil && err != ErrClosed {
			return zero, err
		}
	}
}

// TryRecv returns the value if it is there. It never waits. It returns
// [ErrEmpty] if nothing was sent yet and the channel is open, and
// [ErrClosed] if the sender closed without sending, if the receiver closed
// without a value sent before, or if the value was already received. After
// it returns the value or ErrClosed, the receiver counts as closed.
func (r *OneshotReceiver[T]) TryRecv() (T, error) {
	return r.c.tryRecv()
}

// tryRecv is TryRecv.
func (c *oneshot[T]) tryRecv() (T, error) {
	var zero T
	for {
		old := c.state.Load()
		if old&oneshotHas == 0 {
			return zero, ErrEmpty // nothing yet, and something may come
		}
		// The value, or nothing any more: either way the receiver is done
		// and counts as closed. Taking the value clears value in the same
		// CAS, so it is received once.
		if !c.state.CompareAndSwap(old, old&^oneshotValue|oneshotRxClosed) {
			continue // raced with the sender: look again
		}
		if old&oneshotRxClosed == 0 {
			c.q.notify() // we just closed the receiver: WaitClosed calls
		}
		if old&oneshotValue == 0 {
			return zero, ErrClosed
		}
		v := c.value
		c.value = zero
		return v, nil
	}
}

// Close closes the receiver: later Sends fail with [ErrClosed] and the
// sender's WaitClosed returns. A value sent before Close can still be
// received with Recv or TryRecv; without one they return ErrClosed. Any
// goroutine may call it: a Recv waiting in another goroutine returns the
// value sent before, or ErrClosed, and a channel returned by Ready becomes
// receivable, since TryRecv now reports something. Close is idempotent.
func (r *OneshotReceiver[T]) Close() {
	c := &r.c
	for {
		old := c.state.Load()
		if old&oneshotRxClosed != 0 {
			break // closed, or done receiving: nothing changes
		}
		if c.state.CompareAndSwap(old, old|oneshotRxClosed) {
			break
		}
		// Raced with the sender: look again.
	}
	// The word first, then the handle's flag: a Recv that waitFor ends
	// because of the flag finds the receiver closed in the word.
	c.rx.close()
	// One wake-up of the whole queue ends them all: a Recv in flight (its
	// tryRecv reports ErrClosed, or the value sent before), a Ready and
	// the WaitClosed calls each find the receiver closed in the word.
	c.q.notify()
}

// IsClosed reports whether the receiver is closed: its Close was called, the
// sender is used up (Close or Send was called: a value sent may still wait
// for TryRecv), or the value was received.
func (r *OneshotReceiver[T]) IsClosed() bool {
	return r.c.state.Load()&(oneshotTxUsed|oneshotRxClosed) != 0
}

// Ready returns a channel that becomes receivable once TryRecv would return
// something other than [ErrEmpty]: the value, or ErrClosed. It is for a
// select beside other channels (a ticker, ctx.Done(), another receiver):
//
//	select {
//	case <-rx.Ready():
//		v, err := rx.TryRecv() // never ErrEmpty here
//	case <-tick.C:
//	}
//
// Receive from the channel at most once and call Ready again before the next
// select: each call re-arms. If something is there already the channel is
// receivable at once; otherwise the Send or Close (of either side) that
// comes later makes it so. Ready allocates only on its first call that has
// to arm: the receiver keeps that channel for its later calls.
//
// Under [testing/synctest], that channel belongs to the bubble of the
// goroutine whose Ready call made it: use Ready on a receiver in one bubble
// only.
func (r *OneshotReceiver[T]) Ready() <-chan struct{} {
	c := &r.c
	if c.has() {
		return closedChan
	}
	if c.rd == nil {
		c.rd = new(readiness)
	}
	return c.rd.arm(&c.q, c.has, 0) // every change of a oneshot stays: no stamp
}
