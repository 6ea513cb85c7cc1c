package gate

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// This file holds Group: x/sync/errgroup with SetLimit, built on the core.
//
// The limit is the core's batch semaphore ([sem], bias 0) with limit
// permits: a Go takes one before it starts its goroutine and the goroutine
// gives it back when f returns, so a Go that must wait for room waits in
// the semaphore's FIFO queue with its caller's ctx, and a grant that comes
// as that ctx ends goes on to the next Go (the core decides which came
// first); it yields a couple of times, queued, before it parks
// (groupSpins). A failure, or the end of Wait, closes the group: it sets the
// closed bit of the state word, which every later Go sees, and closes the
// semaphore, which ends the Go calls queued for room with ErrClosed. Wait
// parks on a waitQueue of its own until the state word counts no call in
// flight. The only goroutines are the ones that run the functions.

// State word of a Group.
//
// Bits (high to low):
//
//	63 ............. 1 | 0
//	calls in flight    | closed
//
// A call is in flight from the moment a Go or TryGo that found the group
// open counts itself in until its function has returned, or until the Go
// gave up (ctx, ErrClosed) without starting it. Wait waits for the count to
// reach 0 and sets the closed bit in the same CAS, so a Go either counted
// itself in first, and Wait waits for it (and for the room it may still be
// waiting for), or it sees the bit and runs nothing.
const (
	groupClosed = 1 // a function failed or Wait returned: nothing starts any more
	groupCall   = 2 // one call in flight
)

// groupSpins is how many times a Go that must wait for room yields the
// processor, keeping its place in the queue, before it parks. Room comes
// back when a function returns, and a Go loop over short functions (the
// common shape: a fan-out over many small jobs) usually gets it within a
// scheduling round or two: the yield lets the running functions finish,
// and the grant then costs neither a channel nor a park (waitQueue.spin). With
// 10,000 tiny tasks at limit 8 it halves the time per task.
const groupSpins = 2

// A Group runs functions in goroutines, at most a limit of them at once, and
// reports the first error.
//
// It is [golang.org/x/sync/errgroup] with SetLimit, with three differences:
// a Go that must wait for room takes a ctx and waits in FIFO order with the
// other Go calls (a newcomer, TryGo included, never takes room ahead of one
// that waits); nothing starts after a function failed; and a panic in a
// function is not lost: the goroutine recovers it and Wait panics with its
// value. Every function gets the group's context, which is cancelled, with
// the first error as its cause ([context.Cause]), when a function fails or
// Wait returns.
//
// A function that calls [runtime.Goexit] (t.FailNow in a test) ends its
// goroutine as it would anywhere; the group counts it as returned without an
// error.
//
// The zero value is a Group with no limit whose functions get a context,
// derived from [context.Background], that is cancelled on the first error. A
// Group must not be copied after first use.
//
// In the terminology of the Go memory model, a call to Go that starts f
// synchronizes before f begins, and the return of every f synchronizes before
// Wait returns.
type Group struct {
	_     noCopy
	state atomic.Int64 // calls in flight and the closed bit; see the bit map above
	s     sem          // limit permits (bias 0); unused when limit is 0
	limit int64        // 0: no limit; immutable after NewGroup
	q     waitQueue    // Wait callers, woken when no call is in flight

	running atomic.Int64 // functions running now (Running)

	// once makes ctx and cancel for the zero Group; NewGroup sets them
	// before the Group is shared, and the once then finds them set.
	once   sync.Once
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu       sync.Mutex // guards the fields below
	failed   bool       // a function returned an error or panicked
	err      error      // the first error a function returned
	panicked bool       // a function panicked; pv is the first panic's value
	pv       any
}

// NewGroup returns a Group that runs at most limit functions at once (limit
// 0: no limit) and a context derived from ctx that every function gets. The
// context is cancelled, with the first error as its cause, when a function
// fails (returns an error or panics) or when Wait returns, whichever comes
// first. NewGroup panics if limit is negative or above MaxPermits.
func NewGroup(ctx context.Context, limit int) (*Group, context.Context) {
	if limit < 0 || int64(limit) > MaxPermits {
		panic("gate: NewGroup: limit out of range [0, MaxPermits]")
	}
	g := &Group{limit: int64(limit)}
	g.s.init(int64(limit), 0)
	g.ctx, g.cancel = context.WithCancelCause(ctx)
	return g, g.ctx
}

// init makes the context of a zero Group.
func (g *Group) init() {
	g.once.Do(func() {
		if g.cancel == nil {
			g.ctx, g.cancel = context.WithCancelCause(context.Background())
		}
	})
}

// Go calls f in a new goroutine, with the group's context, once there is room
// for it.
//
// If ctx is already done, Go returns ctx.Err() and does not run f, even if
// there is room. If a function of the group has failed or Wait has returned,
// it returns [ErrClosed] and does not run f. Otherwise, if fewer than limit
// functions run and no other Go waits for room, it starts f at once;
// otherwise it waits, in FIFO order with the other Go calls, until a
// function returns and the room is handed to it. If ctx ends first it
// returns ctx.Err() and has left the queue (room handed to it as ctx ended
// goes on to the next Go); if the group fails while it waits it returns
// ErrClosed. A nil error means f was started.
//
// The first function that returns an error, or panics, closes the group and
// cancels its context with that error as the cause.
func (g *Group) Go(ctx context.Context, f func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !g.enter() {
		return ErrClosed
	}
	if g.limit > 0 && !g.s.acquireFast(1, 0) {
		if err := g.s.acquireSlowSpin(ctx, nil, 1, 0, groupSpins); err != nil {
			g.leave()
			return err
		}
	}
	return g.start(f)
}

