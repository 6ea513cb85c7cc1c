// Package gate provides fair, context-cancellable synchronization primitives
// and channels, generic over the value they carry: tokio::sync for Go.
//
// Every call that can wait takes a [context.Context] first, fails if it has
// ended and gives up when it ends; every waiter is served in the order it
// started waiting; nothing is lost when a wait is cancelled; and every wait
// parks the goroutine on a channel, so code built on gate can be tested
// deterministically with [testing/synctest].
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
// Signals and cells:
//   - [Notify]: wakes one waiter (oldest with NotifyOne, newest with
//     NotifyLast) or all of them (NotifyWaiters), and stores one permit when
//     nobody waits; [Notified] registers for a notification before waiting.
//   - [Barrier]: n goroutines wait for each other, generation after
//     generation, and exactly one of each generation is the leader; a waiter
//     whose ctx ends withdraws its arrival.
//   - [OnceCell]: a value set at most once, by Set or by the first successful
//     initializer of GetOrInit or GetOrTryInit (FIFO; a failed or panicking
//     one passes the turn on); Wait waits without initializing; Take empties
//     it.
//   - [SetOnce]: a value set once that goroutines wait for (Wait) or select on
//     (Done); exactly one concurrent Set wins.
//
// Channels:
//   - [Oneshot]: one value from a [OneshotSender] to a [OneshotReceiver]; a
//     value sent before the receiver's Close is still received.
//   - [MPSC] and [UnboundedMPSC]: multi-producer, single-consumer channels.
//     Senders ([MPSCSender]) are served FIFO with no barging; an [MPSCPermit]
//     is room reserved with Reserve or ReserveN that sends without waiting or
//     failing; the [MPSCReceiver] receives one value (Recv, TryRecv), a batch
//     (RecvMany) or all of them (All).
//   - [Broadcast]: every value reaches every subscribed [BroadcastReceiver];
//     the channel holds exactly capacity values, a receiver that falls behind
//     gets a [LaggedError] with the number it missed, and
//     [BroadcastSender.SendWait] waits instead, so that no receiver lags.
//   - [Watch]: one value and a version; a [WatchReceiver] reads the newest
//     value at any time (Borrow never waits for a sender) and waits for a
//     newer one with Changed, WaitFor or Changes.
//
// Every receiver has a Ready method that returns a channel for a select,
// beside a ticker, ctx.Done() or another receiver: it becomes receivable once
// TryRecv (for watch, HasChanged) has something to report, a value, a lag or
// closed. Receive from it at most once, then call TryRecv; call Ready again
// before the next select. Nothing is invented and nothing is lost, and Ready
// allocates nothing in steady state:
//
//	for {
//		select {
//		case <-jobs.Ready():
//			job, err := jobs.TryRecv()
//			// ...
//		case <-ticker.C:
//			// ...
//		case <-ctx.Done():
//			return ctx.Err()
//		}
//	}
//
// Channel handles are pointers. Close on a handle closes that handle only and
// is idempotent, and it ends every call in flight on that handle with
// [ErrClosed] (as net.Conn's Close ends a blocked Read); any goroutine may
// call it, also on a receiver. The channel is closed for one side when every
// handle of the other side is closed, and values already sent are still
// delivered. IsClosed means the same on every handle: this handle was closed,
// or every handle of the other side is.
//
// # Which primitive for which job
//
//	job                                          use
//	hand values to one consumer, a goroutine     a Go chan, or MPSC when senders need ctx,
//	  per producer                                 FIFO fairness, Reserve or a close per handle
//	one reply to one request                     Oneshot
//	every subscriber sees every event            Broadcast (SendWait: none may lag)
//	config that every request reads              Watch: Borrow is one atomic load
//	  (the newest value matters, not each one)
//	"it happened" once, for good                 SetOnce (Done in a select) or OnceCell
//	"it happened", again and again               Notify (one waiter, or all), or Watch
//	                                               when the waiters also need a value
//	compute a value once, on first use           OnceCell.GetOrInit
//	limit concurrency, weighted                  Semaphore
//	guard data                                   Mutex[T], RWMutex[T] (Locker for sync.Cond)
//	n goroutines meet, round after round         Barrier
//
// Every primitive reports the waiting on it with Stats (goroutines parked
// now, waits, cancelled waits, time waited), counted only where a goroutine
// parks, so a call that does not wait costs nothing more.
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
//	Notify::new / notify_one / notify_last  Notify{} / NotifyOne / NotifyLast
//	notify_waiters / notified().await    NotifyWaiters / Wait(ctx), Notified().Wait(ctx)
//	Notified::enable                     Notified.Enable (drop: Notified.Cancel)
//	Barrier::new(n) / wait().await       NewBarrier(n) / Wait(ctx) (leader bool)
//	OnceCell::get / set / get_or_init    OnceCell.Get / Set / GetOrInit(ctx, f)
//	get_or_try_init / take / initialized GetOrTryInit / Take / Initialized (+ Wait)
//	SetOnce::set / get / wait            SetOnce.Set / Get / Wait(ctx) (+ Done)
//	oneshot::channel()                   Oneshot[T]()
//	tx.send(v) / tx.closed().await       OneshotSender.Send(v) / WaitClosed(ctx)
//	rx.await / rx.try_recv() / rx.close  Recv(ctx) / TryRecv() / Close()
//	mpsc::channel(n) / unbounded_channel MPSC[T](n) / UnboundedMPSC[T]()
//	send().await / try_send              Send(ctx, v) / TrySend(v)
//	reserve / reserve_many / try_reserve Reserve / ReserveN / TryReserve(N)
//	Permit::send / drop(permit)          MPSCPermit.Send / Release
//	recv / recv_many / try_recv          Recv(ctx) / RecvMany(ctx, buf) / TryRecv
//	broadcast::channel(n)                Broadcast[T](n) (exactly n slots)
//	Sender::send / subscribe             BroadcastSender.Send / Subscribe
//	(none)                               BroadcastSender.SendWait (backpressure)
//	RecvError::Lagged(n)                 *LaggedError{Skipped: n}
//	watch::channel(v)                    Watch(v)
//	send / send_replace / send_modify    WatchSender.Send / SendReplace / SendModify
//	send_if_modified / subscribe         SendIfModified / Subscribe
//	borrow / borrow_and_update           WatchReceiver.Borrow / BorrowAndUpdate
//	has_changed / changed / wait_for     HasChanged / Changed(ctx) / WaitFor(ctx, f)
//	mark_changed / mark_unchanged        MarkChanged / MarkUnchanged
//	WatchStream                          WatchReceiver.Changes(ctx) (an iter.Seq)
//	tokio::select! on a receiver         select on Ready(), then TryRecv
//
// Where tokio drops a guard, a permit or a channel handle, gate has an
// explicit Unlock, Release or Close; where a tokio future is dropped, a gate
// call's ctx ends.
//
// # From sync and golang.org/x/sync to gate
//
//	sync, golang.org/x/sync/semaphore       gate
//	a sync.Mutex beside the data it guards  Mutex[T] owning the data
//	mu.Lock() / mu.Unlock()                 v, err := m.Lock(ctx) / m.Unlock()
//	mu.TryLock() bool                       v, ok := m.TryLock()
//	sync.RWMutex                            RWMutex[T] owning the data
//	rw.RLock() / rw.RUnlock()               v, err := rw.RLock(ctx) / rw.RUnlock()
//	rw.Lock() / rw.Unlock()                 v, err := rw.Lock(ctx) / rw.Unlock()
//	(none)                                  rw.Downgrade()
//	semaphore.NewWeighted(n)                NewSemaphore(n)
//	w.Acquire(ctx, n) error                 p, err := s.AcquireN(ctx, n)
//	w.Release(n)                            p.Release()
//	w.TryAcquire(n) bool                    p, err := s.TryAcquireN(n)
//	make(chan struct{}, n) as a semaphore   NewSemaphore(n)
//	select { case ch <- struct{}{}: … }     p, err := s.Acquire(ctx)
//	<-ch                                    p.Release()
//
// Unlike sync.Mutex and sync.RWMutex, gate's locks stop waiting when a ctx
// ends, never let a newcomer barge ahead of a waiter, and hand out a pointer
// to the value they own, so the value is not reached without the lock. A
// Semaphore's acquires follow semaphore.Weighted's rules (FIFO; a done ctx
// fails the call) and add Close, AddPermits and ForgetPermits. The [Permit]
// they return records how many permits it holds and of which semaphore, so
// Release gives back exactly what was taken; a Permit that is never released
// (or forgotten) leaks its permits, as a missing Release(n) does with
// semaphore.Weighted. Unlike a buffered channel, an acquire needs no select
// on ctx.Done() and a Semaphore can take several permits at once, fairly.
//
// # Contexts, fairness and cancellation
//
// A done ctx fails the call. If ctx has already ended when a call that takes
// it starts, the call returns ctx.Err() (unwrapped, so errors.Is and == both
// work) and has no effect, even if it could complete at once on a free lock
// or available permits; this is what golang.org/x/sync/semaphore and
// golang.org/x/time/rate do, and it means that a loop whose deadline has
// passed does not start more work or record late results. A done ctx is
// reported before any other error. TryLock and TryAcquire take no ctx and act
// whatever its state; for work that must happen even after a deadline, such
// as recording a result that was computed in time, pass
// context.WithoutCancel(ctx).
//
// If ctx ends while the call waits, the call returns ctx.Err() and has had no
// effect: it holds no permit or lock and has left the queue, and any permits
// it had collected toward a larger request go on to the next waiters, or back
// to the count: they are never lost. A grant that comes after its ctx ended
// goes to the next waiter instead (the order is decided under the queue's
// lock). A waiter to which the lock or all its permits were handed before its
// ctx ended returns success, since the grant came first; it holds them and
// must release them as usual.
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
// acquire that takes the permits it returned. A send on any channel
// synchronizes before the receive that returns its value; a NotifyOne,
// NotifyLast or NotifyWaiters before the Wait that it completes; the
// Barrier.Wait calls of a generation before any of them returns; the Set or
// initializer that stores a OnceCell's or SetOnce's value before every call
// that returns it. So what a goroutine wrote before it released, sent or
// notified is visible to the goroutine that acquires, receives or wakes.
//
// # Zero values and copying
//
// A zero Mutex, RWMutex, Semaphore, Notify, OnceCell and SetOnce are ready to
// use: unlocked, unlocked with MaxReaders readers, open with 0 permits, with
// no permit stored, and empty; a zero Permit holds nothing. Barrier and the
// channels are made by their constructors. No primitive may be copied after
// first use, and a Permit or MPSCPermit may not be copied at all (releasing
// two copies would return its permits twice): each has a noCopy field, so go
// vet's copylocks check reports copies. Pass a *Permit.
//
// # Testing code that uses gate
//
// Every wait in gate parks its goroutine on a channel made for that one
// wait, in the order of its primitive's queue, so inside a
// [testing/synctest] bubble a goroutine waiting on a gate primitive is
// durably blocked: after synctest.Wait it is known to be waiting, and a
// context deadline fires on the bubble's fake clock, so a one-hour timeout
// takes no wall time.
//
// No channel is kept from one wait for the next, so a primitive may be
// created anywhere: one made outside any bubble (a package-level variable,
// say) works in one bubble after another, and outside them, as
// golang.org/x/sync/semaphore does. What testing/synctest forbids still
// holds: a goroutine parked in a bubble may only be woken from inside that
// bubble. If a goroutine outside it (or in another bubble) releases a permit
// or unlocks a lock that a goroutine in the bubble is waiting for, the
// runtime kills the process, as it does with x/sync. So within one test, let
// only the bubble's goroutines contend for a shared primitive.
//
// A receiver keeps the channel its Ready method returns for its whole life,
// made by the first call of Ready, so that a select loop allocates nothing.
// So call Ready first inside the bubble that selects on it (a select in a
// bubble on a channel made outside it is not durably blocked), and do not
// select on one receiver's Ready from two bubbles.
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
