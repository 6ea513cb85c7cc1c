package gate

import (
	"context"
	"sync"
)

// A Mutex is a fair mutual-exclusion lock that owns a value of type T.
//
// Lock returns a pointer to the value, valid until the matching Unlock. The
// lock is handed over in the exact order in which goroutines started waiting
// for it (FIFO): Unlock with goroutines queued gives the lock to the oldest one
// directly, so a TryLock or Lock that arrives in between does not get it.
// Unlike [sync.Mutex], Lock takes a context and can give up. A Mutex is not
// associated with a goroutine: one goroutine may lock it and another unlock
// it.
//
// The zero value is an unlocked Mutex holding the zero T. A Mutex must not be
// copied after first use.
//
// In the terminology of the Go memory model, the n-th call to Unlock
// synchronizes before the m-th Lock or successful TryLock returns, for any
// n < m: what the holder wrote through the pointer is seen by the next holder.
type Mutex[T any] struct {
	_ noCopy
	s sem // a batch semaphore with 1 permit (bias 1: the zero word is unlocked)
	v T
}

// NewMutex returns an unlocked Mutex holding v.
func NewMutex[T any](v T) *Mutex[T] {
	return &Mutex[T]{v: v}
}

// Lock locks m and returns a pointer to its value.
//
// If ctx is already done, Lock returns (nil, ctx.Err()) without locking, even
// if m is free. If m is unlocked and nobody waits, Lock takes it at once.
// Otherwise it waits in FIFO order. If ctx is done before the lock is handed
// to it, Lock returns (nil, ctx.Err()), does not hold the lock and leaves the
// queue (an Unlock after its ctx ended hands the lock to the next waiter); a
// waiter to which the lock was handed before its ctx ended returns
// successfully, holding the lock.
func (m *Mutex[T]) Lock(ctx context.Context) (*T, error) {
	// Fast path: a live ctx and an unlocked mutex nobody waits for.
	if ctx.Err() == nil && m.s.acquireFast(1, 1) {
		return &m.v, nil
	}
	return m.lockSlow(ctx)
}

// lockSlow is the slow path of Lock, outlined so that the fast path stays a
// ctx check, a load and a CAS.
func (m *Mutex[T]) lockSlow(ctx context.Context) (*T, error) {
	if err := m.s.acquireSlow(ctx, 1, 1); err != nil {
		return nil, err
	}
	return &m.v, nil
}

// TryLock locks m if it is unlocked and nobody waits for it, and reports
// whether it succeeded. On success it returns a pointer to the value.
func (m *Mutex[T]) TryLock() (*T, bool) {
	if m.s.acquireFast(1, 1) {
		return &m.v, true
	}
	return nil, false
}

// Unlock unlocks m, handing it to the oldest waiter if there is one. It
// panics if m is not locked.
func (m *Mutex[T]) Unlock() {
	m.s.release(1, 1, 1, "gate: Unlock of unlocked Mutex")
}

// MaxReaders is the largest number of readers an RWMutex admits at once; the
// zero RWMutex admits MaxReaders.
const MaxReaders = 1<<29 - 1

// An RWMutex is a fair, write-preferring reader/writer lock that owns a value
// of type T.
//
// Any number of readers, up to its maximum, may hold it at once, or a single
// writer. Goroutines are served in the order they started waiting (FIFO): a
// queued writer blocks the readers that arrive after it, and it gets the lock
// as soon as the readers that held it before have left. A read-locked RWMutex
// whose queue holds a writer therefore does not admit new readers: a goroutine
// that holds a read lock and asks for another while a writer waits
// deadlocks.
//
// The pointer returned by RLock may only be read; the one returned by Lock may
// be written, until Unlock.
//
// Misuse is detected by counting, as in sync.RWMutex: RUnlock, Unlock or
// Downgrade of an RWMutex that holds fewer locks than they return panic. A
// call of the wrong kind while the count fits, RUnlock while a writer holds
// rw, or Unlock while exactly maxReaders readers hold it, cannot be told
// from a valid one and is not detected.
//
// The zero value is an unlocked RWMutex holding the zero T that admits
// MaxReaders readers. An RWMutex must not be copied after first use.
//
// In the terminology of the Go memory model, the n-th Unlock synchronizes
// before the return of any RLock or Lock that takes the lock after it, and
// every RUnlock before a Lock synchronizes before that Lock returns.
type RWMutex[T any] struct {
	_    noCopy
	s    sem   // max() permits (bias max(): the zero word is unlocked); a reader takes 1, a writer all
	less int64 // MaxReaders minus the readers admitted, so that the zero value admits MaxReaders; immutable after construction
	v    T
}

