package gate_test

// Tests of Group: one test per rule of API.md ("Beyond tokio": Group, and
// the rules that hold for every primitive), a rapid model and a stress test
// under -race.
//
// Every "still blocked" / "started" assertion runs inside a testing/synctest
// bubble: the functions of the group block on channels made in the bubble,
// so after synctest.Wait() every goroutine is finished or durably parked.

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

// blocker returns a function for a Group that records its start in started,
// then waits until release is closed, and returns err.
func blocker(started *[]int, id int, release <-chan struct{}, err error) func(context.Context) error {
	return func(context.Context) error {
		*started = append(*started, id)
		<-release
		return err
	}
}

func groupWantRunning(t *testing.T, g *gate.Group, want int) {
	t.Helper()
	if got := g.Running(); got != want {
		t.Fatalf("Running = %d, want %d", got, want)
	}
}

func TestGroupLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, _ := gate.NewGroup(t.Context(), 2)
		var mu sync.Mutex
		var started []int
		release := make(chan struct{})
		f := func(id int) func(context.Context) error {
			return func(context.Context) error {
				mu.Lock()
				started = append(started, id)
				mu.Unlock()
				<-release
				return nil
			}
		}
		for id := range 2 {
			if err := g.Go(t.Context(), f(id)); err != nil {
				t.Fatalf("Go %d: %v", id, err)
			}
		}
		third := goErr("third Go", func() error { return g.Go(t.Context(), f(2)) })
		synctest.Wait()
		third.pending(t)
		groupWantRunning(t, g, 2)
		if g.TryGo(f(3)) {
			t.Fatalf("TryGo with the limit reached started its function")
		}
		close(release)
		synctest.Wait()
		third.ok(t)
		if err := g.Wait(); err != nil {
			t.Fatalf("Wait: %v", err)
		}
		groupWantRunning(t, g, 0)
		slices.Sort(started)
		if !slices.Equal(started, []int{0, 1, 2}) {
			t.Fatalf("started %v, want [0 1 2]", started)
		}
	})
}

func TestGroupNoLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, _ := gate.NewGroup(t.Context(), 0)
		release := make(chan struct{})
		for range 100 {
			if !g.TryGo(func(context.Context) error { <-release; return nil }) {
				t.Fatalf("TryGo without a limit failed")
			}
		}
		synctest.Wait()
		groupWantRunning(t, g, 100)
		close(release)
		if err := g.Wait(); err != nil {
			t.Fatalf("Wait: %v", err)
		}
	})
}

// Go calls waiting for room start their functions in the order they started
// waiting, and TryGo does not take room ahead of them.
func TestGroupGoFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, _ := gate.NewGroup(t.Context(), 1)
		var started []int // one function at a time: no lock needed
		releases := make([]chan struct{}, 5)
		for i := range releases {
			releases[i] = make(chan struct{})
		}
		if err := g.Go(t.Context(), blocker(&started, 0, releases[0], nil)); err != nil {
			t.Fatal(err)
		}
		var calls []*async[struct{}]
		for id := 1; id < len(releases); id++ {
			calls = append(calls, goErr(fmt.Sprintf("Go %d", id), func() error {
				return g.Go(t.Context(), blocker(&started, id, releases[id], nil))
			}))
			synctest.Wait() // each queues before the next starts
		}
		for id := range releases {
			synctest.Wait()
			if id > 0 {
				calls[id-1].ok(t)
			}
			for _, c := range calls[id:] {
				c.pending(t)
			}
			if g.TryGo(blocker(&started, -1, nil, nil)) {
				t.Fatalf("TryGo barged past the queued Go calls")
			}
			close(releases[id])
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(started, []int{0, 1, 2, 3, 4}) {
			t.Fatalf("started %v, want FIFO [0 1 2 3 4]", started)
		}
	})
}

// A done ctx fails Go before anything else, even with room; a Go whose ctx
// ends while it waits leaves the queue, and the room goes to the next one.
func TestGroupGoDoneCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, _ := gate.NewGroup(t.Context(), 1)
		ran := false
		if err := g.Go(doneCtx(t.Context()), func(context.Context) error { ran = true; return nil }); err != context.Canceled {
			t.Fatalf("Go with a done ctx = %v, want context.Canceled", err)
		}
		var started []int
		release := make(chan struct{})
		if err := g.Go(t.Context(), blocker(&started, 0, release, nil)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		leaver := goErr("Go that gives up", func() error { return g.Go(ctx, blocker(&started, 1, release, nil)) })
		synctest.Wait()
		next := goErr("next Go", func() error { return g.Go(t.Context(), blocker(&started, 2, release, nil)) })
		synctest.Wait()
		cancel()
		synctest.Wait()
		leaver.failed(t, context.Canceled)
		next.pending(t)
		close(release)
		synctest.Wait()
		next.ok(t)
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		if ran || !slices.Equal(started, []int{0, 2}) {
			t.Fatalf("ran=%v started=%v, want only [0 2]", ran, started)
		}
		// Closed and done ctx: the done ctx is reported first.
		if err := g.Go(doneCtx(t.Context()), blocker(&started, 3, release, nil)); err != context.Canceled {
			t.Fatalf("Go with a done ctx on a closed group = %v, want context.Canceled", err)
		}
	})
}

