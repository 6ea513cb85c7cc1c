package gate

import (
	"context"
	"hash/maphash"
	"runtime"
	"sync"
	"sync/atomic"
)

// This file holds the keyed primitives, KeyedMutex and Flight, and the one
// piece of code they share: a table of per-key entries, made on first use
// and freed when the last goroutine that uses them lets go.
//
// The table is split into keyedShards shards by a hash of the key, each a
// map guarded by its own short sync.Mutex (held for a map operation and a
// few instructions, never across a wait), so that goroutines working on
// distinct keys rarely meet on one lock. Each entry counts the goroutines
// that hold a reference to it (refs, under its shard's mu): one that holds
// or waits for a KeyedMutex key, one waiting for a Flight call. The last one
// out deletes the entry, so the table holds only the keys in use. A Go map
// never gives back the room it grew to, so a shard whose map holds a quarter
// of its peak or less moves its entries to a new, smaller map: after a burst
// of many distinct keys the memory goes back to that of an empty table (a
// few small maps). Waits park
// on the core's queues (a sem per KeyedMutex entry, a waitQueue per Flight
// call), never under a shard's mu.

// keyedShards is the number of shards of a keyed table: enough that
// GOMAXPROCS goroutines on distinct keys seldom share one, few enough that
// the zero table stays small (4 KiB, a cache line per shard).
const keyedShards = 64

// keyedKeep is the peak size under which a shard keeps its map when it
// empties: a key that is locked and unlocked in a loop does not make a new
// map each time.
const keyedKeep = 32

// keyedSeed seeds the hash that picks a key's shard. It is set once, at
// package initialization, and only read afterwards.
var keyedSeed = maphash.MakeSeed()

// A keyedTable maps keys to reference-counted entries holding an E. Its zero
// value is empty. It must not be copied after first use.
type keyedTable[K comparable, E any] struct {
	shards [keyedShards]keyedShard[K, E]
}

// A keyedShard is one lock and map of a keyedTable. Its mu guards every
// field, and the refs of every entry in its map.
type keyedShard[K comparable, E any] struct {
	mu    sync.Mutex
	m     map[K]*keyedEntry[E] // nil until the first key
	peak  int                  // the most keys m has held since it was made
	spare *keyedEntry[E]       // a freed entry for reuse (KeyedMutex only), or nil
	_     [32]byte             // pads the shard to a cache line on 64-bit platforms
}

// A keyedEntry is the state kept for one key while it is in use.
type keyedEntry[E any] struct {
	refs int // goroutines that use the entry; guarded by its shard's mu
	v    E
}

// shard returns the shard of key.
func (t *keyedTable[K, E]) shard(key K) *keyedShard[K, E] {
	return &t.shards[maphash.Comparable(keyedSeed, key)%keyedShards]
}

// len returns the number of keys in use.
func (t *keyedTable[K, E]) len() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// get returns key's entry, or nil. mu must be held.
func (sh *keyedShard[K, E]) get(key K) *keyedEntry[E] { return sh.m[key] }

// add makes an entry for key, which has none, with no reference: the spare
// if there is one, else a new one. mu must be held.
func (sh *keyedShard[K, E]) add(key K) *keyedEntry[E] {
	e := sh.spare
	if e != nil {
		sh.spare = nil
	} else {
		e = new(keyedEntry[E])
	}
	if sh.m == nil {
		sh.m = make(map[K]*keyedEntry[E])
	}
	sh.m[key] = e
	sh.peak = max(sh.peak, len(sh.m))
	return e
}

// ref returns key's entry, made if there is none, with one more reference.
// mu must be held.
func (sh *keyedShard[K, E]) ref(key K) *keyedEntry[E] {
	e := sh.m[key]
	if e == nil {
		e = sh.add(key)
	}
	e.refs++
	return e
}

// unref drops one reference to e, key's entry, and removes e from the map
// when it was the last one. With reuse, a removed e is kept as the spare: the
// caller vouches that nothing points to it any more and that its E is back
// to the zero state. It reports whether e was removed. mu must be held.
func (sh *keyedShard[K, E]) unref(key K, e *keyedEntry[E], reuse bool) bool {
	e.refs--
	if e.refs > 0 {
		return false
	}
	if reuse {
		// A KeyedMutex entry is in the map for as long as it is used.
		sh.drop(key)
		sh.spare = e
	} else {
		sh.remove(key, e)
	}
	return true
}

