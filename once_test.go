package gate_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/gophergate/gate"
)

// This file tests OnceCell and SetOnce: ports of tokio's
// tests/sync_once_cell.rs and tests/sync_set_once.rs, then one test per rule of
// API.md and of the types' doc comments. "Still blocked" and "woke" are exact
// inside testing/synctest bubbles (see helpers_test.go). The rapid model of
// initialization races is at the end of this file; the race stress tests are
// in stress_test.go.

// ---------------------------------------------------------------------------
// Helpers

// An onceFn is an initializer that the test drives: it records its calls,
// closes started on the first, then waits for the outcome the test sends on
// finish, or for its ctx to end (then GetOrTryInit's form returns ctx.Err()).
type onceFn struct {
	name    string
	started chan struct{}
	finish  chan onceOutcome
	mu      sync.Mutex // guards calls
	calls   int
}

// An onceOutcome is how an onceFn ends: with v, with err, or with a panic.
type onceOutcome struct {
	v      int
	err    error
	panics bool
}

func newOnceFn(name string) *onceFn {
	return &onceFn{name: name, started: make(chan struct{}), finish: make(chan onceOutcome, 1)}
}

// try is the GetOrTryInit form.
func (o *onceFn) try(ctx context.Context) (int, error) {
	o.mu.Lock()
	o.calls++
	if o.calls == 1 {
		close(o.started)
	}
	o.mu.Unlock()
	select {
	case r := <-o.finish:
		if r.panics {
			panic("init " + o.name + " panics")
		}
		return r.v, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// init is the GetOrInit form: an error outcome is a panic.
func (o *onceFn) init(ctx context.Context) int {
	v, err := o.try(ctx)
	if err != nil {
		panic(err)
	}
	return v
}

// ran reports how many times the initializer was called.
func (o *onceFn) ran() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls
}

// running fails the test unless the initializer has started.
func (o *onceFn) running(t *testing.T) {
	t.Helper()
	select {
	case <-o.started:
	default:
		t.Fatalf("initializer %s has not started", o.name)
	}
}

// notRun fails the test if the initializer was called.
func (o *onceFn) notRun(t *testing.T) {
	t.Helper()
	if n := o.ran(); n != 0 {
		t.Fatalf("initializer %s called %d times, want never", o.name, n)
	}
}

// A recoveredPanic is the error goInit reports for a call that panicked.
type recoveredPanic struct{ v any }

func (r *recoveredPanic) Error() string { return fmt.Sprint("panic: ", r.v) }

// goInit calls c.GetOrTryInit(ctx, o.try) (try) or c.GetOrInit(ctx, o.init)
// in a new goroutine, turning a panic into a *recoveredPanic error.
func goInit(ctx context.Context, c *gate.OnceCell[int], o *onceFn, try bool) *async[int] {
	what := "GetOrInit(" + o.name + ")"
	if try {
		what = "GetOrTryInit(" + o.name + ")"
	}
	return goCall(what, func() (v int, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = &recoveredPanic{r}
			}
		}()
		if try {
			return c.GetOrTryInit(ctx, o.try)
		}
		return c.GetOrInit(ctx, o.init)
	})
}

// mustPanicked fails the test unless the call returned a *recoveredPanic.
func mustPanicked(t *testing.T, a *async[int]) {
	t.Helper()
	_, err := a.returned(t)
	var p *recoveredPanic
	if !errors.As(err, &p) {
		t.Fatalf("%s: returned %v, want the initializer's panic", a.what, err)
	}
}

// checkCell fails the test unless c holds want (set) or is empty (!set), with
// its semaphore closed exactly while it is set.
func checkCell(t *testing.T, c *gate.OnceCell[int], want int, set bool) {
	t.Helper()
	v, ok := c.Get()
	if ok != set || v != want || c.Initialized() != set {
		t.Fatalf("Get() = %d, %v; Initialized() = %v; want %d, %v", v, ok, c.Initialized(), want, set)
	}
	if gate.OnceCellClosed(c) != set {
		t.Fatalf("init semaphore closed = %v with the cell set = %v", gate.OnceCellClosed(c), set)
	}
}

// initWaiters fails the test unless n goroutines wait for the running
// initializer of c.
func initWaiters(t *testing.T, c *gate.OnceCell[int], n int) {
	t.Helper()
	if got := gate.OnceCellInitWaiters(c); got != n {
		t.Fatalf("%d goroutines wait for the initializer, want %d", got, n)
	}
}

// ---------------------------------------------------------------------------
// OnceCell: ports of tokio's tests/sync_once_cell.rs. drop_cell and
// drop_cell_new_with test Rust's drop of the value: the garbage collector's
// business in Go.

// drop_into_inner: into_inner moves the value out; Take is the closest call.
func TestOnceCellTakeReturnsValue(t *testing.T) {
	var c gate.OnceCell[string]
	if err := c.Set("value"); err != nil {
		t.Fatal(err)
	}
	if v, ok := c.Take(); !ok || v != "value" {
		t.Fatalf("Take() = %q, %v, want value, true", v, ok)
	}
	if v, ok := c.Take(); ok || v != "" {
		t.Fatalf("second Take() = %q, %v, want \"\", false", v, ok)
	}
}

// drop_into_inner_new_with and from: a cell made with a value (gate has no
// constructor; Set on the zero value is the way) gives it back.
func TestOnceCellFrom(t *testing.T) {
	var c gate.OnceCell[int]
	if err := c.Set(2); err != nil {
		t.Fatal(err)
	}
	if v, ok := c.Get(); !ok || v != 2 {
		t.Fatalf("Get() = %d, %v, want 2, true", v, ok)
	}
	if v, ok := c.Take(); !ok || v != 2 {
		t.Fatalf("Take() = %d, %v, want 2, true", v, ok)
	}
}

// get_or_init: two concurrent initializers; the first runs, the second waits
// and returns the first one's value without running its own.
func TestOnceCellGetOrInit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.OnceCell[int]
		f1, f2 := newOnceFn("5"), newOnceFn("10")
		h1 := goInit(t.Context(), &c, f1, false)
		synctest.Wait()
		f1.running(t)
		h2 := goInit(t.Context(), &c, f2, false)
		synctest.Wait()
		h1.pending(t)
		h2.pending(t)
		initWaiters(t, &c, 1)

		f1.finish <- onceOutcome{v: 5}
		synctest.Wait()
		if v1, v2 := h1.ok(t), h2.ok(t); v1 != 5 || v2 != 5 {
			t.Fatalf("results %d, %d, want 5, 5", v1, v2)
		}
		f2.notRun(t)
		checkCell(t, &c, 5, true)
	})
}

