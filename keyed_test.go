package gate_test

// Tests of KeyedMutex and Flight: one test per rule of API.md ("Beyond
// tokio"), a rapid model of KeyedMutex and a stress test of each under
// -race. The memory test (entries freed, maps shrunk after a million keys)
// is in keyed_internal_test.go, which can see the table.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/gophergate/gate"
)

func keyedWantLen[K comparable](t *testing.T, m *gate.KeyedMutex[K], want int) {
	t.Helper()
	if got := m.Len(); got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
}

// ---------------------------------------------------------------------------
// KeyedMutex

func TestKeyedMutexLockUnlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var m gate.KeyedMutex[string]
		keyedWantLen(t, &m, 0)
		if err := m.Lock(t.Context(), "a"); err != nil {
			t.Fatal(err)
		}
		if m.TryLock("a") {
			t.Fatalf("TryLock of a held key succeeded")
		}
		// Distinct keys are independent.
		if !m.TryLock("b") {
			t.Fatalf("TryLock of a free key failed")
		}
		if err := m.Lock(t.Context(), "c"); err != nil {
			t.Fatal(err)
		}
		keyedWantLen(t, &m, 3)
		m.Unlock("a")
		m.Unlock("b")
		keyedWantLen(t, &m, 1)
		m.Unlock("c")
		keyedWantLen(t, &m, 0)
		if !m.TryLock("a") {
			t.Fatalf("TryLock after Unlock failed")
		}
		m.Unlock("a")
	})
}

// Waiters for one key get it in the order they started waiting; TryLock
// does not barge while one waits; a waiter on another key is not held up.
func TestKeyedMutexFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var m gate.KeyedMutex[int]
		if err := m.Lock(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		var waiters []*async[struct{}]
		for i := range 4 {
			waiters = append(waiters, goErr(fmt.Sprint("Lock ", i), func() error { return m.Lock(t.Context(), 1) }))
			synctest.Wait()
		}
		other := goErr("Lock of another key", func() error { return m.Lock(t.Context(), 2) })
		synctest.Wait()
		other.ok(t)
		m.Unlock(2)
		for i := range waiters {
			for _, w := range waiters[i:] {
				w.pending(t)
			}
			m.Unlock(1)
			if m.TryLock(1) {
				t.Fatalf("TryLock barged past a queued Lock")
			}
			synctest.Wait()
			waiters[i].ok(t)
			keyedWantLen(t, &m, 1)
		}
		m.Unlock(1)
		keyedWantLen(t, &m, 0)
	})
}

// A done ctx fails Lock, even on a free key, and leaves nothing behind.
func TestKeyedMutexLockDoneCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var m gate.KeyedMutex[string]
		if err := m.Lock(doneCtx(t.Context()), "k"); err != context.Canceled {
			t.Fatalf("Lock with a done ctx = %v, want context.Canceled", err)
		}
		keyedWantLen(t, &m, 0)
		if !m.TryLock("k") {
			t.Fatalf("key locked after a Lock with a done ctx")
		}
		m.Unlock("k")
	})
}

// A waiter whose ctx ends leaves the queue and the entry it kept alive: once
// the holder unlocks, the key's entry is freed. A cancel between two waiters
// hands the lock on to the later one.
func TestKeyedMutexCancelledWaiterFreesEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var m gate.KeyedMutex[string]
		if err := m.Lock(t.Context(), "k"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		w := goErr("Lock", func() error { return m.Lock(ctx, "k") })
		synctest.Wait()
		w.pending(t)
		cancel()
		synctest.Wait()
		w.failed(t, context.Canceled)
		keyedWantLen(t, &m, 1)
		m.Unlock("k")
		keyedWantLen(t, &m, 0)

		// The holder unlocks first, then the only waiter gives up: freed too.
		if err := m.Lock(t.Context(), "k"); err != nil {
			t.Fatal(err)
		}
		ctx1, cancel1 := context.WithCancel(t.Context())
		w1 := goErr("Lock 1", func() error { return m.Lock(ctx1, "k") })
		synctest.Wait()
		w2 := goErr("Lock 2", func() error { return m.Lock(t.Context(), "k") })
		synctest.Wait()
		cancel1()
		synctest.Wait()
		w1.failed(t, context.Canceled)
		m.Unlock("k")
		synctest.Wait()
		w2.ok(t)
		m.Unlock("k")
		keyedWantLen(t, &m, 0)
	})
}