// The first error cancels the group's ctx with itself as the cause, and Wait
// returns it; a later error does not replace it.
func TestGroupFirstErrorIsCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, gctx := gate.NewGroup(t.Context(), 0)
		err1, err2 := errors.New("first"), errors.New("second")
		second := make(chan struct{})
		var seen []error
		var mu sync.Mutex
		g.Go(t.Context(), func(ctx context.Context) error {
			<-ctx.Done() // cancelled by the first error
			mu.Lock()
			seen = append(seen, context.Cause(ctx))
			mu.Unlock()
			close(second)
			return err2
		})
		synctest.Wait()
		if gctx.Err() != nil {
			t.Fatalf("group ctx done before any failure")
		}
		g.Go(t.Context(), func(context.Context) error { return err1 })
		<-second
		if err := g.Wait(); err != err1 {
			t.Fatalf("Wait = %v, want the first error %v", err, err1)
		}
		if c := context.Cause(gctx); c != err1 {
			t.Fatalf("Cause(group ctx) = %v, want %v", c, err1)
		}
		if seen[0] != err1 {
			t.Fatalf("a function saw cause %v, want %v", seen[0], err1)
		}
	})
}

// After a failure nothing starts: a Go queued for room gets ErrClosed, and
// later Go and TryGo calls run nothing.
func TestGroupNothingStartsAfterFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, gctx := gate.NewGroup(t.Context(), 1)
		boom := errors.New("boom")
		fail := make(chan struct{})
		g.Go(t.Context(), func(context.Context) error { <-fail; return boom })
		ran := atomic.Bool{}
		queued := goErr("queued Go", func() error {
			return g.Go(t.Context(), func(context.Context) error { ran.Store(true); return nil })
		})
		synctest.Wait()
		queued.pending(t)
		close(fail)
		synctest.Wait()
		queued.failed(t, gate.ErrClosed)
		if err := g.Go(t.Context(), func(context.Context) error { ran.Store(true); return nil }); err != gate.ErrClosed {
			t.Fatalf("Go after a failure = %v, want ErrClosed", err)
		}
		if g.TryGo(func(context.Context) error { ran.Store(true); return nil }) {
			t.Fatalf("TryGo after a failure started its function")
		}
		if err := g.Wait(); err != boom {
			t.Fatalf("Wait = %v, want %v", err, boom)
		}
		if ran.Load() {
			t.Fatalf("a function started after the failure")
		}
		if context.Cause(gctx) != boom {
			t.Fatalf("Cause = %v, want %v", context.Cause(gctx), boom)
		}
	})
}

// Wait closes the group and cancels its ctx (cause context.Canceled with no
// error); Go after Wait returns ErrClosed.
func TestGroupWaitCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, gctx := gate.NewGroup(t.Context(), 3)
		var fctx context.Context
		g.Go(t.Context(), func(ctx context.Context) error { fctx = ctx; return nil })
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		if fctx != gctx {
			t.Fatalf("f got a ctx other than the group's")
		}
		if gctx.Err() != context.Canceled || context.Cause(gctx) != context.Canceled {
			t.Fatalf("group ctx after Wait: err %v cause %v, want context.Canceled", gctx.Err(), context.Cause(gctx))
		}
		if err := g.Go(t.Context(), func(context.Context) error { return nil }); err != gate.ErrClosed {
			t.Fatalf("Go after Wait = %v, want ErrClosed", err)
		}
		if err := g.Wait(); err != nil {
			t.Fatalf("second Wait = %v", err)
		}
	})
}