// remove takes e out of the map if it is still key's entry (Flight.Forget
// and a finished call take an entry out before its last reference goes). mu
// must be held.
func (sh *keyedShard[K, E]) remove(key K, e *keyedEntry[E]) {
	if sh.m[key] == e {
		sh.drop(key)
	}
}

// drop deletes key, which is in the map, and gives back the map's room once
// it has shrunk to a quarter of its peak. mu must be held.
func (sh *keyedShard[K, E]) drop(key K) {
	delete(sh.m, key)
	n := len(sh.m)
	if sh.peak > keyedKeep && n <= sh.peak/4 {
		// Copying n entries is paid for by the 3n or more deletes since
		// the peak. A map that drains shrinks a quarter at a time, down to
		// one of keyedKeep keys or fewer, which it keeps: a new one would
		// cost more than it frees.
		m := make(map[K]*keyedEntry[E], n)
		for k, v := range sh.m {
			m[k] = v
		}
		sh.m, sh.peak = m, n
	}
}

// A KeyedMutex is a set of fair mutual-exclusion locks, one per key of type
// K, each made on first use and freed once no goroutine holds or waits for
// it: memory follows the keys in use, not every key ever locked.
//
// Each key's lock behaves as a [Mutex]: it is handed over in the order in
// which goroutines started waiting for it (FIFO), and Lock takes a context
// and can give up. Locks of distinct keys are independent, and goroutines
// that lock distinct keys rarely contend on one lock. Like Mutex, a key's
// lock is not associated with a goroutine.
//
// The zero value is a KeyedMutex with every key unlocked. A KeyedMutex must
// not be copied after first use.
//
// In the terminology of the Go memory model, the n-th call to Unlock(key)
// synchronizes before the m-th Lock(key) or successful TryLock(key)
// returns, for any n < m.
type KeyedMutex[K comparable] struct {
	_ noCopy
	t keyedTable[K, sem] // each entry a Mutex's sem: 1 permit, bias 1, so the zero word is unlocked
}

// keyedUnlockPanic is the message of an Unlock of a key that is not locked.
const keyedUnlockPanic = "gate: KeyedMutex.Unlock of unlocked key"

// Lock locks key.
//
// If ctx is already done, Lock returns ctx.Err() without locking, even if key
// is free. If key is unlocked and nobody waits for it, Lock takes it at once.
// Otherwise it waits in FIFO order with the other goroutines waiting for key.
// If ctx is done before the lock is handed to it, Lock returns ctx.Err(),
// does not hold the lock and has left the queue (and the key's entry, if
// nobody else uses it, is freed); a waiter to which the lock was handed
// before it could leave returns nil, holding the lock.
func (m *KeyedMutex[K]) Lock(ctx context.Context, key K) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sh := m.t.shard(key)
	sh.mu.Lock()
	e := sh.ref(key)
	// The fast path, under the shard's lock: free and nobody queued.
	if e.v.acquireFast(1, 1) {
		sh.mu.Unlock()
		return nil
	}
	sh.mu.Unlock()
	return m.lockSlow(ctx, sh, key, e)
}

// lockSlow waits for key's lock, holding a reference to its entry so that
// the entry lives while we wait; a Lock that gives up drops it.
func (m *KeyedMutex[K]) lockSlow(ctx context.Context, sh *keyedShard[K, sem], key K, e *keyedEntry[sem]) error {
	err := e.v.acquireSlow(ctx, 1, 1)
	if err != nil {
		// We hold nothing; if we were the last user, the lock is free and
		// nobody is queued, so the entry is back to the zero state.
		sh.mu.Lock()
		sh.unref(key, e, true)
		sh.mu.Unlock()
	}
	return err
}