func TestKeyedMutexUnlockPanics(t *testing.T) {
	var m gate.KeyedMutex[int]
	mustPanic(t, "Unlock of a key never locked", func() { m.Unlock(7) })
	if err := m.Lock(context.Background(), 7); err != nil {
		t.Fatal(err)
	}
	m.Unlock(7)
	mustPanic(t, "second Unlock", func() { m.Unlock(7) })
	// The panics left the shard's lock free.
	if !m.TryLock(7) {
		t.Fatalf("TryLock after the panics failed")
	}
	m.Unlock(7)
	if m.Len() != 0 {
		t.Fatalf("Len = %d after the panics", m.Len())
	}
}

// A KeyedMutex at package level works in one bubble after another.
var keyedPackageMutex gate.KeyedMutex[string]

func TestKeyedMutexAcrossBubbles(t *testing.T) {
	for range 3 {
		synctest.Test(t, func(t *testing.T) {
			if err := keyedPackageMutex.Lock(t.Context(), "k"); err != nil {
				t.Fatal(err)
			}
			w := goErr("Lock", func() error { return keyedPackageMutex.Lock(t.Context(), "k") })
			synctest.Wait()
			w.pending(t)
			keyedPackageMutex.Unlock("k")
			synctest.Wait()
			w.ok(t)
			keyedPackageMutex.Unlock("k")
		})
	}
}

// ---------------------------------------------------------------------------
// KeyedMutex model

// keyedModel is the sequential model of a KeyedMutex: per key, whether the
// test holds it and the FIFO queue of waiting Lock calls.
type keyedModel struct {
	held  map[int]bool  // keys the test holds
	queue map[int][]int // key -> waiting call ids, oldest first
	done  map[int]string
	key   map[int]int // call id -> its key
}

func (m *keyedModel) lock(id, key int, pre bool) {
	m.key[id] = key
	switch {
	case pre:
		m.done[id] = "canceled"
	case !m.held[key]:
		m.held[key] = true
		m.done[id] = "granted"
	default:
		m.queue[key] = append(m.queue[key], id)
	}
}

func (m *keyedModel) tryLock(key int) bool {
	if m.held[key] {
		return false
	}
	m.held[key] = true
	return true
}

func (m *keyedModel) unlock(key int) {
	if q := m.queue[key]; len(q) > 0 {
		m.done[q[0]] = "granted"
		m.queue[key] = q[1:]
		if len(q) == 1 {
			delete(m.queue, key)
		}
		return
	}
	delete(m.held, key)
}

func (m *keyedModel) cancel(id int) {
	key := m.key[id]
	q := m.queue[key]
	if i := slices.Index(q, id); i >= 0 {
		q = slices.Delete(q, i, i+1)
		m.queue[key] = q
		if len(q) == 0 {
			delete(m.queue, key)
		}
		m.done[id] = "canceled"
	}
}

type keyedObs struct {
	Len  int
	Held []int
	Done map[int]string
}

func (m *keyedModel) obs() keyedObs {
	return keyedObs{Len: len(m.held), Held: slices.Sorted(maps.Keys(m.held)), Done: maps.Clone(m.done)}
}

type keyedMachine struct {
	m      *gate.KeyedMutex[int]
	model  keyedModel
	nextID int
	calls  modelCalls[struct{}]
	done   map[int]string
}

func (km *keyedMachine) check(rt *rapid.T) {
	for id, r := range km.calls.returned() {
		km.done[id] = resultString(r.err)
	}
	got := keyedObs{Len: km.m.Len(), Held: slices.Sorted(maps.Keys(km.model.held)), Done: maps.Clone(km.done)}
	// Held keys: every held key is locked (TryLock fails), every other free.
	for key := range 3 {
		if km.m.TryLock(key) {
			km.m.Unlock(key)
			if km.model.held[key] {
				rt.Fatalf("key %d is free, model holds it", key)
			}
		} else if !km.model.held[key] {
			rt.Fatalf("key %d is locked, model says free", key)
		}
	}
	if diff := cmp.Diff(km.model.obs(), got); diff != "" {
		rt.Fatalf("KeyedMutex differs from the model (-model +real):\n%s", diff)
	}
}

func (km *keyedMachine) lock(rt *rapid.T) {
	km.nextID++
	id := km.nextID
	key := rapid.IntRange(0, 2).Draw(rt, "key")
	pre := drawPrecancelled(rt)
	ctx := km.calls.ctx(id, pre)
	m := km.m
	km.calls.start(id, goErr("Lock", func() error { return m.Lock(ctx, key) }))
	km.model.lock(id, key, pre)
}

