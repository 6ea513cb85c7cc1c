package etcd

import (
	"context"
	"sync"
)

// A Semaphore is a set of permits named by a key prefix, shared by every process that
// uses the name on one etcd cluster; every process must give the same count. A permit
// lasts as long as the lease of the [Session] it was taken through.
//
// Callers are served in the order they called Acquire, across every process: each call
// puts a key under name/, and the permits go to the keys created first. Several
// goroutines may use one Semaphore at once; each permit is released by its Token. The
// zero Semaphore is not usable: make one with [NewSemaphore]. A Semaphore must not be
// copied after first use.
type Semaphore struct {
	q queue

	mu   sync.Mutex       // guards held
	held map[Token]string // the keys of the permits held through this Semaphore
}

// NewSemaphore returns the Semaphore named name with permits permits. name should not
// end in "/": its keys are name/<lease>-<n>. It panics if permits < 1. Nothing is sent
// to etcd until Acquire.
func NewSemaphore(s *Session, name string, permits int) *Semaphore {
	if permits < 1 {
		panic("gate/etcd: NewSemaphore with permits < 1")
	}
	return &Semaphore{q: queue{s: s, pfx: name + "/", permits: permits}, held: map[Token]string{}}
}

// Acquire waits until this call holds a permit and returns its Token, which
// [Semaphore.Release] takes back. It waits behind every Acquire that started earlier,
// in any process (FIFO by arrival at etcd); TryAcquire calls queue the same way.
//
// Acquire returns early if ctx is done, with ctx.Err(), or if the session's lease is
// lost, with [ErrLost], or if etcd fails, with that error. On every failure the call
// holds nothing and its key has been deleted from etcd (or, if etcd cannot be reached,
// the session is given up so that the key expires with the lease); a permit passed to
// it while it was being cancelled goes to the next waiter. A done ctx is reported first,
// also when a permit was free.
func (s *Semaphore) Acquire(ctx context.Context) (Token, error) {
	return s.hold(s.q.take(ctx, true))
}

// TryAcquire takes a permit if one is free and nobody waits for one, and returns its
// Token, else [ErrLocked]. It waits only for etcd's answer and leaves no key behind. A
// done ctx gives ctx.Err(), first; a lost lease [ErrLost].
func (s *Semaphore) TryAcquire(ctx context.Context) (Token, error) {
	return s.hold(s.q.take(ctx, false))
}

// hold records the key that take returned, if it did, and returns its Token.
func (s *Semaphore) hold(key string, rev int64, err error) (Token, error) {
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.held[Token(rev)] = key
	s.mu.Unlock()
	return Token(rev), nil
}

// Release returns the permit with Token t, taken through this Semaphore, and lets the
// next waiter in. It returns [ErrLost] if the permit was gone already, because the
// session's lease was lost meanwhile; either way t is no longer held.
//
// If ctx ends first, or etcd fails, Release returns ctx.Err() or the error and the permit
// is still held: call Release again, or close the session. It panics if t is not a
// permit held through this Semaphore.
func (s *Semaphore) Release(ctx context.Context, t Token) error {
	s.mu.Lock()
	key, ok := s.held[t]
	s.mu.Unlock()
	if !ok {
		panic("gate/etcd: Release of a Token not held through this Semaphore")
	}
	return s.q.unlock(ctx, key, func() {
		s.mu.Lock()
		delete(s.held, t)
		s.mu.Unlock()
	})
}
