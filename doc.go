// Package gate provides fair, context-cancellable synchronization primitives
// and channels, generic over the value they carry: tokio::sync for Go.
//
// Every call that can wait takes a [context.Context] first and gives up when it
// ends; every waiter is served in the order it started waiting; nothing is
// lost when a wait is cancelled; and every wait parks the goroutine on a
// channel, so code built on gate can be tested deterministically with
// [testing/synctest].
//
// # Primitives
//
// Locks and semaphores:
//   - [Semaphore]: a weighted, fair, closable counting semaphore; [Permit]
//     holds acquired permits and gives them back.
//   - [Mutex]: a fair mutual-exclusion lock that owns a value of type T.
//   - [RWMutex]: a fair, write-preferring reader/writer lock that owns a value
//     of type T, with [RWMutex.Downgrade].
//
// More primitives (oneshot, mpsc, broadcast and watch channels, Notify,
// Barrier, OnceCell and SetOnce) are specified in the project's API contract
// and are added one family at a time, on the same core.
//
// # From tokio::sync to gate
//
//	tokio::sync                          gate
//	Semaphore::new(n)                    NewSemaphore(n)
//	acquire().await / acquire_many(n)    Acquire(ctx) / AcquireN(ctx, n)
//	try_acquire() / try_acquire_many(n)  TryAcquire() / TryAcquireN(n)
//	add_permits / forget_permits         AddPermits / ForgetPermits
//	available_permits / close/is_closed  Available / Close / IsClosed
//	SemaphorePermit (drop releases)      Permit.Release (explicit)
//	permit.forget/merge/split            Permit.Forget / Merge / Split
//	Mutex::new(v), lock().await          NewMutex(v), Lock(ctx) (*T, error)
//	MutexGuard drop                      Unlock
//	RwLock::new / with_max_readers       NewRWMutex / NewRWMutexMaxReaders
//	read() / write() / try_read/write    RLock / Lock / TryRLock / TryLock
//	RwLockWriteGuard::downgrade          Downgrade
//	AcquireError / TryAcquireError       ErrClosed / ErrNoPermits
//
// Where tokio drops a guard, gate has an explicit Unlock or Release; where a
// tokio future is dropped, a gate call's ctx ends.
//
// # Contexts, fairness and cancellation
//
// A call that can complete without waiting completes, whatever the state of
// its ctx: ctx is consulted only when the call would wait. If ctx ends before
// a waiting call completes, the call returns ctx.Err() (unwrapped, so
// errors.Is and == both work) and has had no effect: no permit or lock is held
// and the call has left the queue. If permits or a lock were handed to a
// waiter at the moment its ctx ended, the waiter returns ctx.Err() and passes
// them on to the next waiter, or back to the count: they are never lost.
//
// Waiters are served strictly first come, first served. A permit or lock
// released while goroutines wait goes to the oldest of them directly; a
// newcomer, TryLock and TryAcquire included, never takes it first. A waiter
// for many permits at the head of a semaphore's queue keeps the permits it has
// collected and blocks smaller requests behind it, so it is never starved.
//
// Runtime conditions are the errors of this package ([ErrClosed],
// [ErrNoPermits], [ErrTooMany], …). Programming errors (a negative count,
// unlocking a lock that is not held, merging permits of two semaphores) panic
// with a message that starts with "gate: ".
//
// # Memory model
//
// In the terminology of the Go memory model: a Mutex's n-th Unlock
// synchronizes before the (n+1)-th Lock returns; an RWMutex's Unlock
// synchronizes before every later RLock and Lock, and each RUnlock before the
// next Lock; a Permit's Release (and AddPermits) synchronizes before the
// acquire that takes the permits it returned. So what a goroutine wrote while
// holding a lock or permits is visible to the goroutine that gets them next.
//
// # Zero values and copying
//
// A zero Mutex, RWMutex and Semaphore are ready to use: unlocked, unlocked
// with MaxReaders readers, and open with 0 permits. No primitive may be copied
// after first use; go vet's copylocks check reports copies.
//
// # Testing code that uses gate
//
// Every wait in gate parks its goroutine on a channel, so inside a
// [testing/synctest] bubble a goroutine waiting on a gate primitive is durably
// blocked: after synctest.Wait it is known to be waiting, and a context
// deadline fires on the bubble's fake clock, so a one-hour timeout takes no
// wall time. Create the primitive inside the bubble. A primitive may reuse
// the channel of a finished wait for its next one, so do not share one
// primitive between two bubbles, or between a bubble and code outside it:
// testing/synctest forbids a bubble's channels to be used outside it.
//
//	func TestWorker(t *testing.T) {
//		synctest.Test(t, func(t *testing.T) {
//			sem := gate.NewSemaphore(1)
//			p, _ := sem.Acquire(t.Context())
//			go worker(t.Context(), sem) // blocks in sem.Acquire
//			synctest.Wait()            // worker is now parked in the queue
//			p.Release()                // hands the permit to worker
//			synctest.Wait()
//		})
//	}
package gate