func (km *keyedMachine) tryLock(rt *rapid.T) {
	key := rapid.IntRange(0, 2).Draw(rt, "key")
	if got, want := km.m.TryLock(key), km.model.tryLock(key); got != want {
		rt.Fatalf("TryLock(%d) = %v, model %v", key, got, want)
	}
}

func (km *keyedMachine) unlock(rt *rapid.T) {
	key, ok := pick(rt, km.model.held, "unlock")
	if !ok {
		mustPanic(rt, "Unlock of a free key", func() { km.m.Unlock(rapid.IntRange(0, 2).Draw(rt, "free")) })
		return
	}
	km.m.Unlock(key)
	km.model.unlock(key)
}

func (km *keyedMachine) cancel(rt *rapid.T) {
	cancelPicked(rt, &km.calls, "cancel", func(id int) { km.model.cancel(id) })
}

func keyedModelCheck(rt *rapid.T) {
	runModel(rt, func(rt *rapid.T) (func(), modelActions) {
		km := &keyedMachine{
			m:     new(gate.KeyedMutex[int]),
			model: keyedModel{held: map[int]bool{}, queue: map[int][]int{}, done: map[int]string{}, key: map[int]int{}},
			calls: newModelCalls[struct{}](),
			done:  map[int]string{},
		}
		return km.calls.cleanup, modelActions{
			"":        km.check,
			"lock":    km.lock,
			"tryLock": km.tryLock,
			"unlock":  km.unlock,
			"cancel":  km.cancel,
		}
	})
}

func TestKeyedMutexModel(t *testing.T) { checkModel(t, keyedModelCheck, false) }

// TestKeyedMutexStress locks a few keys from many goroutines under random
// contexts: at most one holder per key, no update lost, and no entry left.
func TestKeyedMutexStress(t *testing.T) {
	watchdog(t)
	const keys = 4
	goroutines, iters := 8, shortOr(3000, 300)
	seed := logSeed(t)
	var m gate.KeyedMutex[int]
	var inside [keys]atomic.Int32
	var counts [keys]int // guarded by the key's lock: the race detector checks the hand-over
	var locked [keys]atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			for range iters {
				key := r.IntN(keys)
				if r.IntN(4) == 0 {
					if !m.TryLock(key) {
						continue
					}
				} else {
					ctx, cancel := randomCtx(r, context.Background())
					err := m.Lock(ctx, key)
					cancel()
					if err != nil {
						if !isCtxErr(ctx, err) {
							t.Errorf("Lock = %v", err)
						}
						continue
					}
				}
				if n := inside[key].Add(1); n != 1 {
					t.Errorf("%d goroutines hold key %d", n, key)
				}
				counts[key]++
				locked[key].Add(1)
				if r.IntN(8) == 0 {
					runtime.Gosched()
				}
				inside[key].Add(-1)
				m.Unlock(key)
			}
		})
	}
	wg.Wait()
	for key := range keys {
		if int64(counts[key]) != locked[key].Load() {
			t.Errorf("key %d: %d increments, %d locks", key, counts[key], locked[key].Load())
		}
	}
	if n := m.Len(); n != 0 {
		t.Errorf("Len = %d after every Unlock", n)
	}
}

// ---------------------------------------------------------------------------
// Flight

// flightFn returns a fn for Flight.Do that counts its calls, hands its ctx
// to the test and returns what the test sends on release.
type flightFn struct {
	calls   atomic.Int32
	ctxs    chan context.Context
	release chan string
}

func newFlightFn() *flightFn {
	return &flightFn{ctxs: make(chan context.Context, 16), release: make(chan string, 16)}
}

func (f *flightFn) fn(ctx context.Context) (string, error) {
	f.calls.Add(1)
	f.ctxs <- ctx
	v := <-f.release
	if v == "panic" {
		panic(errors.New("fn panicked"))
	}
	if v == "error" {
		return "", errors.New("fn failed")
	}
	return v, nil
}

type flightResult struct {
	v      string
	shared bool
}

func goDo(what string, ctx context.Context, f *gate.Flight[string, string], key string, fn func(context.Context) (string, error)) *async[flightResult] {
	return goCall(what, func() (flightResult, error) {
		v, shared, err := f.Do(ctx, key, fn)
		return flightResult{v, shared}, err
	})
}