// get_or_init_panic: once the cell is set, a later initializer (one that would
// panic) is never run.
func TestOnceCellGetOrInitPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.OnceCell[int]
		f1 := newOnceFn("5")
		h1 := goInit(t.Context(), &c, f1, false)
		synctest.Wait()
		f1.finish <- onceOutcome{v: 5}
		synctest.Wait()
		if v := h1.ok(t); v != 5 {
			t.Fatalf("first GetOrInit = %d, want 5", v)
		}
		v, err := c.GetOrInit(t.Context(), func(context.Context) int { panic("must not run") })
		if err != nil || v != 5 {
			t.Fatalf("second GetOrInit = %d, %v, want 5, nil", v, err)
		}
	})
}

// set_and_get: a value set by another goroutine is read.
func TestOnceCellSetAndGet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.OnceCell[int]
		h := goErr("Set(5)", func() error { return c.Set(5) })
		synctest.Wait()
		h.ok(t)
		checkCell(t, &c, 5, true)
	})
}

// get_uninit: an empty cell has no value.
func TestOnceCellGetUninit(t *testing.T) {
	var c gate.OnceCell[int]
	checkCell(t, &c, 0, false)
}

// set_twice: the second Set fails and the first value stays.
func TestOnceCellSetTwice(t *testing.T) {
	var c gate.OnceCell[int]
	if err := c.Set(5); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(6); err != gate.ErrAlreadySet {
		t.Fatalf("second Set = %v, want ErrAlreadySet", err)
	}
	checkCell(t, &c, 5, true)
}

// set_while_initializing: Set during a running initializer fails with
// ErrInitializing and the initializer's value wins.
func TestOnceCellSetWhileInitializing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.OnceCell[int]
		f := newOnceFn("5")
		h := goInit(t.Context(), &c, f, false)
		synctest.Wait()
		f.running(t)
		if !gate.OnceCellInitializing(&c) {
			t.Fatal("initializer running but the permit is free")
		}
		if err := c.Set(10); err != gate.ErrInitializing {
			t.Fatalf("Set during init = %v, want ErrInitializing", err)
		}
		checkCell(t, &c, 0, false)
		f.finish <- onceOutcome{v: 5}
		synctest.Wait()
		if v := h.ok(t); v != 5 {
			t.Fatalf("GetOrInit = %d, want 5", v)
		}
		checkCell(t, &c, 5, true)
	})
}

// get_or_try_init: a failing initializer leaves the cell empty and returns
// its error; the waiter behind it runs its own and sets the cell.
func TestOnceCellGetOrTryInit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.OnceCell[int]
		errInit := errors.New("init failed")
		fErr, fOK := newOnceFn("err"), newOnceFn("10")
		h1 := goInit(t.Context(), &c, fErr, true)
		synctest.Wait()
		h2 := goInit(t.Context(), &c, fOK, true)
		synctest.Wait()
		fOK.notRun(t)
		initWaiters(t, &c, 1)

		fErr.finish <- onceOutcome{err: errInit}
		synctest.Wait()
		h1.failed(t, errInit)
		h2.pending(t)
		fOK.running(t)
		checkCell(t, &c, 0, false)

		fOK.finish <- onceOutcome{v: 10}
		synctest.Wait()
		if v := h2.ok(t); v != 10 {
			t.Fatalf("second GetOrTryInit = %d, want 10", v)
		}
		checkCell(t, &c, 10, true)
	})
}

// ---------------------------------------------------------------------------
// OnceCell: the rules of API.md and the doc comments.

func TestOnceCellZeroValue(t *testing.T) {
	var c gate.OnceCell[[]string]
	if v, ok := c.Get(); ok || v != nil || c.Initialized() {
		t.Fatalf("zero OnceCell: Get() = %v, %v; Initialized() = %v", v, ok, c.Initialized())
	}
	if _, ok := c.Take(); ok {
		t.Fatal("Take of a zero OnceCell reported a value")
	}
	v, err := c.GetOrInit(context.Background(), func(context.Context) []string { return []string{"a"} })
	if err != nil || len(v) != 1 || v[0] != "a" {
		t.Fatalf("GetOrInit on a zero OnceCell = %v, %v", v, err)
	}
}

// An initializer that panics leaves the cell empty, its panic goes on to its
// caller, and the oldest waiter runs its own initializer (not a later one).
func TestOnceCellInitPanicPassesTurn(t *testing.T) {
	for _, try := range []bool{false, true} {
		t.Run(fmt.Sprintf("try=%v", try), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var c gate.OnceCell[int]
				f1, f2, f3 := newOnceFn("1"), newOnceFn("2"), newOnceFn("3")
				h1 := goInit(t.Context(), &c, f1, try)
				synctest.Wait()
				h2 := goInit(t.Context(), &c, f2, try)
				synctest.Wait()
				h3 := goInit(t.Context(), &c, f3, !try)
				synctest.Wait()
				initWaiters(t, &c, 2)

				f1.finish <- onceOutcome{panics: true}
				synctest.Wait()
				mustPanicked(t, h1)
				f2.running(t)
				f3.notRun(t)
				h2.pending(t)
				h3.pending(t)
				initWaiters(t, &c, 1)
				checkCell(t, &c, 0, false)

				f2.finish <- onceOutcome{v: 2}
				synctest.Wait()
				if v2, v3 := h2.ok(t), h3.ok(t); v2 != 2 || v3 != 2 {
					t.Fatalf("results %d, %d, want 2, 2", v2, v3)
				}
				f3.notRun(t)
				checkCell(t, &c, 2, true)
			})
		})
	}
}