// Wait waits for a Go that is queued for room when it is called: that Go
// gets the room and its function runs before Wait returns.
func TestGroupWaitWaitsForQueuedGo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, _ := gate.NewGroup(t.Context(), 1)
		var started []int
		release := make(chan struct{})
		g.Go(t.Context(), blocker(&started, 0, release, nil))
		queued := goErr("queued Go", func() error { return g.Go(t.Context(), blocker(&started, 1, release, nil)) })
		synctest.Wait()
		wait := goErr("Wait", g.Wait)
		synctest.Wait()
		wait.pending(t)
		close(release)
		synctest.Wait()
		queued.ok(t)
		wait.ok(t)
		if !slices.Equal(started, []int{0, 1}) {
			t.Fatalf("started %v, want [0 1]", started)
		}
	})
}

// A panic in a function is recovered in its goroutine, fails the group, and
// Wait panics with its value (the first panic's, even after an error).
func TestGroupPanicReachesWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, gctx := gate.NewGroup(t.Context(), 0)
		type value struct{ n int }
		boom := errors.New("boom")
		errNow, panicNow, panic2Now := make(chan struct{}), make(chan struct{}), make(chan struct{})
		g.Go(t.Context(), func(context.Context) error { <-errNow; return boom })
		g.Go(t.Context(), func(context.Context) error { <-panicNow; panic(&value{1}) })
		g.Go(t.Context(), func(context.Context) error { <-panic2Now; panic(&value{2}) })
		close(errNow)
		synctest.Wait()
		close(panicNow) // a panic after the error reaches Wait
		synctest.Wait()
		close(panic2Now) // a later panic does not replace it
		got := func() (r any) {
			defer func() { r = recover() }()
			g.Wait()
			return nil
		}()
		if v, ok := got.(*value); !ok || v.n != 1 {
			t.Fatalf("Wait panicked with %v, want the function's value", got)
		}
		if context.Cause(gctx) != boom {
			t.Fatalf("Cause = %v, want the first failure %v", context.Cause(gctx), boom)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		g, gctx := gate.NewGroup(t.Context(), 0)
		g.Go(t.Context(), func(context.Context) error { panic("first") })
		synctest.Wait()
		if gctx.Err() == nil {
			t.Fatalf("a panic did not cancel the group ctx")
		}
		if c := context.Cause(gctx); c == nil || c == context.Canceled {
			t.Fatalf("Cause after a panic = %v, want an error for the panic", c)
		}
		if err := g.Go(t.Context(), func(context.Context) error { return nil }); err != gate.ErrClosed {
			t.Fatalf("Go after a panic = %v, want ErrClosed", err)
		}
		got := func() (r any) {
			defer func() { r = recover() }()
			g.Wait()
			return nil
		}()
		if got != "first" {
			t.Fatalf("Wait panicked with %v, want \"first\"", got)
		}
	})
}

// The zero Group has no limit, and its functions get a ctx cancelled by the
// first error.
func TestGroupZeroValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g gate.Group
		boom := errors.New("boom")
		var causes [10]error
		for i := range causes {
			if !g.TryGo(func(ctx context.Context) error { <-ctx.Done(); causes[i] = context.Cause(ctx); return nil }) {
				t.Fatalf("TryGo on a zero Group failed")
			}
		}
		synctest.Wait()
		groupWantRunning(t, &g, 10)
		g.Go(t.Context(), func(context.Context) error { return boom })
		if err := g.Wait(); err != boom {
			t.Fatalf("Wait = %v, want %v", err, boom)
		}
		for _, cause := range causes {
			if cause != boom {
				t.Fatalf("functions saw cause %v, want %v", cause, boom)
			}
		}
	})
	var g gate.Group
	if err := g.Wait(); err != nil {
		t.Fatalf("Wait on an unused zero Group = %v", err)
	}
}

// A runtime.Goexit in a function (t.FailNow) ends its goroutine only: the
// group counts it as returned.
func TestGroupGoexit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g gate.Group
		g.Go(t.Context(), func(context.Context) error { runtime.Goexit(); return nil })
		if err := g.Wait(); err != nil {
			t.Fatalf("Wait = %v", err)
		}
	})
}

func TestNewGroupPanics(t *testing.T) {
	mustPanic(t, "NewGroup(-1)", func() { gate.NewGroup(context.Background(), -1) })
}

// ---------------------------------------------------------------------------
// Model

// groupModel is the sequential model of a Group with a limit: the running
// functions (each blocked until the test ends it), the Go calls queued for
// room (FIFO), and closed.
type groupModel struct {
	limit   int
	running map[int]bool // functions running now, by id
	queue   []int        // Go calls waiting for room, oldest first
	closed  bool
	err     string         // the first error, "" if none
	done    map[int]string // Go calls that returned: "started", "canceled", "closed"
}