func TestFlightDo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var f gate.Flight[string, string]
		v, shared, err := f.Do(t.Context(), "k", func(context.Context) (string, error) { return "v", nil })
		if v != "v" || shared || err != nil {
			t.Fatalf("Do = %q, %v, %v; want v, false, nil", v, shared, err)
		}
		// Each call after the last one returned runs fn anew.
		v, _, err = f.Do(context.Background(), "k", func(context.Context) (string, error) { return "w", errors.New("e") })
		if v != "w" || err == nil {
			t.Fatalf("Do = %q, %v; want w and the error", v, err)
		}
		if _, _, err := f.Do(doneCtx(t.Context()), "k", func(context.Context) (string, error) {
			t.Fatalf("fn ran for a done ctx")
			return "", nil
		}); err != context.Canceled {
			t.Fatalf("Do with a done ctx = %v, want context.Canceled", err)
		}
	})
}

// Callers of one key at the same time share one call of fn; another key
// runs its own.
func TestFlightShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var f gate.Flight[string, string]
		fn := newFlightFn()
		a := goDo("Do a", t.Context(), &f, "k", fn.fn)
		synctest.Wait()
		b := goDo("Do b", t.Context(), &f, "k", fn.fn)
		fnOther := newFlightFn()
		other := goDo("Do other key", t.Context(), &f, "other", fnOther.fn)
		synctest.Wait()
		if n := fn.calls.Load(); n != 1 {
			t.Fatalf("fn ran %d times, want once", n)
		}
		if n := fnOther.calls.Load(); n != 1 {
			t.Fatalf("fn of the other key ran %d times, want once", n)
		}
		a.pending(t)
		b.pending(t)
		fn.release <- "v"
		fnOther.release <- "o"
		synctest.Wait()
		ra, rb, ro := a.ok(t), b.ok(t), other.ok(t)
		if ra.v != "v" || rb.v != "v" || !ra.shared || !rb.shared || ro.v != "o" || ro.shared {
			t.Fatalf("results a=%+v b=%+v other=%+v; want a and b equal and shared, other not", ra, rb, ro)
		}
	})
}

// fn's ctx carries the first caller's values, is not cancelled when that
// caller gives up while another waits, and is cancelled once the last
// caller has gone; the next Do then starts a new call.
func TestFlightFnCtxCancelledAfterLastCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var f gate.Flight[string, string]
		fn := newFlightFn()
		type ctxKey struct{}
		ctxA, cancelA := context.WithCancel(context.WithValue(t.Context(), ctxKey{}, "from a"))
		ctxB, cancelB := context.WithCancel(t.Context())
		a := goDo("Do a", ctxA, &f, "k", fn.fn)
		synctest.Wait()
		b := goDo("Do b", ctxB, &f, "k", fn.fn)
		synctest.Wait()
		fctx := <-fn.ctxs
		if fctx.Value(ctxKey{}) != "from a" {
			t.Fatalf("fn's ctx does not carry the first caller's values")
		}
		cancelA()
		synctest.Wait()
		a.failed(t, context.Canceled)
		b.pending(t)
		if fctx.Err() != nil {
			t.Fatalf("fn's ctx cancelled while a caller still waits")
		}
		cancelB()
		synctest.Wait()
		b.failed(t, context.Canceled)
		if fctx.Err() == nil {
			t.Fatalf("fn's ctx not cancelled after every caller left")
		}
		// The old fn still runs; a new Do starts a call of its own.
		fnNew := newFlightFn()
		c := goDo("Do c", t.Context(), &f, "k", fnNew.fn)
		synctest.Wait()
		if n := fnNew.calls.Load(); n != 1 {
			t.Fatalf("fn ran %d times, want a new call after every caller left", n)
		}
		fn.release <- "old"
		synctest.Wait()
		c.pending(t)
		fnNew.release <- "new"
		synctest.Wait()
		if r := c.ok(t); r.v != "new" || r.shared {
			t.Fatalf("c = %+v, want the new call's result, not shared", r)
		}
	})
}