// Failing initializers pass the turn in FIFO order, one waiter at a time;
// when one succeeds, every waiter left returns its value.
func TestOnceCellInitFailuresFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.OnceCell[int]
		const n = 6
		fs := make([]*onceFn, n)
		hs := make([]*async[int], n)
		for i := range n {
			fs[i] = newOnceFn(fmt.Sprint(i))
			hs[i] = goInit(t.Context(), &c, fs[i], i%2 == 0)
			synctest.Wait()
		}
		initWaiters(t, &c, n-1)
		errFail := errors.New("fail")
		for i := range 3 {
			fs[i].running(t)
			for j := i + 1; j < n; j++ {
				fs[j].notRun(t)
			}
			if i%2 == 0 {
				fs[i].finish <- onceOutcome{err: errFail}
			} else {
				fs[i].finish <- onceOutcome{panics: true}
			}
			synctest.Wait()
			if i%2 == 0 {
				hs[i].failed(t, errFail)
			} else {
				mustPanicked(t, hs[i])
			}
			initWaiters(t, &c, n-2-i)
		}
		fs[3].running(t)
		fs[3].finish <- onceOutcome{v: 33}
		synctest.Wait()
		for i := 3; i < n; i++ {
			if v := hs[i].ok(t); v != 33 {
				t.Fatalf("waiter %d returned %d, want 33", i, v)
			}
		}
		for i := 4; i < n; i++ {
			fs[i].notRun(t)
		}
		initWaiters(t, &c, 0)
		checkCell(t, &c, 33, true)
	})
}

// An initializer that ends its goroutine (runtime.Goexit, as t.FailNow does)
// also releases the permit to the next waiter.
func TestOnceCellInitGoexitPassesTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.OnceCell[int]
		exited := make(chan struct{})
		go func() {
			defer close(exited)
			_, _ = c.GetOrInit(t.Context(), func(context.Context) int {
				runtime.Goexit()
				return 1
			})
		}()
		<-exited
		checkCell(t, &c, 0, false)
		v, err := c.GetOrInit(t.Context(), func(context.Context) int { return 2 })
		if err != nil || v != 2 {
			t.Fatalf("GetOrInit after a Goexit in the initializer = %d, %v, want 2", v, err)
		}
	})
}

// A done ctx fails GetOrInit, GetOrTryInit and Wait first, even on a set cell:
// ctx.Err() unwrapped, the initializer not called, nothing changed (API.md,
// Context). Get reads the set cell whatever the ctx.
func TestOnceCellDoneCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := doneCtx(t.Context())
		never := func(context.Context) int { panic("initializer called with a done ctx") }
		neverTry := func(context.Context) (int, error) { panic("initializer called with a done ctx") }
		var c gate.OnceCell[int]
		for _, set := range []bool{false, true} {
			if set {
				_ = c.Set(7)
			}
			if _, err := c.GetOrInit(ctx, never); err != context.Canceled {
				t.Fatalf("set=%v: GetOrInit with a done ctx = %v, want context.Canceled", set, err)
			}
			if _, err := c.GetOrTryInit(ctx, neverTry); err != context.Canceled {
				t.Fatalf("set=%v: GetOrTryInit with a done ctx = %v, want context.Canceled", set, err)
			}
			if _, err := c.Wait(ctx); err != context.Canceled {
				t.Fatalf("set=%v: Wait with a done ctx = %v, want context.Canceled", set, err)
			}
			if set {
				checkCell(t, &c, 7, true)
			} else {
				checkCell(t, &c, 0, false)
			}
			if gate.OnceCellInitWaiters(&c) != 0 || gate.OnceCellWaiters(&c) != 0 {
				t.Fatal("a call with a done ctx left a waiter behind")
			}
		}
		// A deadline that passes: DeadlineExceeded, unwrapped.
		var e gate.OnceCell[int]
		f := newOnceFn("hold")
		h := goInit(t.Context(), &e, f, false)
		synctest.Wait()
		dctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		w := goCall("GetOrInit(deadline)", func() (int, error) { return e.GetOrInit(dctx, never) })
		synctest.Wait()
		w.pending(t)
		time.Sleep(time.Hour)
		synctest.Wait()
		w.failed(t, context.DeadlineExceeded)
		initWaiters(t, &e, 0)
		f.finish <- onceOutcome{v: 1}
		synctest.Wait()
		h.ok(t)
	})
}

// A waiter whose ctx ends leaves the queue without calling its initializer;
// the running one and the waiters behind it are not disturbed.
func TestOnceCellCancelQueuedInit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.OnceCell[int]
		f1, f2, f3 := newOnceFn("1"), newOnceFn("2"), newOnceFn("3")
		h1 := goInit(t.Context(), &c, f1, false)
		synctest.Wait()
		ctx2, cancel2 := context.WithCancel(t.Context())
		h2 := goInit(ctx2, &c, f2, true)
		synctest.Wait()
		h3 := goInit(t.Context(), &c, f3, true)
		synctest.Wait()
		initWaiters(t, &c, 2)

		cancel2()
		synctest.Wait()
		h2.failed(t, context.Canceled)
		initWaiters(t, &c, 1)
		f2.notRun(t)

		// The next failure goes to h3, not to the cancelled h2.
		f1.finish <- onceOutcome{panics: true}
		synctest.Wait()
		mustPanicked(t, h1)
		f3.running(t)
		f3.finish <- onceOutcome{v: 3}
		synctest.Wait()
		if v := h3.ok(t); v != 3 {
			t.Fatalf("GetOrTryInit = %d, want 3", v)
		}
		f2.notRun(t)
	})
}

// A waiter whose turn comes (the running initializer failed) as its ctx ends
// does not run its initializer with a done ctx: it returns ctx.Err() and the
// turn goes on to the next waiter. Nothing is lost. In grantFirst the failed
// initializer's goroutine cancels the waiter's ctx right after its release
// handed the permit over; with one P the waiter runs only after that, and
// finds both its grant and its ctx done.
func TestOnceCellCancelAsTurnComes(t *testing.T) {
	oneProc(t)
	for _, grantFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("grantFirst=%v", grantFirst), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var c gate.OnceCell[int]
				f1, f2, f3 := newOnceFn("1"), newOnceFn("2"), newOnceFn("3")
				ctx2, cancel2 := context.WithCancel(t.Context())
				h1 := goCall("GetOrTryInit(1)", func() (int, error) {
					v, err := c.GetOrTryInit(t.Context(), f1.try)
					if grantFirst {
						cancel2()
					}
					return v, err
				})
				synctest.Wait()
				h2 := goInit(ctx2, &c, f2, true)
				synctest.Wait()
				h3 := goInit(t.Context(), &c, f3, true)
				synctest.Wait()

				errFail := errors.New("fail")
				if !grantFirst {
					cancel2()
				}
				f1.finish <- onceOutcome{err: errFail}
				synctest.Wait()
				h1.failed(t, errFail)
				h2.failed(t, context.Canceled)
				f2.notRun(t)
				f3.running(t)
				f3.finish <- onceOutcome{v: 3}
				synctest.Wait()
				if v := h3.ok(t); v != 3 {
					t.Fatalf("GetOrTryInit = %d, want 3", v)
				}
			})
		})
	}
}