// free hands room to the queue, oldest first.
func (m *groupModel) free() {
	for len(m.queue) > 0 && len(m.running) < m.limit {
		id := m.queue[0]
		m.queue = m.queue[1:]
		m.running[id] = true
		m.done[id] = "started"
	}
}

func (m *groupModel) goCall(id int, precancelled bool) {
	switch {
	case precancelled:
		m.done[id] = "canceled"
	case m.closed:
		m.done[id] = "closed"
	case len(m.queue) == 0 && len(m.running) < m.limit:
		m.running[id] = true
		m.done[id] = "started"
	default:
		m.queue = append(m.queue, id)
	}
}

func (m *groupModel) tryGo(id int) bool {
	if m.closed || len(m.queue) > 0 || len(m.running) >= m.limit {
		return false
	}
	m.running[id] = true
	return true
}

// finish ends running function id, with an error if fail.
func (m *groupModel) finish(id int, fail bool) {
	delete(m.running, id)
	if fail && !m.closed {
		m.closed = true
		m.err = fmt.Sprint("err", id)
		for _, q := range m.queue {
			m.done[q] = "closed"
		}
		m.queue = nil
	}
	m.free()
}

func (m *groupModel) cancel(id int) {
	if i := slices.Index(m.queue, id); i >= 0 {
		m.queue = slices.Delete(m.queue, i, i+1)
		m.done[id] = "canceled"
	}
}

type groupObs struct {
	Running int
	Started []int // running functions, sorted
	Queued  int
	CtxDone bool
	Cause   string
	Done    map[int]string
}

func (m *groupModel) obs() groupObs {
	o := groupObs{Running: len(m.running), Started: slices.Sorted(maps.Keys(m.running)),
		Queued: len(m.queue), CtxDone: m.closed, Cause: m.err, Done: maps.Clone(m.done)}
	return o
}

type groupMachine struct {
	g      *gate.Group
	gctx   context.Context
	m      groupModel
	nextID int
	calls  modelCalls[struct{}]
	done   map[int]string

	mu       sync.Mutex
	started  map[int]bool       // functions that started and have not returned
	releases map[int]chan error // ends function id with the error sent
	errs     map[int]error      // the error function id returns
}

func newGroupMachine(rt *rapid.T) *groupMachine {
	limit := rapid.IntRange(1, 3).Draw(rt, "limit")
	gm := &groupMachine{
		m:        groupModel{limit: limit, running: map[int]bool{}, done: map[int]string{}},
		calls:    newModelCalls[struct{}](),
		done:     map[int]string{},
		started:  map[int]bool{},
		releases: map[int]chan error{},
	}
	gm.g, gm.gctx = gate.NewGroup(context.Background(), limit)
	return gm
}

// fn returns the function of call id: it records its start, then returns
// what the test sends it.
func (gm *groupMachine) fn(id int) func(context.Context) error {
	ch := make(chan error, 1)
	gm.mu.Lock()
	gm.releases[id] = ch
	gm.mu.Unlock()
	return func(context.Context) error {
		gm.mu.Lock()
		gm.started[id] = true
		gm.mu.Unlock()
		err := <-ch
		gm.mu.Lock()
		delete(gm.started, id)
		gm.mu.Unlock()
		return err
	}
}

func (gm *groupMachine) check(rt *rapid.T) {
	for id, r := range gm.calls.returned() {
		switch {
		case r.err == nil:
			gm.done[id] = "started"
		case r.err == context.Canceled:
			gm.done[id] = "canceled"
		case r.err == gate.ErrClosed:
			gm.done[id] = "closed"
		default:
			gm.done[id] = r.err.Error()
		}
	}
	gm.mu.Lock()
	got := groupObs{Running: gm.g.Running(), Started: slices.Sorted(maps.Keys(gm.started)),
		Queued: len(gm.calls.pending), CtxDone: gm.gctx.Err() != nil, Done: maps.Clone(gm.done)}
	gm.mu.Unlock()
	if c := context.Cause(gm.gctx); c != nil {
		got.Cause = c.Error()
	}
	if diff := cmp.Diff(gm.m.obs(), got); diff != "" {
		rt.Fatalf("group differs from the model (-model +real):\n%s", diff)
	}
}

func (gm *groupMachine) goCall(rt *rapid.T) {
	gm.nextID++
	id := gm.nextID
	pre := rapid.IntRange(0, 7).Draw(rt, "precancelled") == 7
	ctx := gm.calls.ctx(id, pre)
	f := gm.fn(id)
	gm.calls.start(id, goErr("Go", func() error { return gm.g.Go(ctx, f) }))
	gm.m.goCall(id, pre)
}

