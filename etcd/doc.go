// Package etcd gives the shapes of gate — ctx first, a done ctx fails at once and leaves
// nothing behind, FIFO, errors.Is — to locks, semaphores and watched values shared by
// every process that talks to one etcd cluster.
//
// A lock across machines needs two things a local one does not. The first is a lease: a
// process that holds a lock can crash, hang or lose its network, and the lock must then
// come free by itself. A [Session] is one etcd lease, kept alive in the background; every
// lock and permit taken through it is a key attached to the lease, and when the lease is
// lost (expired, revoked, or the session closed) the keys go, [Session.Done] is closed
// and the holder's Unlock or Release reports [ErrLost]. The second is a fencing token: a
// holder that was paused past its lease may wake up still believing it holds the lock,
// so every grant comes with a [Token] that grows with each new holder, and a storage
// service that remembers the largest Token it has seen can refuse the stale holder's
// writes.
//
// [Mutex] and [Semaphore] queue their callers in etcd, by the creation revision of one
// key per waiting call, as etcd's own concurrency.Mutex does; each waiter watches the
// one key whose deletion can let it in, so a release wakes one waiter, not all of them.
// [Watch] follows one key as a gate watch channel.
package etcd

import "errors"

var (
	// ErrLost reports that a session's lease expired or was revoked, or the session was
	// closed: whatever was held through it is gone.
	ErrLost = errors.New("gate/etcd: session lease lost")

	// ErrLocked reports that TryLock or TryAcquire found the lock or every permit held
	// by others.
	ErrLocked = errors.New("gate/etcd: held by others")
)