// The initializer receives the caller's ctx. If its ctx ends while it runs, a
// GetOrTryInit initializer may return ctx.Err() (the cell stays empty and the
// next waiter runs), and a value it returns anyway is stored.
func TestOnceCellInitCtx(t *testing.T) {
	type key struct{}
	synctest.Test(t, func(t *testing.T) {
		var c gate.OnceCell[int]
		ctx := context.WithValue(t.Context(), key{}, 99)
		v, err := c.GetOrInit(ctx, func(ctx context.Context) int { return ctx.Value(key{}).(int) })
		if err != nil || v != 99 {
			t.Fatalf("GetOrInit = %d, %v, want the value from the caller's ctx", v, err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		var c gate.OnceCell[int]
		ctx1, cancel1 := context.WithCancel(t.Context())
		f1, f2 := newOnceFn("1"), newOnceFn("2")
		h1 := goInit(ctx1, &c, f1, true) // returns ctx.Err() when ctx1 ends
		synctest.Wait()
		h2 := goInit(t.Context(), &c, f2, true)
		synctest.Wait()
		cancel1()
		synctest.Wait()
		h1.failed(t, context.Canceled)
		checkCell(t, &c, 0, false)
		f2.running(t)
		f2.finish <- onceOutcome{v: 2}
		synctest.Wait()
		h2.ok(t)
	})
	synctest.Test(t, func(t *testing.T) {
		var c gate.OnceCell[int]
		ctx, cancel := context.WithCancel(t.Context())
		release := make(chan struct{})
		h := goCall("GetOrInit(ignores ctx)", func() (int, error) {
			return c.GetOrInit(ctx, func(context.Context) int {
				<-release
				return 5
			})
		})
		synctest.Wait()
		cancel()
		close(release)
		synctest.Wait()
		if v := h.ok(t); v != 5 {
			t.Fatalf("GetOrInit = %d, want 5 (the value came after ctx ended, but came)", v)
		}
		checkCell(t, &c, 5, true)
	})
}

// Set never waits: ErrInitializing while an initializer runs or waiters are
// queued (no barging past them), ErrAlreadySet once set.
func TestOnceCellSetNeverBarges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.OnceCell[int]
		f1, f2 := newOnceFn("1"), newOnceFn("2")
		h1 := goInit(t.Context(), &c, f1, true)
		synctest.Wait()
		h2 := goInit(t.Context(), &c, f2, true)
		synctest.Wait()
		f1.finish <- onceOutcome{err: errors.New("fail")}
		synctest.Wait()
		_, _ = h1.returned(t)
		// f2 runs now: the permit went straight to it.
		if err := c.Set(1); err != gate.ErrInitializing {
			t.Fatalf("Set while the next waiter initializes = %v, want ErrInitializing", err)
		}
		f2.finish <- onceOutcome{v: 2}
		synctest.Wait()
		h2.ok(t)
		if err := c.Set(1); err != gate.ErrAlreadySet {
			t.Fatalf("Set on a set cell = %v, want ErrAlreadySet", err)
		}
		checkCell(t, &c, 2, true)
	})
}

// Initializers and Set called from inside an initializer: Set returns
// ErrInitializing, a nested GetOrInit waits for itself until its ctx ends.
func TestOnceCellReentrantInit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.OnceCell[int]
		v, err := c.GetOrInit(t.Context(), func(ctx context.Context) int {
			if err := c.Set(1); err != gate.ErrInitializing {
				t.Errorf("Set from the initializer = %v, want ErrInitializing", err)
			}
			short, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			if _, err := c.GetOrInit(short, func(context.Context) int { return 3 }); err != context.DeadlineExceeded {
				t.Errorf("nested GetOrInit = %v, want DeadlineExceeded", err)
			}
			return 2
		})
		if err != nil || v != 2 {
			t.Fatalf("GetOrInit = %d, %v, want 2", v, err)
		}
	})
}

// Wait waits for a value without initializing: a failed initializer does not
// wake it, a successful one or a Set does. It does not hold the permit, so
// Set and initializers go ahead while it waits.
func TestOnceCellWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.OnceCell[int]
		w1 := goCall("Wait 1", func() (int, error) { return c.Wait(t.Context()) })
		synctest.Wait()
		w1.pending(t)
		if n := gate.OnceCellWaiters(&c); n != 1 {
			t.Fatalf("%d goroutines in Wait, want 1", n)
		}
		if gate.OnceCellInitializing(&c) {
			t.Fatal("Wait holds the initialization permit")
		}
		// A failed initializer: Wait goes on waiting.
		if _, err := c.GetOrTryInit(t.Context(), func(context.Context) (int, error) { return 0, errors.New("no") }); err == nil {
			t.Fatal("failing initializer succeeded")
		}
		synctest.Wait()
		w1.pending(t)
		// A successful initializer wakes it.
		f := newOnceFn("4")
		h := goInit(t.Context(), &c, f, false)
		synctest.Wait()
		w1.pending(t)
		f.finish <- onceOutcome{v: 4}
		synctest.Wait()
		h.ok(t)
		if v := w1.ok(t); v != 4 {
			t.Fatalf("Wait = %d, want 4", v)
		}
		// On a set cell Wait returns at once.
		if v, err := c.Wait(t.Context()); err != nil || v != 4 {
			t.Fatalf("Wait on a set cell = %d, %v", v, err)
		}
		// After Take it waits again, for the next Set.
		c.Take()
		w2 := goCall("Wait 2", func() (int, error) { return c.Wait(t.Context()) })
		synctest.Wait()
		w2.pending(t)
		if err := c.Set(8); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if v := w2.ok(t); v != 8 {
			t.Fatalf("Wait = %d, want 8", v)
		}
		if n := gate.OnceCellWaiters(&c); n != 0 {
			t.Fatalf("%d goroutines left in Wait", n)
		}
	})
}

// A Wait whose ctx ends returns ctx.Err() and leaves the queue; the others
// stay and get the value.
func TestOnceCellWaitCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.OnceCell[int]
		ctx, cancel := context.WithCancel(t.Context())
		w1 := goCall("Wait 1", func() (int, error) { return c.Wait(ctx) })
		w2 := goCall("Wait 2", func() (int, error) { return c.Wait(t.Context()) })
		synctest.Wait()
		cancel()
		synctest.Wait()
		w1.failed(t, context.Canceled)
		w2.pending(t)
		if n := gate.OnceCellWaiters(&c); n != 1 {
			t.Fatalf("%d goroutines in Wait, want 1", n)
		}
		_ = c.Set(3)
		synctest.Wait()
		if v := w2.ok(t); v != 3 {
			t.Fatalf("Wait = %d, want 3", v)
		}
	})
}

