package etcd

import (
	"context"
	"sync"
)

// A Token is a fencing token: it grows with every new holder of a name, so that a storage
// service can refuse a write from a holder whose lease was lost meanwhile. It is the etcd
// revision at which the holder's key was created.
//
// To fence, the storage remembers the largest Token it has accepted for the name and
// refuses a write that carries a smaller one; a store in the same etcd cluster can
// instead compare the holder's key in the write's transaction.
type Token int64

// A Mutex is a FIFO mutual-exclusion lock named by a key prefix, shared by every process
// that uses the name on one etcd cluster. The lock lasts as long as the lease of the
// [Session] it was taken through.
//
// Callers are served in the order they called Lock, across every process: each call
// puts a key under name/, and the key created first holds the lock. A Mutex may be used
// by several goroutines at once; they queue like separate processes, and Unlock releases
// whichever of them holds it. The zero Mutex is not usable: make one with [NewMutex]. A
// Mutex must not be copied after first use.
//
// A Lock that returns a Token synchronizes after the Unlock, or the lease loss, that let
// it in, as seen through etcd's revisions; no memory is shared between processes, so
// what the previous holder wrote must itself be in etcd, or fenced with the Token.
type Mutex struct {
	q queue

	mu  sync.Mutex // guards key and rev
	key string     // the holder's key; "" when this Mutex does not hold the lock
	rev int64
}

// NewMutex returns the Mutex named name, which should not end in "/": its keys are
// name/<lease>-<n>. Nothing is sent to etcd until Lock.
func NewMutex(s *Session, name string) *Mutex {
	return &Mutex{q: queue{s: s, pfx: name + "/", permits: 1}}
}

// Lock waits until this call holds the lock and returns its Token. It waits behind every
// Lock that started earlier, in any process (FIFO by arrival at etcd); TryLock calls
// queue the same way, and do not overtake either.
//
// Lock returns early if ctx is done, with ctx.Err(), or if the session's lease is lost,
// with [ErrLost], or if etcd fails, with that error. On every failure the call holds
// nothing and its key has been deleted from etcd. If etcd cannot be reached to delete
// it, Lock tries for up to the TTL, then gives the session up, so that its lease, and the
// key with it, expires. If the lock was passed to the call while it was being
// cancelled, the next waiter gets it. A done ctx is reported first, also when the lock
// was free.
//
// Locking a Mutex that this process holds through another goroutine waits like any
// other caller; locking it again from the goroutine that holds it deadlocks until ctx
// ends.
func (m *Mutex) Lock(ctx context.Context) (Token, error) {
	return m.hold(m.q.take(ctx, true))
}

// TryLock takes the lock if it is free and nobody waits for it, and returns its Token,
// else [ErrLocked]. It does not wait for the lock, only for etcd's answer: one round
// trip, two when it has to delete its key again, which it does before returning, so
// that no key is left behind. A done ctx gives ctx.Err(), first; a lost lease [ErrLost].
func (m *Mutex) TryLock(ctx context.Context) (Token, error) {
	return m.hold(m.q.take(ctx, false))
}

// hold records the key that take returned, if it did, and returns its Token.
func (m *Mutex) hold(key string, rev int64, err error) (Token, error) {
	if err != nil {
		return 0, err
	}
	m.mu.Lock()
	m.key, m.rev = key, rev
	m.mu.Unlock()
	return Token(rev), nil
}

// Unlock releases the lock held through this Mutex: it deletes the holder's key, which
// lets the next waiter in. It returns [ErrLost] if the key was gone already, because the
// session's lease was lost meanwhile (the lock was not held any more, and another caller
// may have held it since); either way the Mutex no longer holds the lock.
//
// If ctx ends first, or etcd fails, Unlock returns ctx.Err() or the error and the lock is
// still held: call Unlock again, or close the session. It panics if this Mutex does not
// hold the lock.
func (m *Mutex) Unlock(ctx context.Context) error {
	m.mu.Lock()
	key, rev := m.key, m.rev
	m.mu.Unlock()
	if key == "" {
		panic("gate/etcd: Unlock of unlocked Mutex")
	}
	return m.q.unlock(ctx, key, func() {
		m.mu.Lock()
		if m.rev == rev {
			m.key, m.rev = "", 0
		}
		m.mu.Unlock()
	})
}
