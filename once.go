package gate

import (
	"context"
	"sync/atomic"
)

// This file holds the two cells: OnceCell, a value set at most once, by Set or
// by the first initializer that succeeds (tokio's OnceCell), and SetOnce, a
// value set once that goroutines can wait for (tokio's SetOnce, an
// asyncio.Event with a value).
//
// OnceCell runs its initializers through the core's batch semaphore: one
// permit (bias 1, so the zero word is "empty, nobody initializing"), taken by
// the goroutine that runs its initializer or calls Set. Waiting initializers
// queue for that permit in FIFO order. An initializer that fails (an error, a
// panic, a ctx that ended as the permit came) releases the permit, which goes
// to the oldest waiter, which runs its own initializer. One that succeeds
// stores the value and closes the semaphore, keeping the permit for good:
// every queued initializer wakes with ErrClosed and reads the value, and
// later ones find the semaphore closed. That is tokio's design
// (tokio/src/sync/once_cell.rs); Take is the addition: it empties the cell
// and reopens the semaphore with its permit free.
//
// Invariant, under the semaphore's queue lock: the semaphore is closed exactly
// while the value pointer is non-nil. The store of the value and the close
// happen in one critical section (publish), and so do Take's clear and reopen,
// so no goroutine that takes the lock can see one without the other.

// A OnceCell holds a value of type T that is set at most once: by Set, or by
// the first initializer passed to GetOrInit or GetOrTryInit that succeeds.
//
// Only one initializer runs at a time. Goroutines that call GetOrInit or
// GetOrTryInit on an empty cell while an initializer runs wait in FIFO order;
// when it succeeds they all return its value, and when it fails (GetOrTryInit's
// f returns an error, or f panics) the cell stays empty and the oldest waiter
// runs its own initializer. Wait waits for a value without initializing.
// Take empties the cell, which can then be set or initialized again.
//
// Get, Initialized and the calls on a set cell do not lock: Get is an atomic
// load and a copy of the value, about as cheap as calling a function made by
// [sync.OnceValue]. Setting the value allocates a copy of it, which Get reads
// and Take lets go; a set cell never writes that copy, so Get, Take and every
// other method may be called at the same time from any goroutines.
//
// The zero value is an empty OnceCell. A OnceCell must not be copied after
// first use.
//
// In the terminology of the Go memory model, the Set or initializer that sets
// a value synchronizes before every call that returns that value (Get,
// GetOrInit, GetOrTryInit, Wait, Take), and the return of a failed
// initializer synchronizes before the next initializer starts.
type OnceCell[T any] struct {
	_ noCopy
	// v points to the value, and is nil while the cell is empty. Loaded
	// without a lock; stored only under s.q.mu, together with closing or
	// reopening s. *v is never written after it is stored here.
	v atomic.Pointer[T]
	// s is the initialization permit: one permit (bias 1), held by the
	// goroutine that initializes or sets the cell, closed while v is set.
	s sem
	// w holds the goroutines in Wait, woken when a value is published.
	w waitQueue
}

// initPanic is the message of a release that finds the permit free: it cannot
// happen unless the cell's state is corrupt (a copied OnceCell).
const initPanic = "gate: OnceCell: initialization permit released twice (a copied OnceCell?)"

// Get returns the value and true if the cell is set, and the zero T and false
// if it is empty, while it is being initialized too. It never waits.
func (c *OnceCell[T]) Get() (T, bool) {
	if p := c.v.Load(); p != nil {
		return *p, true
	}
	var zero T
	return zero, false
}

// Initialized reports whether the cell holds a value.
func (c *OnceCell[T]) Initialized() bool { return c.v.Load() != nil }

// Set sets the value to v if the cell is empty and no initializer is running.
// It returns [ErrAlreadySet] if the cell holds a value and [ErrInitializing]
// if an initializer runs or waits (or another Set is in progress); the cell is
// then unchanged. It never waits. A successful Set wakes every goroutine
// waiting in GetOrInit, GetOrTryInit and Wait, which return v.
func (c *OnceCell[T]) Set(v T) error {
	if c.v.Load() != nil {
		return ErrAlreadySet
	}
	// Take the permit as an initializer would, but without waiting: a held
	// permit (or a queue, which on a one-permit semaphore implies one) is an
	// initialization in progress, a closed semaphore a value.
	switch c.s.tryAcquire(1, 1) {
	case nil:
	case ErrClosed:
		return ErrAlreadySet // set between our load and the acquire
	default:
		return ErrInitializing
	}
	p := new(T) // here, not &v: that would move v to the heap on every call
	*p = v
	c.publish(p)
	return nil
}