// A value set as a Wait's ctx ends: Wait returns the value (it came first).
func TestOnceCellWaitValueBeforeCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.OnceCell[int]
		ctx, cancel := context.WithCancel(t.Context())
		w := goCall("Wait", func() (int, error) { return c.Wait(ctx) })
		synctest.Wait()
		_ = c.Set(6)
		cancel()
		synctest.Wait()
		if v := w.ok(t); v != 6 {
			t.Fatalf("Wait = %d, want 6", v)
		}
	})
}

// Take empties a set cell, which can then be set or initialized again: the
// semaphore is open again with its permit free.
func TestOnceCellTakeReopens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.OnceCell[int]
		ctx := t.Context()
		if v, _ := c.GetOrInit(ctx, func(context.Context) int { return 1 }); v != 1 {
			t.Fatalf("GetOrInit = %d, want 1", v)
		}
		if v, ok := c.Take(); !ok || v != 1 {
			t.Fatalf("Take = %d, %v, want 1, true", v, ok)
		}
		checkCell(t, &c, 0, false)
		if gate.OnceCellInitializing(&c) {
			t.Fatal("permit not free after Take")
		}
		if v, _ := c.GetOrInit(ctx, func(context.Context) int { return 2 }); v != 2 {
			t.Fatalf("GetOrInit after Take = %d, want 2 (its own initializer)", v)
		}
		c.Take()
		if err := c.Set(3); err != nil {
			t.Fatalf("Set after Take = %v", err)
		}
		checkCell(t, &c, 3, true)
		// Waiters queued behind an initializer in the next round are served
		// as in the first.
		c.Take()
		f1, f2 := newOnceFn("4"), newOnceFn("5")
		h1 := goInit(ctx, &c, f1, false)
		synctest.Wait()
		h2 := goInit(ctx, &c, f2, false)
		synctest.Wait()
		initWaiters(t, &c, 1)
		f1.finish <- onceOutcome{v: 4}
		synctest.Wait()
		if v1, v2 := h1.ok(t), h2.ok(t); v1 != 4 || v2 != 4 {
			t.Fatalf("results %d, %d, want 4, 4", v1, v2)
		}
	})
}

// Take during an initialization finds the cell empty and does not disturb the
// initializer.
func TestOnceCellTakeDuringInit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.OnceCell[int]
		f := newOnceFn("1")
		h := goInit(t.Context(), &c, f, false)
		synctest.Wait()
		if _, ok := c.Take(); ok {
			t.Fatal("Take during init reported a value")
		}
		if !gate.OnceCellInitializing(&c) {
			t.Fatal("Take during init freed the permit")
		}
		f.finish <- onceOutcome{v: 1}
		synctest.Wait()
		h.ok(t)
		checkCell(t, &c, 1, true)
	})
}

// onceCellPkg is a package-level OnceCell: API.md's Testing rule says it works
// in one bubble after another and outside them.
var onceCellPkg gate.OnceCell[int]

func TestOnceCellAcrossBubbles(t *testing.T) {
	for round := range 3 {
		synctest.Test(t, func(t *testing.T) {
			f1, f2 := newOnceFn("1"), newOnceFn("2")
			h1 := goInit(t.Context(), &onceCellPkg, f1, true)
			synctest.Wait()
			h2 := goInit(t.Context(), &onceCellPkg, f2, true)
			w := goCall("Wait", func() (int, error) { return onceCellPkg.Wait(t.Context()) })
			synctest.Wait()
			f1.finish <- onceOutcome{err: errors.New("fail")}
			synctest.Wait()
			_, _ = h1.returned(t)
			f2.finish <- onceOutcome{v: round}
			synctest.Wait()
			if v := h2.ok(t); v != round {
				t.Fatalf("round %d: GetOrTryInit = %d", round, v)
			}
			if v := w.ok(t); v != round {
				t.Fatalf("round %d: Wait = %d", round, v)
			}
			if v, ok := onceCellPkg.Take(); !ok || v != round {
				t.Fatalf("round %d: Take = %d, %v", round, v, ok)
			}
		})
		// And outside any bubble, between the rounds.
		watchdog(t)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if v, err := onceCellPkg.Wait(context.Background()); err != nil || v != -1 {
				t.Errorf("Wait outside a bubble = %d, %v", v, err)
			}
		}()
		if v, err := onceCellPkg.GetOrInit(context.Background(), func(context.Context) int { return -1 }); err != nil || v != -1 {
			t.Fatalf("GetOrInit outside a bubble = %d, %v", v, err)
		}
		<-done
		onceCellPkg.Take()
	}
}

// The read paths on a set cell allocate nothing.
func TestOnceCellAllocs(t *testing.T) {
	var c gate.OnceCell[string]
	ctx := context.Background()
	init := func(context.Context) string { return "x" }
	_, _ = c.GetOrInit(ctx, init)
	for name, f := range map[string]func(){
		"Get":         func() { c.Get() },
		"Initialized": func() { c.Initialized() },
		"GetOrInit":   func() { _, _ = c.GetOrInit(ctx, init) },
		"Wait":        func() { _, _ = c.Wait(ctx) },
		"Set (set)":   func() { _ = c.Set("y") },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s on a set OnceCell: %v allocs, want 0", name, n)
		}
	}
}

// ---------------------------------------------------------------------------
// SetOnce: ports of tokio's tests/sync_set_once.rs. drop_cell and
// drop_cell_new_with are the garbage collector's business, and into_inner
// (drop_into_inner, drop_into_inner_new_with, into_inner_int_empty_setonce)
// has no counterpart: Get reads the value.

// from / set_and_get: a value set by another goroutine is read.
func TestSetOnceSetAndGet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.SetOnce[int]
		h := goErr("Set(5)", func() error { return c.Set(5) })
		synctest.Wait()
		h.ok(t)
		if v, ok := c.Get(); !ok || v != 5 || !c.Initialized() {
			t.Fatalf("Get() = %d, %v, want 5, true", v, ok)
		}
	})
}