// A caller that gives up does not end the call for the others, and the
// result goes to those still waiting (shared is false with one of them).
func TestFlightCallerLeavesOthersGetResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var f gate.Flight[string, string]
		fn := newFlightFn()
		ctxA, cancelA := context.WithCancel(t.Context())
		a := goDo("Do a", ctxA, &f, "k", fn.fn)
		synctest.Wait()
		b := goDo("Do b", t.Context(), &f, "k", fn.fn)
		synctest.Wait()
		cancelA()
		synctest.Wait()
		a.failed(t, context.Canceled)
		fn.release <- "v"
		synctest.Wait()
		if r := b.ok(t); r.v != "v" || r.shared {
			t.Fatalf("b = %+v, want v, not shared", r)
		}
		if n := fn.calls.Load(); n != 1 {
			t.Fatalf("fn ran %d times", n)
		}
	})
}

// A panic in fn re-panics with its value in every caller that waited, the
// first one included, whether fn ran in its own goroutine or on a caller's.
func TestFlightPanicReachesEveryCaller(t *testing.T) {
	for _, inline := range []bool{false, true} {
		t.Run(fmt.Sprint("inline=", inline), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var f gate.Flight[string, string]
				fn := newFlightFn()
				ctx := t.Context()
				if inline {
					ctx = context.WithoutCancel(ctx) // Done is nil: fn runs on the first caller's goroutine
				}
				var got [3]any
				var wg sync.WaitGroup
				for i := range got {
					wg.Go(func() {
						defer func() { got[i] = recover() }()
						f.Do(ctx, "k", fn.fn)
					})
					synctest.Wait()
				}
				fn.release <- "panic"
				wg.Wait()
				for i, r := range got {
					if err, ok := r.(error); !ok || err.Error() != "fn panicked" {
						t.Fatalf("caller %d: recovered %v, want fn's panic value", i, r)
					}
				}
				if n := fn.calls.Load(); n != 1 {
					t.Fatalf("fn ran %d times", n)
				}
			})
		})
	}
}

// Forget makes the next Do start a new call; the callers of the forgotten
// one still get its result.
func TestFlightForget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var f gate.Flight[string, string]
		fn := newFlightFn()
		a := goDo("Do a", t.Context(), &f, "k", fn.fn)
		synctest.Wait()
		f.Forget("k")
		f.Forget("never used")
		b := goDo("Do b", t.Context(), &f, "k", fn.fn)
		synctest.Wait()
		if n := fn.calls.Load(); n != 2 {
			t.Fatalf("fn ran %d times, want 2 after Forget", n)
		}
		fn.release <- "x"
		synctest.Wait()
		fn.release <- "y"
		synctest.Wait()
		ra, rb := a.ok(t), b.ok(t)
		if ra.v == rb.v || ra.shared || rb.shared {
			t.Fatalf("a=%+v b=%+v, want two separate results", ra, rb)
		}
	})
}

// fn calling runtime.Goexit leaves its callers no result: they panic with a
// gate: message.
func TestFlightGoexit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var f gate.Flight[string, string]
		mustPanic(t, "Do of a fn that calls runtime.Goexit", func() {
			f.Do(t.Context(), "k", func(context.Context) (string, error) {
				runtime.Goexit()
				return "", nil
			})
		})
	})
}

// TestFlightStress calls Do on a few keys from many goroutines under random
// contexts, with Forget now and then: every result returned came from a call
// of fn for its key, and fn never runs more often than Do is called.
func TestFlightStress(t *testing.T) {
	watchdog(t)
	const keys = 3
	goroutines, iters := 8, shortOr(2000, 200)
	seed := logSeed(t)
	var f gate.Flight[int, string]
	var calls, dos atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			for range iters {
				key := r.IntN(keys)
				if r.IntN(50) == 0 {
					f.Forget(key)
					continue
				}
				ctx, cancel := randomCtx(r, context.Background())
				dos.Add(1)
				spin := r.IntN(3)
				v, _, err := f.Do(ctx, key, func(fctx context.Context) (string, error) {
					n := calls.Add(1)
					for range spin {
						runtime.Gosched()
					}
					if n%97 == 0 {
						return "", fmt.Errorf("fail %d", key)
					}
					return fmt.Sprint(key), nil
				})
				cancel()
				switch {
				case err == nil:
					if v != fmt.Sprint(key) {
						t.Errorf("Do(%d) = %q", key, v)
					}
				case isCtxErr(ctx, err):
				case err.Error() != fmt.Sprint("fail ", key):
					t.Errorf("Do(%d) = %v", key, err)
				}
			}
		})
	}
	wg.Wait()
	if calls.Load() > dos.Load() {
		t.Errorf("fn ran %d times for %d Do calls", calls.Load(), dos.Load())
	}
	t.Logf("%d Do calls, %d runs of fn", dos.Load(), calls.Load())
}