// GetOrInit returns the value of the cell, first setting it to f(ctx) if the
// cell is empty.
//
// If ctx is already done, GetOrInit returns ctx.Err() without calling f, even
// if the cell is set (use Get to read a set cell whatever the ctx). If the
// cell is set it returns the value at once. Otherwise, if no initializer is
// running and nobody waits, it calls f on its own goroutine, stores the result
// and returns it. If an initializer is running it waits, in FIFO order with
// the other callers of GetOrInit and GetOrTryInit: when that initializer
// succeeds it returns its value without calling f; when it fails the oldest
// waiter calls its own f.
//
// If f panics, the cell stays empty, the next waiter runs its initializer, and
// the panic goes on to GetOrInit's caller. f receives ctx; once f returns, its
// value is stored and returned even if ctx has ended meanwhile. If ctx ends
// while GetOrInit waits, it returns ctx.Err(), has not called f and has left
// the queue. That holds when the wait ends at the same moment too: if its turn
// came as ctx ended, it does not call f and the turn passes to the next
// waiter; if the value came, it returns ctx.Err() all the same (Get reads
// the value).
//
// f must not call GetOrInit or GetOrTryInit on the same cell: that waits for
// itself until ctx ends. Set called from f returns ErrInitializing.
func (c *OnceCell[T]) GetOrInit(ctx context.Context, f func(context.Context) T) (T, error) {
	// Fast path: a live ctx and a set cell.
	if ctx.Err() == nil {
		if p := c.v.Load(); p != nil {
			return *p, nil
		}
	}
	return c.initSlow(ctx, f, nil)
}

// GetOrTryInit is like GetOrInit, for an initializer that can fail: if f
// returns an error, the cell stays empty, GetOrTryInit returns that error (and
// the zero T), and the oldest waiter, if any, runs its own f. f may return
// ctx.Err() when ctx ends; that leaves the cell empty too.
func (c *OnceCell[T]) GetOrTryInit(ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	if ctx.Err() == nil {
		if p := c.v.Load(); p != nil {
			return *p, nil
		}
	}
	return c.initSlow(ctx, nil, f)
}

// initSlow is the slow path of GetOrInit (f non-nil) and GetOrTryInit (tf
// non-nil), outlined so that their fast paths stay a ctx check and a load:
// it takes the initialization permit, waiting for it in FIFO order, and runs
// the initializer; or it returns the value that another goroutine stored.
func (c *OnceCell[T]) initSlow(ctx context.Context, f func(context.Context) T, tf func(context.Context) (T, error)) (T, error) {
	var zero T
	for {
		if err := ctx.Err(); err != nil {
			return zero, err
		}
		if p := c.v.Load(); p != nil {
			return *p, nil
		}
		var err error
		if !c.s.acquireFast(1, 1) {
			err = c.s.acquireSlow(ctx, 1, 1)
		}
		switch {
		case err == ErrClosed:
			// A value was published while we looked or waited. Read it at
			// the top; if a Take emptied the cell again meanwhile, the
			// semaphore is open again and we queue anew.
			continue
		case err != nil:
			return zero, err // ctx ended while we waited; we hold nothing
		}
		// We hold the permit: the cell is empty (a published value closes the
		// semaphore, and Take reopens it only after clearing v) and no other
		// initializer or Set runs until we release it.
		if err := ctx.Err(); err != nil {
			// The permit came as ctx ended: pass it to the next waiter
			// rather than run f with a done ctx.
			c.s.release(1, 1, 1, initPanic)
			return zero, err
		}
		return c.run(ctx, f, tf)
	}
}