// set_and_wait: Wait returns the value set by another goroutine.
func TestSetOnceSetAndWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.SetOnce[int]
		w := goCall("Wait", func() (int, error) { return c.Wait(t.Context()) })
		synctest.Wait()
		w.pending(t)
		if n := gate.SetOnceWaiters(&c); n != 1 {
			t.Fatalf("%d goroutines in Wait, want 1", n)
		}
		h := goErr("Set(5)", func() error { return c.Set(5) })
		synctest.Wait()
		h.ok(t)
		if v := w.ok(t); v != 5 {
			t.Fatalf("Wait = %d, want 5", v)
		}
	})
}

// set_and_wait_multiple_threads: two goroutines set at once; exactly one
// succeeds, and the value is the winner's.
func TestSetOnceSetAndWaitMultipleThreads(t *testing.T) {
	watchdog(t)
	for range 200 {
		var c gate.SetOnce[int]
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() { errs[i] = c.Set(i + 10) })
		}
		w, err := c.Wait(context.Background())
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("Set results %v, %v: want exactly one nil", errs[0], errs[1])
		}
		winner := 10
		if errs[1] == nil {
			winner = 11
		}
		for _, err := range errs {
			if err != nil && err != gate.ErrAlreadySet {
				t.Fatalf("losing Set = %v, want ErrAlreadySet", err)
			}
		}
		if v, _ := c.Get(); v != winner || w != winner {
			t.Fatalf("Get = %d, Wait = %d, want the winner's %d", v, w, winner)
		}
	}
}

// set_and_wait_threads: Wait in one goroutine, Set from another outside any
// bubble.
func TestSetOnceSetAndWaitThreads(t *testing.T) {
	watchdog(t)
	var c gate.SetOnce[int]
	w := goCall("Wait", func() (int, error) { return c.Wait(context.Background()) })
	go func() { _ = c.Set(4) }()
	if v, err := w.wait(t); err != nil || v != 4 {
		t.Fatalf("Wait = %d, %v, want 4", v, err)
	}
}

// get_uninit.
func TestSetOnceGetUninit(t *testing.T) {
	var c gate.SetOnce[int]
	if v, ok := c.Get(); ok || v != 0 || c.Initialized() {
		t.Fatalf("Get() = %d, %v on an empty SetOnce", v, ok)
	}
}

// set_twice.
func TestSetOnceSetTwice(t *testing.T) {
	var c gate.SetOnce[int]
	if err := c.Set(5); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(6); err != gate.ErrAlreadySet {
		t.Fatalf("second Set = %v, want ErrAlreadySet", err)
	}
	if v, _ := c.Get(); v != 5 {
		t.Fatalf("Get = %d, want 5", v)
	}
}

// is_none_initializing: nothing before Set, and a second Set fails.
func TestSetOnceIsNoneInitializing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.SetOnce[int]
		if _, ok := c.Get(); ok {
			t.Fatal("value before Set")
		}
		h := goErr("Set(20)", func() error { return c.Set(20) })
		synctest.Wait()
		h.ok(t)
		if err := c.Set(30); err != gate.ErrAlreadySet {
			t.Fatalf("second Set = %v", err)
		}
	})
}

// is_some_initializing: Wait after a concurrent Set returns its value.
func TestSetOnceIsSomeInitializing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.SetOnce[int]
		go func() { _ = c.Set(20) }()
		if v, err := c.Wait(t.Context()); err != nil || v != 20 {
			t.Fatalf("Wait = %d, %v, want 20", v, err)
		}
	})
}

// ---------------------------------------------------------------------------
// SetOnce: the rules of API.md and the doc comments.

func TestSetOnceZeroValue(t *testing.T) {
	var c gate.SetOnce[map[string]int]
	if v, ok := c.Get(); ok || v != nil {
		t.Fatal("zero SetOnce holds a value")
	}
	select {
	case <-c.Done():
		t.Fatal("Done of a zero SetOnce is closed")
	default:
	}
	if err := c.Set(map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	if v, _ := c.Get(); v["a"] != 1 {
		t.Fatal("value lost")
	}
}

// A done ctx fails Wait first, even on a set SetOnce.
func TestSetOnceDoneCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.SetOnce[int]
		ctx := doneCtx(t.Context())
		if _, err := c.Wait(ctx); err != context.Canceled {
			t.Fatalf("Wait with a done ctx = %v", err)
		}
		_ = c.Set(1)
		if _, err := c.Wait(ctx); err != context.Canceled {
			t.Fatalf("Wait on a set SetOnce with a done ctx = %v", err)
		}
		if gate.SetOnceWaiters(&c) != 0 {
			t.Fatal("waiter left behind")
		}
	})
}

// A Wait whose ctx ends leaves the queue; one whose value came as its ctx
// ended returns the value.
func TestSetOnceWaitCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.SetOnce[int]
		ctx1, cancel1 := context.WithCancel(t.Context())
		dctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		ctx3, cancel3 := context.WithCancel(t.Context())
		w1 := goCall("Wait 1", func() (int, error) { return c.Wait(ctx1) })
		w2 := goCall("Wait 2", func() (int, error) { return c.Wait(dctx) })
		w3 := goCall("Wait 3", func() (int, error) { return c.Wait(ctx3) })
		synctest.Wait()
		cancel1()
		synctest.Wait()
		w1.failed(t, context.Canceled)
		time.Sleep(time.Minute)
		synctest.Wait()
		w2.failed(t, context.DeadlineExceeded)
		if n := gate.SetOnceWaiters(&c); n != 1 {
			t.Fatalf("%d waiters, want 1", n)
		}
		_ = c.Set(9)
		cancel3()
		synctest.Wait()
		if v := w3.ok(t); v != 9 {
			t.Fatalf("Wait = %d, want 9", v)
		}
	})
}

// Done: the same open channel before Set, closed by Set, and receivable at
// once after it; a select on it sits beside ctx.Done() (API.md, Select).
func TestSetOnceDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c gate.SetOnce[string]
		d1, d2 := c.Done(), c.Done()
		if d1 != d2 {
			t.Fatal("two calls of Done before Set returned different channels")
		}
		got := goCall("select", func() (string, error) {
			select {
			case <-c.Done():
				v, ok := c.Get()
				if !ok {
					return "", errors.New("Done closed before the value was visible")
				}
				return v, nil
			case <-t.Context().Done():
				return "", t.Context().Err()
			}
		})
		synctest.Wait()
		got.pending(t)
		_ = c.Set("v")
		synctest.Wait()
		if v := got.ok(t); v != "v" {
			t.Fatalf("select got %q", v)
		}
		select {
		case <-d1:
		default:
			t.Fatal("Done's channel not closed by Set")
		}
		select {
		case <-c.Done():
		default:
			t.Fatal("Done after Set not receivable")
		}
	})
}