// NewRWMutex returns an unlocked RWMutex holding v that admits MaxReaders
// readers.
func NewRWMutex[T any](v T) *RWMutex[T] {
	return &RWMutex[T]{v: v}
}

// NewRWMutexMaxReaders returns an unlocked RWMutex holding v that admits at
// most maxReaders readers at once. It panics unless 1 <= maxReaders <=
// MaxReaders.
func NewRWMutexMaxReaders[T any](v T, maxReaders int) *RWMutex[T] {
	if maxReaders < 1 || maxReaders > MaxReaders {
		panic("gate: NewRWMutexMaxReaders: maxReaders out of range [1, MaxReaders]")
	}
	return &RWMutex[T]{less: MaxReaders - int64(maxReaders), v: v}
}

// max returns the number of permits: the readers admitted at once, which is
// also what a writer takes.
func (rw *RWMutex[T]) max() int64 { return MaxReaders - rw.less }

// RLock locks rw for reading and returns a pointer to its value, which may
// only be read until RUnlock.
//
// If ctx is already done it returns (nil, ctx.Err()) without locking. It
// returns at once if no writer holds rw, nobody is queued and fewer than the
// maximum readers hold it. Otherwise it waits in FIFO order behind every
// earlier reader and writer. If ctx is done first it returns (nil, ctx.Err())
// and holds nothing.
func (rw *RWMutex[T]) RLock(ctx context.Context) (*T, error) {
	// Fast path: a live ctx, a free permit and nobody queued.
	if ctx.Err() == nil && rw.s.acquireFast(1, rw.max()) {
		return &rw.v, nil
	}
	return rw.lockSlow(ctx, 1)
}

// lockSlow is the slow path of RLock (n == 1) and Lock (n == max), outlined so
// that the fast paths stay a ctx check, a load and a CAS.
func (rw *RWMutex[T]) lockSlow(ctx context.Context, n int64) (*T, error) {
	if err := rw.s.acquireSlow(ctx, n, rw.max()); err != nil {
		return nil, err
	}
	return &rw.v, nil
}

// TryRLock locks rw for reading if it can do so without waiting, and reports
// whether it succeeded. It fails if a writer holds rw, anyone is queued, or the
// maximum number of readers hold it.
func (rw *RWMutex[T]) TryRLock() (*T, bool) {
	if rw.s.tryAcquire(1, rw.max()) != nil {
		return nil, false
	}
	return &rw.v, true
}

// RUnlock releases a read lock, handing the freed permit to the oldest waiter
// if there is one. It panics if rw is not read-locked.
func (rw *RWMutex[T]) RUnlock() {
	mr := rw.max()
	rw.s.release(1, mr, mr, "gate: RUnlock of RWMutex not read-locked")
}

// Lock locks rw for writing and returns a pointer to its value.
//
// If ctx is already done it returns (nil, ctx.Err()) without locking. It
// returns at once if rw is not held and nobody is queued. Otherwise it waits
// in FIFO order; while it waits, readers that arrive after it wait too. If
// ctx is done first it returns (nil, ctx.Err()), holds nothing, and the
// readers queued behind it go ahead.
func (rw *RWMutex[T]) Lock(ctx context.Context) (*T, error) {
	mr := rw.max()
	// Fast path: a live ctx and every permit free.
	if ctx.Err() == nil && rw.s.acquireFast(mr, mr) {
		return &rw.v, nil
	}
	return rw.lockSlow(ctx, mr)
}