// run runs the initializer while holding the permit. On success it publishes
// the value, which keeps the permit for good; on an error, a panic or a
// runtime.Goexit in f it releases the permit to the next waiter (the deferred
// release is why run is a function of its own: the fast paths have no defer).
func (c *OnceCell[T]) run(ctx context.Context, f func(context.Context) T, tf func(context.Context) (T, error)) (v T, err error) {
	ok := false
	defer func() {
		if !ok {
			c.s.release(1, 1, 1, initPanic)
		}
	}()
	if f != nil {
		v = f(ctx)
	} else if v, err = tf(ctx); err != nil {
		var zero T
		return zero, err
	}
	ok = true
	p := new(T)
	*p = v
	c.publish(p)
	return v, nil
}

// publish stores p as the value and closes the semaphore in one critical
// section (see the invariant at the top of the file), then wakes every
// queued initializer (ErrClosed: read the value) and every goroutine in Wait.
// The caller holds the permit, which the closed semaphore keeps.
//
// It is sem.close with the store added under the same lock. Since the permit
// is held, no queued initializer has a partial grant to give back, and the
// word's count stays at "none available".
func (c *OnceCell[T]) publish(p *T) {
	c.s.q.mu.Lock()
	c.v.Store(p)
	var l wakeList
	c.s.closeLocked(&l)
	c.s.q.mu.Unlock()
	l.wake()
	// Wait's goroutines check v under w.mu before they queue, so one that
	// queued saw v nil and is taken here.
	c.w.wakeAll()
}

// Wait waits until the cell holds a value and returns it. It does not run an
// initializer, and it does not keep one from running.
//
// If ctx is already done, Wait returns ctx.Err() even if the cell is set. If
// the cell is set it returns the value at once. If ctx ends first it returns
// ctx.Err() and has left the queue; if the value came as ctx ended, it returns
// the value. A value that is set and taken again (Take) before a waiting Wait
// could read it may be missed: Wait then waits for the next one.
func (c *OnceCell[T]) Wait(ctx context.Context) (T, error) {
	if ctx.Err() == nil {
		if p := c.v.Load(); p != nil {
			return *p, nil
		}
	}
	return c.waitSlow(ctx)
}

// waitSlow is the slow path of Wait.
func (c *OnceCell[T]) waitSlow(ctx context.Context) (T, error) {
	var zero T
	for {
		if err := c.w.waitUntil(ctx, c.Initialized); err != nil {
			return zero, err
		}
		if p := c.v.Load(); p != nil {
			return *p, nil
		}
		// Set and taken again before we could read it: wait for the next.
	}
}

// Take empties the cell and returns the value it held and true, or the zero T
// and false if it was empty (or being initialized: Take does not disturb a
// running initializer). After Take the cell can be set or initialized again:
// the next GetOrInit runs its f.
//
// Unlike tokio's take(&mut self), which has the cell to itself, Take may be
// called while other goroutines use the cell. It is atomic: a concurrent Get,
// GetOrInit or Wait returns the old value or sees the cell empty (and then
// initializes or waits for a new value), never a mix.
func (c *OnceCell[T]) Take() (T, bool) {
	var zero T
	if c.v.Load() == nil {
		return zero, false
	}
	c.s.q.mu.Lock()
	p := c.v.Load()
	if p == nil {
		c.s.q.mu.Unlock()
		return zero, false // another Take was first
	}
	c.v.Store(nil)
	// The semaphore is closed (the invariant), so nobody is queued on it,
	// and its permit went with the close: nobody holds it. Reopen it with the
	// permit free.
	c.s.reopenLocked(1, 1)
	c.s.q.mu.Unlock()
	return *p, true
}

// A SetOnce holds a value of type T that is set once and can be waited for:
// an event that carries a value, like Python's asyncio.Event.
//
// Set stores the value; of concurrent calls to Set exactly one succeeds and
// the others return [ErrAlreadySet] once the value is visible. Wait waits for
// the value, and Done returns a channel that is closed once it is set, for use
// in a select statement.
//
// Get and Initialized do not lock and allocate nothing: Get is an atomic load
// and a copy of the value.
//
// The zero value is an empty SetOnce. A SetOnce must not be copied after first
// use.
//
// In the terminology of the Go memory model, the successful Set synchronizes
// before every Get, Initialized or Wait that observes the value and before
// every receive from Done that returns because the channel was closed.
type SetOnce[T any] struct {
	_ noCopy
	// set is 1 once v holds the value. It goes from 0 to 1 once, under q.mu,
	// after v is written; a goroutine that loads 1 may read v without a lock,
	// since v is never written again.
	set  atomic.Uint32
	v    T
	done doneSignal // the channel Done returns, closed by Set
	q    waitQueue  // the goroutines in Wait; its mu serializes Set
}