// setOncePkg is a SetOnce made outside any bubble, as a package-level one is
// (a new one per run, since it cannot be emptied): Wait works in one bubble
// after another, and Done after Set works in any bubble.
var setOncePkg *gate.SetOnce[int]

func TestSetOnceAcrossBubbles(t *testing.T) {
	setOncePkg = new(gate.SetOnce[int])
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		w := goCall("Wait", func() (int, error) { return setOncePkg.Wait(ctx) })
		synctest.Wait()
		cancel()
		synctest.Wait()
		w.failed(t, context.Canceled)
	})
	synctest.Test(t, func(t *testing.T) {
		w := goCall("Wait", func() (int, error) { return setOncePkg.Wait(t.Context()) })
		synctest.Wait()
		w.pending(t)
		_ = setOncePkg.Set(1)
		synctest.Wait()
		w.ok(t)
		<-setOncePkg.Done()
	})
	synctest.Test(t, func(t *testing.T) {
		<-setOncePkg.Done()
		if v, err := setOncePkg.Wait(t.Context()); err != nil || v != 1 {
			t.Fatalf("Wait = %d, %v", v, err)
		}
	})
	<-setOncePkg.Done()
}

// Get, Wait on a set value, and Done allocate nothing; Done allocates only on
// its first call before Set.
func TestSetOnceAllocs(t *testing.T) {
	var c gate.SetOnce[string]
	ctx := context.Background()
	c.Done()
	if n := testing.AllocsPerRun(100, func() { c.Done() }); n != 0 {
		t.Errorf("Done before Set (after the first): %v allocs", n)
	}
	_ = c.Set("x")
	for name, f := range map[string]func(){
		"Get":         func() { c.Get() },
		"Initialized": func() { c.Initialized() },
		"Wait":        func() { _, _ = c.Wait(ctx) },
		"Done":        func() { <-c.Done() },
		"Set (set)":   func() { _ = c.Set("y") },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s on a set SetOnce: %v allocs, want 0", name, n)
		}
	}
	var e gate.SetOnce[string]
	_ = e.Set("x")
	if n := testing.AllocsPerRun(100, func() { <-e.Done() }); n != 0 {
		t.Errorf("Done first called after Set: %v allocs, want 0", n)
	}
}

// ---------------------------------------------------------------------------
// A rapid model of OnceCell's initialization races (TESTING.md layer 2).
//
// Each action starts at most one goroutine (GetOrInit, GetOrTryInit or Wait,
// with a driven onceFn as initializer) or acts on the cell from the test
// goroutine (finish the running initializer with a value, an error or a
// panic; cancel a call's ctx; Set; Take); the "" check then calls
// synctest.Wait and compares what can be observed with a sequential model:
//
//   - a call with a done ctx returns ctx.Err() at once and changes nothing;
//   - on a set cell GetOrInit, GetOrTryInit and Wait return the value;
//   - on an empty cell the first initializer runs; later ones queue (FIFO);
//     Wait waits apart and holds no turn;
//   - an initializer that succeeds sets the cell: it, every queued
//     initializer and every Wait return its value;
//   - one that fails (an error, a panic, or its ctx ends and it gives up)
//     leaves the cell empty, and the oldest queued initializer runs its own;
//   - a queued call whose ctx ends leaves the queue; when that happens in the
//     same step as the running initializer ends, it still leaves with ctx.Err()
//     and never runs its initializer (the turn goes on);
//   - Set fails with ErrAlreadySet on a set cell and ErrInitializing while an
//     initializer runs; Take empties a set cell, which can then be set or
//     initialized again.

// onceModel is the sequential model of a OnceCell[int].
type onceModel struct {
	value   int
	set     bool
	runner  int            // the call whose initializer runs, 0 if none
	kinds   map[int]string // "init", "try" or "wait", by call
	queue   []int          // initializers waiting for their turn, oldest first
	waiters map[int]bool   // calls in Wait
	called  map[int]bool   // calls whose initializer has been called
	done    map[int]string // how calls returned
}

// publish sets the cell to v: every queued initializer and Wait returns v.
func (m *onceModel) publish(v int) {
	m.value, m.set = v, true
	res := fmt.Sprint("value ", v)
	for _, id := range m.queue {
		m.done[id] = res
	}
	for id := range m.waiters {
		m.done[id] = res
	}
	m.queue, m.waiters = nil, map[int]bool{}
}

// nextTurn gives the turn to the oldest queued initializer, if any.
func (m *onceModel) nextTurn() {
	m.runner = 0
	if len(m.queue) > 0 {
		m.runner = m.queue[0]
		m.queue = m.queue[1:]
		m.called[m.runner] = true
	}
}

// leave models the end of call id's ctx.
func (m *onceModel) leave(id int) {
	if m.waiters[id] {
		delete(m.waiters, id)
		m.done[id] = "canceled"
		return
	}
	for i, q := range m.queue {
		if q == id {
			m.queue = slices.Delete(m.queue, i, i+1)
			m.done[id] = "canceled"
			return
		}
	}
	if m.runner == id {
		// The initializer gives up: GetOrTryInit's returns ctx.Err(), which
		// the call returns; GetOrInit's has no error to return and panics.
		if m.kinds[id] == "try" {
			m.done[id] = "canceled"
		} else {
			m.done[id] = "panic"
		}
		m.nextTurn()
	}
}

// onceObs is what the check compares.
type onceObs struct {
	Value        int
	Set          bool
	Closed       bool // the init semaphore; must equal Set
	Initializing bool
	InitWaiters  int
	Waiters      int
	Called       map[int]bool
	Done         map[int]string
}

func (m *onceModel) obs() onceObs {
	return onceObs{
		Value: m.value, Set: m.set, Closed: m.set,
		Initializing: m.runner != 0,
		InitWaiters:  len(m.queue),
		Waiters:      len(m.waiters),
		Called:       maps.Clone(m.called),
		Done:         maps.Clone(m.done),
	}
}

// onceCellMachine drives a real OnceCell next to its model.
type onceCellMachine struct {
	c      *gate.OnceCell[int]
	m      onceModel
	nextID int
	fns    map[int]*onceFn
	calls  modelCalls[int] // a returned call's ctx is dropped from calls.cancels
	done   map[int]string
}