// TryLock locks rw for writing if it is not held and nobody is queued, and
// reports whether it succeeded.
func (rw *RWMutex[T]) TryLock() (*T, bool) {
	if mr := rw.max(); rw.s.acquireFast(mr, mr) {
		return &rw.v, true
	}
	return nil, false
}

// Unlock releases the write lock, handing rw to the oldest waiters (the
// writer at the head, or the readers up to the next queued writer). It panics
// if rw is not write-locked.
func (rw *RWMutex[T]) Unlock() {
	mr := rw.max()
	rw.s.release(mr, mr, mr, "gate: Unlock of RWMutex not write-locked")
}

// Downgrade turns the held write lock into a read lock atomically: no writer
// can take rw in between. Queued readers behind the head may then get in,
// unless a writer is first in the queue. The caller must later call RUnlock.
// It panics if rw is not write-locked.
func (rw *RWMutex[T]) Downgrade() {
	mr := rw.max()
	if mr == 1 {
		// The single permit stays with the caller: only check that it is held.
		if rw.s.available(mr) != 0 {
			panic("gate: Downgrade of RWMutex not write-locked")
		}
		return
	}
	// Keep one permit, release the rest; nothing else may be free.
	rw.s.release(mr-1, mr, mr-1, "gate: Downgrade of RWMutex not write-locked")
}

// Locker returns a [sync.Locker] for m, for [sync.Cond] and the APIs that take
// one: its Lock locks m with no ctx, waiting as long as it takes (FIFO, like
// every Lock of m; inside a synctest bubble the wait is a durable block), and
// its Unlock unlocks m, panicking if m is not locked. The value is reached
// through the pointer of a Lock of m, not through the Locker.
func (m *Mutex[T]) Locker() sync.Locker { return (*mutexLocker[T])(m) }

// Locker returns a [sync.Locker] whose Lock write-locks rw with no ctx and
// whose Unlock write-unlocks it, as [Mutex.Locker] does for a Mutex.
func (rw *RWMutex[T]) Locker() sync.Locker { return (*rwLocker[T])(rw) }

// RLocker returns a [sync.Locker] whose Lock read-locks rw with no ctx and
// whose Unlock read-unlocks it, like [sync.RWMutex.RLocker].
func (rw *RWMutex[T]) RLocker() sync.Locker { return (*rLocker[T])(rw) }

// The Locker adapters are the locks themselves under another method set, so
// that handing one out allocates nothing.
type (
	mutexLocker[T any] Mutex[T]
	rwLocker[T any]    RWMutex[T]
	rLocker[T any]     RWMutex[T]
)

func (l *mutexLocker[T]) Lock()   { (*Mutex[T])(l).Lock(context.Background()) }
func (l *mutexLocker[T]) Unlock() { (*Mutex[T])(l).Unlock() }
func (l *rwLocker[T]) Lock()      { (*RWMutex[T])(l).Lock(context.Background()) }
func (l *rwLocker[T]) Unlock()    { (*RWMutex[T])(l).Unlock() }
func (l *rLocker[T]) Lock()       { (*RWMutex[T])(l).RLock(context.Background()) }
func (l *rLocker[T]) Unlock()     { (*RWMutex[T])(l).RUnlock() }

// Stats returns a snapshot of the waiting on m: the Lock calls that parked.
func (m *Mutex[T]) Stats() Stats { return m.s.q.stats.snapshot() }

// Stats returns a snapshot of the waiting on rw: the RLock and Lock calls
// that parked, readers and writers together.
func (rw *RWMutex[T]) Stats() Stats { return rw.s.q.stats.snapshot() }
