package gate_test

// The helpers every test file of package gate_test shares: an async call
// with "still pending" / "returned" checks, a done ctx, a panic checker, a
// random-ctx generator and a watchdog. A new primitive's tests reuse them;
// they do not grow their own.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"pgregory.net/rapid"
)

// watchdogTimeout bounds every test that runs outside a synctest bubble: a
// lost wake-up fails the run within it instead of hanging until go test's
// own timeout. (Inside a bubble a lost wake-up is a deadlock, which synctest
// reports at once.)
const watchdogTimeout = 20 * time.Second

// An async is one call running in its own goroutine. Inside a synctest
// bubble, call synctest.Wait() before pending or returned: the goroutine is
// then either finished or durably parked, so both checks are exact.
type async[T any] struct {
	what string
	ch   chan asyncResult[T]
}

type asyncResult[T any] struct {
	v   T
	err error
}

// goCall runs f in a new goroutine. what names the call in failure messages.
func goCall[T any](what string, f func() (T, error)) *async[T] {
	a := &async[T]{what: what, ch: make(chan asyncResult[T], 1)}
	go func() {
		v, err := f()
		a.ch <- asyncResult[T]{v, err}
	}()
	return a
}

// goErr runs f, which returns only an error, in a new goroutine.
func goErr(what string, f func() error) *async[struct{}] {
	return goCall(what, func() (struct{}, error) { return struct{}{}, f() })
}

// pending fails the test if the call has returned.
func (a *async[T]) pending(t testing.TB) {
	t.Helper()
	select {
	case r := <-a.ch:
		t.Fatalf("%s: returned (%v, %v), want it still blocked", a.what, r.v, r.err)
	default:
	}
}

// returned returns the call's results, and fails the test if it has not
// returned yet.
func (a *async[T]) returned(t testing.TB) (T, error) {
	t.Helper()
	select {
	case r := <-a.ch:
		return r.v, r.err
	default:
		t.Fatalf("%s: still blocked, want it returned", a.what)
		var zero T
		return zero, nil
	}
}

// ok returns the call's value, and fails the test unless it has returned
// with a nil error.
func (a *async[T]) ok(t testing.TB) T {
	t.Helper()
	v, err := a.returned(t)
	if err != nil {
		t.Fatalf("%s: error %v, want success", a.what, err)
	}
	return v
}

// failed fails the test unless the call has returned want itself (not
// wrapped: gate returns ctx.Err() and its sentinels as they are).
func (a *async[T]) failed(t testing.TB, want error) T {
	t.Helper()
	v, err := a.returned(t)
	if err != want {
		t.Fatalf("%s: error %v, want %v", a.what, err, want)
	}
	return v
}

// wait blocks until the call returns, for tests outside a bubble; past the
// watchdog timeout it fails the test.
func (a *async[T]) wait(t testing.TB) (T, error) {
	t.Helper()
	select {
	case r := <-a.ch:
		return r.v, r.err
	case <-time.After(watchdogTimeout):
		t.Fatalf("%s: did not return within %v", a.what, watchdogTimeout)
		var zero T
		return zero, nil
	}
}

// doneCtx returns a context derived from parent that is already cancelled.
func doneCtx(parent context.Context) context.Context {
	ctx, cancel := context.WithCancel(parent)
	cancel()
	return ctx
}

// A fataler is what mustPanic needs of a test: a *testing.T, *testing.B,
// *testing.F or a *rapid.T (which is not a testing.TB).
type fataler interface {
	Fatalf(format string, args ...any)
}

// mustPanic fails the test unless f panics with a message that starts with
// "gate: ". It returns the message.
func mustPanic(t fataler, what string, f func()) string {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	msg, panicked := func() (msg string, panicked bool) {
		defer func() {
			if r := recover(); r != nil {
				msg, panicked = fmt.Sprint(r), true
			}
		}()
		f()
		return "", false
	}()
	if !panicked {
		t.Fatalf("%s: did not panic", what)
	}
	if !strings.HasPrefix(msg, "gate: ") {
		t.Fatalf("%s: panicked with %q, want a message starting with \"gate: \"", what, msg)
	}
	return msg
}

// randomCtx returns a context for one call of a stress or linearizability
// test, drawn from r: most never end (some of them are parent itself, so that
// with parent context.Background() the cheap wait for a ctx without a Done
// channel runs too), some are already done, some end after a short deadline
// (which may have passed already) and some are cancelled by a goroutine after
// a random delay. The cancel function must be called.
func randomCtx(r *rand.Rand, parent context.Context) (context.Context, context.CancelFunc) {
	switch r.IntN(10) {
	case 4:
		return parent, func() {}
	case 0:
		ctx, cancel := context.WithCancel(parent)
		cancel()
		return ctx, cancel
	case 1, 2:
		return context.WithTimeout(parent, time.Duration(r.IntN(200))*time.Microsecond)
	case 3:
		ctx, cancel := context.WithCancel(parent)
		d := time.Duration(r.IntN(100)) * time.Microsecond
		go func() {
			time.Sleep(d)
			cancel()
		}()
		return ctx, cancel
	default:
		return context.WithCancel(parent)
	}
}