// TryLock locks key if it is unlocked and nobody waits for it, and reports
// whether it succeeded.
func (m *KeyedMutex[K]) TryLock(key K) bool {
	sh := m.t.shard(key)
	sh.mu.Lock()
	e := sh.get(key)
	if e == nil {
		e = sh.add(key) // a new entry is unlocked: the acquire below succeeds
	}
	if !e.v.acquireFast(1, 1) {
		sh.mu.Unlock()
		return false
	}
	e.refs++
	sh.mu.Unlock()
	return true
}

// Unlock unlocks key, handing its lock to the oldest waiter if there is one,
// and frees the key's entry if nobody waits. It panics if key is not locked.
func (m *KeyedMutex[K]) Unlock(key K) {
	sh := m.t.shard(key)
	sh.mu.Lock()
	e := sh.get(key)
	// A locked entry holds no available permit. Only a holder changes that
	// (a waiter queues behind the holder), so the look is not racy unless
	// Unlock itself is misused.
	if e == nil || e.v.available(1) != 0 {
		sh.mu.Unlock()
		panic(keyedUnlockPanic)
	}
	if e.refs == 1 {
		// Nobody else uses the entry, so nobody waits: the release is one
		// CAS, it leaves the entry in the zero state, and the entry goes.
		e.v.release(1, 1, 1, keyedUnlockPanic)
		sh.unref(key, e, true)
		sh.mu.Unlock()
		return
	}
	sh.mu.Unlock()
	// Others wait or are about to: hand the lock over outside the shard's
	// lock, so that the wake-up does not hold up the other keys of the
	// shard. Our reference is still counted, so the entry cannot be freed
	// (and reused for another key) before the release lands; then drop it.
	e.v.release(1, 1, 1, keyedUnlockPanic)
	sh.mu.Lock()
	sh.unref(key, e, true)
	sh.mu.Unlock()
}

// Len returns the number of keys held or waited for now.
func (m *KeyedMutex[K]) Len() int { return m.t.len() }

// A Flight runs a function once for all the goroutines that ask for the same
// key at the same time: [golang.org/x/sync/singleflight] with generics and
// contexts.
//
// Each caller of Do waits with its own context and can give up alone: the
// call goes on for the others, and its function is cancelled only once
// every caller waiting for it has gone. With singleflight, the caller whose
// goroutine runs the function decides for all of them.
//
// The zero value is a Flight with no call in flight. A Flight must not be
// copied after first use.
//
// In the terminology of the Go memory model, the return of fn synchronizes
// before every Do that returns its result returns.
type Flight[K comparable, V any] struct {
	_ noCopy
	t keyedTable[K, flightCall[V]]
}

// A flightCall is one call of fn and its result. An entry is in its shard's
// map while the call is in flight and someone waits for it; the callers find
// it there and count themselves in its refs.
type flightCall[V any] struct {
	q    waitQueue   // callers waiting for the result
	done atomic.Bool // the result is stored; set under the shard's mu

	// Set before done, under the shard's mu, and read by the callers after
	// they saw done.
	v        V
	err      error
	shared   bool // more than one caller waited for it when it came
	panicked bool // fn panicked with pv
	pv       any
	goexit   bool // fn called runtime.Goexit

	// cancel cancels fn's context, or is nil when fn runs on its first
	// caller's goroutine. Set before fn starts and before the first caller
	// waits; the last caller to give up calls it.
	cancel context.CancelFunc
}

// flightSpins is how many times a caller yields the processor, looking for
// the result, before it parks.
const flightSpins = 2

// flightGoexitPanic is what the callers of Do panic with when fn called
// runtime.Goexit: they have no result to return.
const flightGoexitPanic = "gate: Flight: fn called runtime.Goexit"