// Set sets the value to v if it is not set yet. It returns [ErrAlreadySet] if
// the value is set, or is being set by a concurrent Set that wins: exactly one
// of several concurrent calls succeeds, and the others return only once its
// value is visible to Get. It never waits for anything but that. A
// successful Set wakes every goroutine in Wait and closes the channel of Done.
func (c *SetOnce[T]) Set(v T) error {
	if c.set.Load() != 0 {
		return ErrAlreadySet
	}
	return c.setSlow(v)
}

// setSlow is the slow path of Set. Setters are serialized by q.mu, as in
// tokio (set_once.rs takes the Notify's waiter lock): a loser cannot return
// ErrAlreadySet before the winner's value can be read.
func (c *SetOnce[T]) setSlow(v T) error {
	c.q.mu.Lock()
	if c.set.Load() != 0 {
		c.q.mu.Unlock()
		return ErrAlreadySet
	}
	c.v = v
	c.set.Store(1) // publishes v (release); Get loads set first
	var l wakeList
	c.q.takeAll(&l, wokeGranted)
	c.q.mu.Unlock()
	l.wake() // c.q.wakeAll would take mu a second time
	// After the store of set, so that a receive from Done sees the value. A
	// Done that loads done after this Swap returns closedChan; one that made a
	// channel before it either swapped it in first (we close it here) or
	// finds ours and returns closedChan.
	c.done.close()
	return nil
}

// Get returns the value and true if it is set, and the zero T and false if
// not. It never waits.
func (c *SetOnce[T]) Get() (T, bool) {
	if c.set.Load() != 0 {
		return c.v, true
	}
	var zero T
	return zero, false
}

// Initialized reports whether the value is set.
func (c *SetOnce[T]) Initialized() bool { return c.set.Load() != 0 }

// Wait waits until the value is set and returns it.
//
// If ctx is already done, Wait returns ctx.Err() even if the value is set. If
// the value is set it returns it at once. If ctx ends first it returns
// ctx.Err() and has left the queue; if the value came as ctx ended, it returns
// the value. Wait is cancel safe: an abandoned Wait leaves nothing behind.
func (c *SetOnce[T]) Wait(ctx context.Context) (T, error) {
	if ctx.Err() == nil && c.set.Load() != 0 {
		return c.v, nil
	}
	return c.waitSlow(ctx)
}

// waitSlow is the slow path of Wait.
func (c *SetOnce[T]) waitSlow(ctx context.Context) (T, error) {
	if err := c.q.waitUntil(ctx, c.Initialized); err != nil {
		var zero T
		return zero, err
	}
	return c.v, nil
}

// Done returns a channel that is closed once the value is set, like
// [context.Context.Done]: a receive from it proceeds once Get would report the
// value. Every call returns a receivable channel (already closed after Set);
// calls before Set return the same channel. Done allocates only on the first
// call before Set.
//
// Under [testing/synctest], the channel that Done makes before Set belongs to
// the bubble of the goroutine that first called Done: a SetOnce whose Done was
// called before its Set must be used by that bubble only. Wait parks on a
// channel of its own for each call and has no such restriction, and after Set
// Done returns a channel made outside any bubble, which every goroutine may
// use.
func (c *SetOnce[T]) Done() <-chan struct{} {
	return c.done.get(func() bool { return c.set.Load() != 0 })
}

// Stats returns a snapshot of the waiting on c: the GetOrInit, GetOrTryInit
// and Wait calls that parked waiting for a value.
func (c *OnceCell[T]) Stats() Stats { return c.s.q.stats.snapshot(&c.w.stats) }

// Stats returns a snapshot of the waiting on c: the Wait calls that parked.
func (c *SetOnce[T]) Stats() Stats { return c.q.stats.snapshot() }