func (gm *groupMachine) tryGo(rt *rapid.T) {
	gm.nextID++
	id := gm.nextID
	got := gm.g.TryGo(gm.fn(id))
	if want := gm.m.tryGo(id); got != want {
		rt.Fatalf("TryGo = %v, model %v", got, want)
	}
	if got {
		gm.done[id] = "started"
		gm.m.done[id] = "started"
	}
}

func (gm *groupMachine) finish(rt *rapid.T) {
	id, ok := pick(rt, gm.m.running, "finish")
	if !ok {
		return
	}
	fail := rapid.IntRange(0, 3).Draw(rt, "fail") == 3
	var err error
	if fail {
		err = errors.New(fmt.Sprint("err", id))
	}
	synctest.Wait() // the function has recorded its start
	gm.mu.Lock()
	ch := gm.releases[id]
	gm.mu.Unlock()
	ch <- err
	synctest.Wait() // it has returned, and failed the group if it failed
	gm.m.finish(id, fail)
}

func (gm *groupMachine) cancel(rt *rapid.T) {
	cancelPicked(rt, &gm.calls, "cancel", func(id int) { gm.m.cancel(id) })
}

// cleanup ends every function and queued Go, then Waits.
func (gm *groupMachine) cleanup() {
	gm.calls.cleanup()
	gm.mu.Lock()
	for _, ch := range gm.releases {
		select {
		case ch <- nil:
		default:
		}
	}
	gm.mu.Unlock()
	gm.g.Wait()
}

func groupModelCheck(rt *rapid.T) {
	runModel(rt, func(rt *rapid.T) (func(), modelActions) {
		gm := newGroupMachine(rt)
		return gm.cleanup, modelActions{
			"":       gm.check,
			"go":     gm.goCall,
			"tryGo":  gm.tryGo,
			"finish": gm.finish,
			"cancel": gm.cancel,
		}
	})
}

func TestGroupModel(t *testing.T) { checkModel(t, groupModelCheck, false) }

// ---------------------------------------------------------------------------
// Stress

// TestGroupStress runs groups with a limit under random Go contexts: no more
// than limit functions ever run at once, every Go that returned nil ran its
// function exactly once, none ran after the group failed, and Wait returns
// the first error.
func TestGroupStress(t *testing.T) {
	watchdog(t)
	rounds := shortOr(200, 20)
	seed := logSeed(t)
	for round := range rounds {
		r := rand.New(rand.NewPCG(seed, uint64(round)))
		limit := 1 + r.IntN(4)
		g, gctx := gate.NewGroup(context.Background(), limit)
		failAt := int64(-1)
		if r.IntN(2) == 0 {
			failAt = int64(r.IntN(200))
		}
		var inside, ran, accepted atomic.Int64
		var failed atomic.Bool
		var wg sync.WaitGroup
		for p := range 4 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(seed, uint64(round*4+p+1000)))
				for range 50 {
					f := func(context.Context) error {
						if n := inside.Add(1); n > int64(limit) {
							t.Errorf("%d functions run at once, limit %d", n, limit)
						}
						n := ran.Add(1)
						inside.Add(-1)
						if n-1 == failAt {
							failed.Store(true)
							return fmt.Errorf("fail %d", n-1)
						}
						return nil
					}
					var err error
					if r.IntN(4) == 0 {
						if !g.TryGo(f) {
							continue
						}
					} else {
						ctx, cancel := randomCtx(r, context.Background())
						err = g.Go(ctx, f)
						if err != nil && err != gate.ErrClosed && !isCtxErr(ctx, err) {
							t.Errorf("Go = %v", err)
						}
						cancel()
					}
					if err == nil {
						accepted.Add(1)
					}
				}
			})
		}
		wg.Wait()
		err := g.Wait()
		if ran.Load() != accepted.Load() {
			t.Fatalf("round %d: %d functions ran, %d Go calls accepted", round, ran.Load(), accepted.Load())
		}
		// A Go that checked before the failure may start right after it:
		// only one that queued after the failure is refused. So check only
		// the error and the ctx.
		if failed.Load() {
			if err == nil || context.Cause(gctx) != err {
				t.Fatalf("round %d: Wait = %v, cause %v", round, err, context.Cause(gctx))
			}
		} else if err != nil {
			t.Fatalf("round %d: Wait = %v", round, err)
		}
		if g.Running() != 0 {
			t.Fatalf("round %d: Running = %d after Wait", round, g.Running())
		}
	}
}