// Do returns the result of fn for key, running fn unless a call for key is
// in flight, and then waiting for that one instead.
//
// If ctx is already done, Do returns ctx.Err() without running or joining a
// call. fn runs in a new goroutine, with a context that carries ctx's values
// (as [context.WithoutCancel] does) and is cancelled once every caller
// waiting for the call has gone; if ctx can never end (its Done is nil) the
// caller could never go, and fn runs on its goroutine. Each caller waits with
// its own ctx: if it ends before the result comes, Do returns ctx.Err() and
// the call goes on for the others; if the result came first, Do returns it.
// Once the last caller has gone, the next Do for key starts a new call. If fn
// panics, Do panics with the same value in every caller that waited for the
// result. shared reports whether the result went to more than one caller.
//
// Once fn has returned, the next Do for key starts a new call.
func (f *Flight[K, V]) Do(ctx context.Context, key K, fn func(context.Context) (V, error)) (v V, shared bool, err error) {
	if err := ctx.Err(); err != nil {
		return v, false, err
	}
	sh := f.t.shard(key)
	sh.mu.Lock()
	e := sh.get(key)
	if e != nil {
		// A call is in flight: join it.
		e.refs++
		sh.mu.Unlock()
		return f.wait(ctx, sh, key, e)
	}
	e = sh.add(key)
	e.refs = 1
	sh.mu.Unlock()
	if ctx.Done() == nil {
		// This caller can never give up, so fn's context never ends before
		// fn returns: run fn here, with ctx itself.
		f.run(sh, key, e, ctx, fn)
		return e.v.result()
	}
	// Nobody reads cancel before our wait has started (only the last
	// caller to give up does, and we are one of them), so it can be set
	// without the lock; the go statement publishes it to fn's goroutine.
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.v.cancel = cancel
	go f.run(sh, key, e, fctx, fn)
	return f.wait(ctx, sh, key, e)
}

// wait waits for the result of e, key's call, for a caller that holds a
// reference to it.
func (f *Flight[K, V]) wait(ctx context.Context, sh *keyedShard[K, flightCall[V]], key K, e *keyedEntry[flightCall[V]]) (V, bool, error) {
	c := &e.v
	// A call is usually short next to a park (a channel, a wake-up): yield
	// a few times first, as the batch semaphore's spinning waiters do.
	for range flightSpins {
		if c.done.Load() {
			break
		}
		runtime.Gosched()
	}
	if err := c.q.waitUntil(ctx, c.done.Load); err != nil {
		sh.mu.Lock()
		if !c.done.Load() {
			// Gone before the result: drop our reference. The last caller
			// to go takes the call out of the map, so the next Do starts
			// anew, and cancels fn's context.
			if sh.unref(key, e, false) && c.cancel != nil {
				sh.mu.Unlock()
				c.cancel()
			} else {
				sh.mu.Unlock()
			}
			var zero V
			return zero, false, err
		}
		// The result came as ctx ended, and counted us in (shared): take it.
		sh.mu.Unlock()
	}
	return c.result()
}

// run calls fn and stores its result, its panic or its Goexit in e, key's
// call, then wakes the callers.
func (f *Flight[K, V]) run(sh *keyedShard[K, flightCall[V]], key K, e *keyedEntry[flightCall[V]], ctx context.Context, fn func(context.Context) (V, error)) {
	c := &e.v
	var v V
	var err error
	normal := false
	defer func() {
		var pv any
		if !normal {
			pv = recover() // nil: runtime.Goexit (a panic(nil) recovers as a *runtime.PanicNilError)
		}
		sh.mu.Lock()
		c.v, c.err = v, err
		c.panicked, c.pv = !normal && pv != nil, pv
		c.goexit = !normal && pv == nil
		c.shared = e.refs > 1
		c.done.Store(true)
		// The callers that wait now hold the entry; new ones start anew.
		sh.remove(key, e)
		sh.mu.Unlock()
		c.q.wakeAll()
		if c.cancel != nil {
			c.cancel() // release the context's resources
		}
	}()
	v, err = fn(ctx)
	normal = true
}

// result returns the stored result of a finished call, or panics as fn did.
func (c *flightCall[V]) result() (V, bool, error) {
	if c.panicked {
		panic(c.pv)
	}
	if c.goexit {
		panic(flightGoexitPanic)
	}
	return c.v, c.shared, c.err
}

// Forget makes the next Do for key start a new call, even if one is in
// flight: the callers waiting for that one still get its result.
func (f *Flight[K, V]) Forget(key K) {
	sh := f.t.shard(key)
	sh.mu.Lock()
	if e := sh.get(key); e != nil {
		sh.remove(key, e)
	}
	sh.mu.Unlock()
}
