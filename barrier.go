package gate

import (
	"context"
	"sync"
)

// A Barrier lets a fixed number of goroutines wait until all of them have
// reached it, then releases them together and starts over.
//
// Each round is a generation: the first n-1 goroutines that call
// [Barrier.Wait] wait; the n-th completes the generation, is its leader, and
// releases the others. Unlike tokio's Barrier, waiting can be cancelled: a
// goroutine whose ctx ends before its generation completes withdraws its
// arrival, so the generation still needs n live goroutines.
//
// The zero value is a Barrier for one goroutine, like NewBarrier(0): every
// Wait returns at once as leader. A Barrier must not be copied after first
// use.
//
// In the terminology of the Go memory model, every call of Wait that takes
// part in a generation synchronizes before every one of them returns: what
// each goroutine wrote before it arrived is seen by all of them after.
//
// Design. The waiters of a generation need no wake-up of their own, only the
// news that their generation has completed, and a cancelled one only has to
// take its arrival back. So a Barrier keeps no queue of waiters. A waiter
// whose ctx can never end (its Done channel is nil) waits on a sync.Cond
// until the generation number changes, and the leader wakes all of them with
// one Broadcast: that allocates nothing, and a sync.Cond belongs to no
// synctest bubble while a goroutine in Cond.Wait is durably blocked. A waiter
// whose ctx can end must also watch ctx.Done, so it parks on a channel: the
// first such goroutine of a generation makes one, and the leader closes it,
// one allocation per generation however many wait. A waiter whose ctx ends
// takes mu and, if its generation is still the current one, takes back its
// arrival; otherwise the generation completed first and it returns success.
// When every channel waiter of a generation has withdrawn, the channel is
// dropped, so that the next one makes its own: a Barrier used in one
// synctest bubble after another never parks a goroutine on a channel of
// another bubble.
type Barrier struct {
	_ noCopy
	n int // goroutines per generation; 0 acts as 1

	mu       sync.Mutex    // guards every field below
	arrived  int           // goroutines waiting in the current generation
	gen      uint64        // generations completed
	ch       chan struct{} // closed when the current generation completes; nil while no channel waiter waits
	chans    int           // channel waiters in the current generation
	sleepers int           // cond waiters in the current generation
	cond     sync.Cond     // L is &mu, set under mu by the first cond waiter, never written again
}

// NewBarrier returns a Barrier that releases n goroutines at a time. n == 0
// acts as 1. It panics if n is negative.
func NewBarrier(n int) *Barrier {
	if n < 0 {
		panic("gate: NewBarrier: negative count")
	}
	return &Barrier{n: n}
}

// Wait waits until n goroutines (counting this one) wait in the same
// generation, and reports whether this one was its leader: the one that
// arrived last, completed the generation and released the others. Each
// generation has exactly one leader.
//
// If ctx is already done, Wait returns (false, ctx.Err()) without arriving.
// If ctx is done before the generation completes, Wait withdraws its arrival
// (the generation still needs n goroutines) and returns (false, ctx.Err()); a
// waiter whose generation completed before it could withdraw returns
// (false, nil).
func (b *Barrier) Wait(ctx context.Context) (leader bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	b.mu.Lock()
	if b.arrived+1 >= b.n {
		// The last one: complete the generation and release the others.
		ch := b.ch
		if b.sleepers > 0 {
			// They relock mu as they wake, after we unlock it.
			b.cond.Broadcast()
		}
		b.arrived, b.gen, b.ch, b.chans, b.sleepers = 0, b.gen+1, nil, 0, 0
		b.mu.Unlock()
		if ch != nil {
			close(ch)
		}
		return true, nil
	}
	b.arrived++
	gen := b.gen
	if ctx.Done() == nil {
		// A ctx that never ends: no withdrawal, no channel.
		b.sleepers++
		if b.cond.L == nil {
			b.cond.L = &b.mu
		}
		for b.gen == gen {
			b.cond.Wait()
		}
		b.mu.Unlock()
		return false, nil
	}
	if b.ch == nil {
		// The first channel waiter of the generation makes its channel.
		b.ch = make(chan struct{})
	}
	b.chans++
	ch := b.ch
	b.mu.Unlock()
	return false, b.park(ctx, ch, gen)
}

// park waits on ch until the generation gen completes (nil) or ctx is done:
// then it withdraws the arrival and returns ctx.Err(), unless gen completed
// first (nil).
func (b *Barrier) park(ctx context.Context, ch chan struct{}, gen uint64) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	if b.gen != gen {
		// The generation completed as our ctx ended: that came first.
		b.mu.Unlock()
		return nil
	}
	b.arrived--
	b.chans--
	if b.chans == 0 {
		// Nobody waits on ch any more: the next channel waiter makes a
		// new one (in its own synctest bubble, if that is another).
		b.ch = nil
	}
	b.mu.Unlock()
	return ctx.Err()
}