// TryGo calls f in a new goroutine, with the group's context, if there is
// room for it now and no Go waits for room, and reports whether it did. It
// returns false, without running f, if there is no room or the group is
// closed (a function failed or Wait returned).
func (g *Group) TryGo(f func(context.Context) error) bool {
	if !g.enter() {
		return false
	}
	if g.limit > 0 && g.s.tryAcquire(1, 0) != nil {
		g.leave()
		return false
	}
	return g.start(f) == nil
}

// enter counts a call in flight unless the group is closed, and reports
// whether it did.
func (g *Group) enter() bool {
	for {
		old := g.state.Load()
		if old&groupClosed != 0 {
			return false
		}
		if g.state.CompareAndSwap(old, old+groupCall) {
			return true
		}
		// Another call entered or left: look again.
	}
}

// leave counts a call out and wakes Wait when it was the last one.
func (g *Group) leave() {
	if g.state.Add(-groupCall) < groupCall {
		g.q.notify()
	}
}

// start runs f in a new goroutine for a call that has entered and holds its
// room. A failure may have closed the group while the call waited for the
// room, or after it took the room without waiting: then it gives the room
// back and returns ErrClosed, so that nothing starts after a failure.
func (g *Group) start(f func(context.Context) error) error {
	if g.state.Load()&groupClosed != 0 {
		g.done()
		return ErrClosed
	}
	g.init()
	g.running.Add(1)
	go g.run(f)
	return nil
}

// run is the body of a function's goroutine. A panic in f is recovered here,
// recorded for Wait and closes the group as an error would; the room is
// given back and the call counted out however f ended (a runtime.Goexit
// too).
func (g *Group) run(f func(context.Context) error) {
	normal := false
	defer func() {
		if !normal {
			if r := recover(); r != nil {
				g.fail(nil, r, true)
			}
			// r == nil: runtime.Goexit (a panic(nil) recovers as a
			// *runtime.PanicNilError); it goes on after this function.
		}
		g.running.Add(-1)
		g.done()
	}()
	err := f(g.ctx)
	normal = true
	if err != nil {
		g.fail(err, nil, false)
	}
}

// done gives back the room of a call that had it and counts the call out.
// The room goes first, to the oldest Go queued for it, so that a Wait woken
// by the count never finds a Go between its room and its start.
func (g *Group) done() {
	if g.limit > 0 {
		g.s.release(1, 0, g.limit, "gate: Group: room released twice")
	}
	g.leave()
}

// A groupPanic is the cause of the group's context when a function panicked.
type groupPanic struct{ v any }

func (p groupPanic) Error() string { return fmt.Sprintf("gate: Group: function panicked: %v", p.v) }

// fail records a function's error or panic. The first failure closes the
// group, so that nothing starts after it (the Go calls queued for room get
// ErrClosed), and cancels the context with it as the cause.
func (g *Group) fail(err error, pv any, panicked bool) {
	g.mu.Lock()
	first := !g.failed
	g.failed = true
	if panicked && !g.panicked {
		g.panicked, g.pv = true, pv
	}
	if !panicked && g.err == nil {
		g.err = err
	}
	g.mu.Unlock()
	if !first {
		return
	}
	g.state.Or(groupClosed)
	if g.limit > 0 {
		g.s.close()
	}
	if panicked {
		err = groupPanic{pv}
	}
	g.cancel(err)
}

// Wait waits until every function started by Go or TryGo has returned, and
// every Go that is waiting for room has started its function or given up,
// then closes the group and cancels its context; later calls of Go return
// ErrClosed. If a function panicked, Wait panics with the value of the first
// panic. Otherwise it returns the first error a function returned, or nil.
// Wait may be called again; it returns the same.
func (g *Group) Wait() error {
	g.init()
	for {
		// A call in flight always ends (a queued Go gets the room its
		// predecessors give back, or ErrClosed), so a wait with no ctx
		// cannot hang on the group itself.
		_ = g.q.waitUntil(context.Background(), func() bool {
			return g.state.Load() < groupCall
		})
		old := g.state.Load()
		if old >= groupCall {
			continue // a Go entered after the wake-up: wait for it too
		}
		if old&groupClosed != 0 || g.state.CompareAndSwap(old, old|groupClosed) {
			break
		}
	}
	if g.limit > 0 {
		g.s.close()
	}
	g.mu.Lock()
	err, panicked, pv := g.err, g.panicked, g.pv
	g.mu.Unlock()
	g.cancel(err)
	if panicked {
		panic(pv)
	}
	return err
}

// Running returns the number of functions of the group running now.
func (g *Group) Running() int { return int(g.running.Load()) }