// isCtxErr reports whether err is what a call returns when its ctx ends:
// ctx.Err() itself.
func isCtxErr(ctx context.Context, err error) bool {
	return err != nil && err == ctx.Err() &&
		(errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// watchdog fails the whole run, with every goroutine's stack, if the test is
// still running after watchdogTimeout: for stress tests outside a bubble,
// where a lost wake-up would otherwise hang until go test's -timeout.
func watchdog(t testing.TB) {
	timer := time.AfterFunc(watchdogTimeout, func() {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		panic(fmt.Sprintf("watchdog: %s still running after %v (a lost wake-up?)\n\n%s", t.Name(), watchdogTimeout, buf))
	})
	t.Cleanup(func() { timer.Stop() })
}

// isReady reports whether ch is receivable now, receiving from it if so: a
// Ready channel's "something is there" check after synctest.Wait.
func isReady(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// loomRounds returns how many times to repeat a loom scenario on real
// goroutines: full, or a tenth of it in -short mode.
func loomRounds(full int) int {
	if testing.Short() {
		return max(full/10, 1)
	}
	return full
}

// modelCalls are the calls a model-based test has started, each in its own
// goroutine with its own context, and not yet seen return. Inside a synctest
// bubble, returned tells exactly which of them have returned.
type modelCalls[T any] struct {
	pending map[int]*async[T]          // calls that have not returned
	cancels map[int]context.CancelFunc // contexts not cancelled yet
	ctxs    []context.CancelFunc       // every context, for cleanup
}

func newModelCalls[T any]() modelCalls[T] {
	return modelCalls[T]{pending: map[int]*async[T]{}, cancels: map[int]context.CancelFunc{}}
}

// ctx returns a new context for call id: an already cancelled one if
// precancelled, otherwise one that cancel(id) or take(id) ends.
func (c *modelCalls[T]) ctx(id int, precancelled bool) context.Context {
	return callCtx(&c.ctxs, c.cancels, id, precancelled)
}

// callCtx returns a new context for call id and appends its cancel func to
// all, for cleanup: an already cancelled one if precancelled, otherwise one
// whose cancel func open[id] holds until the test takes it.
func callCtx(all *[]context.CancelFunc, open map[int]context.CancelFunc, id int, precancelled bool) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	*all = append(*all, cancel)
	if precancelled {
		cancel()
	} else {
		open[id] = cancel
	}
	return ctx
}

// start records a as call id, pending until returned sees it return.
func (c *modelCalls[T]) start(id int, a *async[T]) {
	c.pending[id] = a
}

// returned calls synctest.Wait, then removes the calls that have returned
// from pending and returns their results by id.
func (c *modelCalls[T]) returned() map[int]asyncResult[T] {
	synctest.Wait()
	out := map[int]asyncResult[T]{}
	for id, a := range c.pending {
		select {
		case r := <-a.ch:
			delete(c.pending, id)
			out[id] = r
		default:
		}
	}
	return out
}

// cancel ends the context of call id, which must not be cancelled yet.
func (c *modelCalls[T]) cancel(id int) {
	c.take(id)()
}

// take returns the cancel func of call id's context, which must not be
// cancelled yet, for the caller to call when it chooses.
func (c *modelCalls[T]) take(id int) context.CancelFunc {
	cancel := c.cancels[id]
	delete(c.cancels, id)
	return cancel
}

// cleanup cancels every context and waits for every pending call, so that
// the bubble ends with no goroutine left.
func (c *modelCalls[T]) cleanup() {
	for _, cancel := range c.ctxs {
		cancel()
	}
	for _, a := range c.pending {
		<-a.ch
	}
}

// cancelPicked cancels the context of a call drawn from calls.cancels (a
// queued call, or one that has already returned) and then tells the model,
// through leave; with no context left to cancel it does nothing.
func cancelPicked[T any](rt *rapid.T, calls *modelCalls[T], label string, leave func(id int)) {
	id, ok := pick(rt, calls.cancels, label)
	if !ok {
		return
	}
	calls.cancel(id)
	leave(id)
}

// modelActions is a rapid state machine's actions by name; "" is the check
// that runs after every action.
type modelActions = map[string]func(*rapid.T)

// runModel runs a rapid state machine in a synctest bubble: newMachine makes
// the machine in the bubble and returns its cleanup and its actions.
func runModel(rt *rapid.T, newMachine func(rt *rapid.T) (cleanup func(), actions modelActions)) {
	rapid.SyncTest(rt, func(rt *rapid.T) {
		cleanup, actions := newMachine(rt)
		rt.Cleanup(cleanup)
		rt.Repeat(actions)
	})
}

// checkModel runs a model's property under rapid.Check; with oneP, at
// GOMAXPROCS 1 (see oneProc).
func checkModel(t *testing.T, prop func(*rapid.T), oneP bool) {
	if oneP {
		oneProc(t)
	}
	rapid.Check(t, prop)
}

// fuzzModel is checkModel for a fuzz target: the fuzzer's input drives prop.
func fuzzModel(f *testing.F, prop func(*rapid.T), oneP bool) {
	if oneP {
		oneProc(f)
	}
	f.Fuzz(rapid.MakeFuzz(prop))
}

// wantValue fails unless got, what a test read, is want.
func wantValue[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// shortOr returns full, or short in -short mode: a stress test's size.
func shortOr(full, short int) int {
	if testing.Short() {
		return short
	}
	return full
}

// logSeed draws the seed of a randomized test and logs it, so that a failure
// can be replayed.
func logSeed(t testing.TB) uint64 {
	t.Helper()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	return seed
}