var errModelInit = errors.New("model: initializer failed")

// onceResult classifies how a call returned.
func onceResult(v int, err error) string {
	var p *recoveredPanic
	switch {
	case err == nil:
		return fmt.Sprint("value ", v)
	case err == context.Canceled:
		return "canceled"
	case err == errModelInit:
		return "error"
	case errors.As(err, &p):
		return "panic"
	default:
		return fmt.Sprintf("unexpected error %T %v", err, err)
	}
}

func (om *onceCellMachine) check(rt *rapid.T) {
	for id, r := range om.calls.returned() {
		delete(om.calls.cancels, id)
		om.done[id] = onceResult(r.v, r.err)
	}
	v, set := om.c.Get()
	got := onceObs{
		Value: v, Set: set, Closed: gate.OnceCellClosed(om.c),
		Initializing: gate.OnceCellInitializing(om.c),
		InitWaiters:  gate.OnceCellInitWaiters(om.c),
		Waiters:      gate.OnceCellWaiters(om.c),
		Called:       map[int]bool{},
		Done:         maps.Clone(om.done),
	}
	for id, f := range om.fns {
		switch n := f.ran(); n {
		case 0:
		case 1:
			got.Called[id] = true
		default:
			rt.Fatalf("initializer of call %d called %d times", id, n)
		}
	}
	if got.Set != om.c.Initialized() {
		rt.Fatalf("Get reports set = %v, Initialized = %v", got.Set, om.c.Initialized())
	}
	if diff := cmp.Diff(om.m.obs(), got); diff != "" {
		rt.Fatalf("OnceCell differs from the model (-model +real):\n%s", diff)
	}
}

// start starts GetOrInit, GetOrTryInit or Wait in a goroutine.
func (om *onceCellMachine) start(rt *rapid.T) {
	kind := rapid.SampledFrom([]string{"init", "try", "wait"}).Draw(rt, "kind")
	precancelled := drawPrecancelled(rt)
	om.nextID++
	id := om.nextID
	ctx := om.calls.ctx(id, precancelled)
	om.m.kinds[id] = kind
	if kind == "wait" {
		om.calls.start(id, goCall("Wait", func() (int, error) { return om.c.Wait(ctx) }))
	} else {
		f := newOnceFn(fmt.Sprint(id))
		om.fns[id] = f
		om.calls.start(id, goInit(ctx, om.c, f, kind == "try"))
	}

	m := &om.m
	switch {
	case precancelled:
		m.done[id] = "canceled"
	case m.set:
		m.done[id] = fmt.Sprint("value ", m.value)
	case kind == "wait":
		m.waiters[id] = true
	case m.runner == 0:
		m.runner = id
		m.called[id] = true
	default:
		m.queue = append(m.queue, id)
	}
}

// finish ends the running initializer with a value, an error (GetOrTryInit)
// or a panic, and in raceCancel also cancels a queued initializer's ctx in
// the same step.
func (om *onceCellMachine) finish(rt *rapid.T, raceCancel bool) {
	m := &om.m
	id := m.runner
	if id == 0 {
		return
	}
	outcomes := []string{"value", "panic"}
	if m.kinds[id] == "try" {
		outcomes = append(outcomes, "error")
	}
	outcome := rapid.SampledFrom(outcomes).Draw(rt, "outcome")
	victim := 0
	if raceCancel && len(m.queue) > 0 {
		victim = rapid.SampledFrom(m.queue).Draw(rt, "victim")
	}
	cancelFirst := rapid.Bool().Draw(rt, "cancelFirst")
	if victim != 0 && cancelFirst {
		om.calls.cancels[victim]()
	}
	v := 100 + id
	switch outcome {
	case "value":
		om.fns[id].finish <- onceOutcome{v: v}
	case "panic":
		om.fns[id].finish <- onceOutcome{panics: true}
	case "error":
		om.fns[id].finish <- onceOutcome{err: errModelInit}
	}
	if victim != 0 && !cancelFirst {
		om.calls.cancels[victim]()
	}
	if victim != 0 {
		delete(om.calls.cancels, victim)
		m.leave(victim)
	}
	if outcome == "value" {
		m.done[id] = fmt.Sprint("value ", v)
		m.publish(v)
		m.runner = 0
	} else {
		m.done[id] = outcome
		m.nextTurn()
	}
}

// cancel ends the ctx of a pending call: a waiter leaves, a running
// initializer gives up.
func (om *onceCellMachine) cancel(rt *rapid.T) {
	cancelPicked(rt, &om.calls, "call", func(id int) { om.m.leave(id) })
}

func (om *onceCellMachine) set(rt *rapid.T) {
	om.nextID++
	v := 100 + om.nextID
	err := om.c.Set(v)
	m := &om.m
	var want error
	switch {
	case m.set:
		want = gate.ErrAlreadySet
	case m.runner != 0:
		want = gate.ErrInitializing
	default:
		m.publish(v)
	}
	if err != want {
		rt.Fatalf("Set(%d) = %v, model: %v", v, err, want)
	}
}

func (om *onceCellMachine) take(rt *rapid.T) {
	v, ok := om.c.Take()
	m := &om.m
	if ok != m.set || v != m.value {
		rt.Fatalf("Take() = %d, %v, model: %d, %v", v, ok, m.value, m.set)
	}
	m.value, m.set = 0, false
}

func onceCellModel(rt *rapid.T) {
	runModel(rt, func(rt *rapid.T) (func(), modelActions) {
		om := &onceCellMachine{
			c:     new(gate.OnceCell[int]),
			fns:   map[int]*onceFn{},
			calls: newModelCalls[int](),
			done:  map[int]string{},
			m: onceModel{
				kinds:   map[int]string{},
				waiters: map[int]bool{},
				called:  map[int]bool{},
				done:    map[int]string{},
			},
		}
		return om.calls.cleanup, modelActions{
			"":           om.check,
			"start":      om.start,
			"finish":     func(rt *rapid.T) { om.finish(rt, false) },
			"finishRace": func(rt *rapid.T) { om.finish(rt, true) },
			"cancel":     om.cancel,
			"set":        om.set,
			"take":       om.take,
		}
	})
}

func TestOnceCellModel(t *testing.T) { checkModel(t, onceCellModel, true) }

func FuzzOnceCellModel(f *testing.F) { fuzzModel(f, onceCellModel, true) }
