package gate_test

// Model-based state-machine tests (TESTING.md layer 2) and fuzz targets
// (layer 5) for the batch semaphore, as seen through Semaphore, Mutex and
// RWMutex.
//
// Each test keeps a sequential model of the primitive next to the real one.
// Every action is drawn on the test goroutine and starts at most one
// goroutine (a waiting acquire); the "" check then calls synctest.Wait, so
// every goroutine of the bubble has either returned or is durably parked, and
// compares what can be observed (available permits, queue length, the head's
// partial grant, closed, which waiters returned and how, which permits the
// test holds) with the model using go-cmp. Waiters woken by one event resume
// in any order, so the check compares the *set* of returned waiters, never the
// order of wake-ups.
//
// The model is the contract of API.md and the batch semaphore of DESIGN.md:
//
//   - an acquire whose ctx is already done returns ctx.Err() and has no
//     effect, even if it could complete at once; then ErrClosed;
//   - an acquire that fits and finds nobody queued takes its permits at once;
//     n == 0 succeeds at once;
//   - otherwise it joins the FIFO queue and takes every available permit as
//     a partial grant, so the available count stays 0 while anyone is queued;
//   - released or added permits go to the head first; the head is woken only
//     when its request is fully met, then the next one gets the rest; what
//     nobody queued can take becomes available;
//   - a cancelled waiter leaves the queue and its partial grant goes to the
//     next waiters (FIFO) exactly like released permits;
//   - Close fails every queued waiter with ErrClosed and puts their partial
//     grants back into the available count.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/gophergate/gate"
)

// resultString classifies how a call returned, for comparison with the
// model. ctx errors must be returned unwrapped (API.md), so they are compared
// with ==.
func resultString(err error) string {
	switch {
	case err == nil:
		return "granted"
	case err == context.Canceled:
		return "canceled"
	case errors.Is(err, gate.ErrClosed):
		return "closed"
	case errors.Is(err, gate.ErrNoPermits):
		return "no-permits"
	case errors.Is(err, gate.ErrTooMany):
		return "too-many"
	default:
		return fmt.Sprintf("unexpected error %T %v", err, err)
	}
}

// pick draws one of the keys of m, in a deterministic order, and reports
// false if m is empty. An action with nothing to act on does nothing rather
// than calling rt.Skip: under MakeFuzz an input can draw the same
// inapplicable action a hundred times in a row, which rapid reports as a
// failure ("can't find a valid (non-skipped) action").
func pick[V any](rt *rapid.T, m map[int]V, label string) (int, bool) {
	if len(m) == 0 {
		return 0, false
	}
	return rapid.SampledFrom(slices.Sorted(maps.Keys(m))).Draw(rt, label), true
}

// drawCount draws a permit count in [0, max], or, rarely, MaxPermits (a
// request that can never be met and blocks everyone behind it).
func drawCount(rt *rapid.T, label string, max int) int {
	if rapid.IntRange(0, 15).Draw(rt, label+"Huge") == 15 {
		return gate.MaxPermits
	}
	return rapid.IntRange(0, max).Draw(rt, label)
}

// drawPrecancelled draws whether a waiting call gets an already cancelled
// context (rarely; it only matters when the call would have to wait).
func drawPrecancelled(rt *rapid.T) bool {
	return rapid.IntRange(0, 7).Draw(rt, "precancelled") == 7
}

// ---------------------------------------------------------------------------
// Semaphore

// semModelWaiter is a queued acquire in the model.
type semModelWaiter struct {
	id, n int
	grant int // partial grant; only the head's can be non-zero
}

// semModel is the sequential model of a Semaphore.
type semModel struct {
	avail  int
	closed bool
	queue  []semModelWaiter // FIFO, oldest first
	held   map[int]int      // permits held by the test: id -> count
	done   map[int]string   // acquire goroutines that returned: id -> result
}

// grant hands n permits to the queue, head first, waking each waiter whose
// request is met; the rest becomes available once the queue is empty.
func (m *semModel) grant(n int) {
	for n > 0 && len(m.queue) > 0 {
		w := &m.queue[0]
		need := w.n - w.grant
		if n < need {
			w.grant += n
			return
		}
		n -= need
		m.done[w.id] = "granted"
		m.held[w.id] = w.n
		m.queue = m.queue[1:]
	}
	if len(m.queue) == 0 {
		m.avail += n
	}
}

// acquire models AcquireN(ctx, n) started by waiter id.
// A done ctx fails the call before anything else (API.md, Context).
func (m *semModel) acquire(id, n int, precancelled bool) {
	switch {
	case precancelled:
		m.done[id] = "canceled"
	case m.closed:
		m.done[id] = "closed"
	case n == 0 || len(m.queue) == 0 && m.avail >= n:
		m.avail -= n
		m.done[id] = "granted"
		m.held[id] = n
	default:
		m.queue = append(m.queue, semModelWaiter{id: id, n: n, grant: m.avail})
		m.avail = 0
	}
}

// tryAcquire models TryAcquireN(n) and returns the expected result.
func (m *semModel) tryAcquire(id, n int) string {
	switch {
	case m.closed:
		return "closed"
	case n == 0 || len(m.queue) == 0 && m.avail >= n:
		m.avail -= n
		m.held[id] = n
		return "granted"
	default:
		return "no-permits"
	}
}

// cancel models the cancellation of waiter id's context: a queued waiter
// leaves the queue and passes its partial grant on; any other has no effect.
func (m *semModel) cancel(id int) {
	for i, w := range m.queue {
		if w.id == id {
			m.queue = slices.Delete(m.queue, i, i+1)
			m.done[id] = "canceled"
			m.grant(w.grant)
			return
		}
	}
}

func (m *semModel) close() {
	m.closed = true
	for _, w := range m.queue {
		m.done[w.id] = "closed"
		m.avail += w.grant
	}
	m.queue = nil
}

func (m *semModel) clone() semModel {
	c := *m
	c.queue = slices.Clone(m.queue)
	c.held = maps.Clone(m.held)
	c.done = maps.Clone(m.done)
	return c
}

// raceOutcomes returns the states a cancelRace may end in: the waiter left
// the queue before the racing operation, or after it. In the second case a
// waiter that the operation granted either keeps its permits or returns
// ctx.Err() and passes all of them on; one that Close failed returns ErrClosed
// or ctx.Err(), holding nothing either way.
func (m *semModel) raceOutcomes(r *modelRace[semModel]) []semModel {
	first := m.clone()
	first.cancel(r.id)
	r.apply(&first)
	after := m.clone()
	r.apply(&after)
	out := []semModel{first}
	switch after.done[r.id] {
	case "": // still queued: it leaves now
		after.cancel(r.id)
		out = append(out, after)
	case "granted":
		passed := after.clone()
		n := passed.held[r.id]
		delete(passed.held, r.id)
		passed.done[r.id] = "canceled"
		passed.grant(n)
		out = append(out, after, passed)
	case "closed":
		canceled := after.clone()
		canceled.done[r.id] = "canceled"
		out = append(out, after, canceled)
	}
	return out
}

// semObs is what the check compares.
type semObs struct {
	Available int
	Waiters   int
	HeadGrant int
	Closed    bool
	Done      map[int]string // returned acquire goroutines
	Held      map[int]int    // permits held by the test, by count
}

func (m *semModel) obs() semObs {
	o := semObs{
		Available: m.avail,
		Waiters:   len(m.queue),
		Closed:    m.closed,
		Done:      maps.Clone(m.done),
		Held:      maps.Clone(m.held),
	}
	if len(m.queue) > 0 {
		o.HeadGrant = m.queue[0].grant
	}
	return o
}

// semAcquired is what an acquire goroutine returns besides its error: the
// count it asked for and the Permit it got.
type semAcquired struct {
	n int
	p *gate.Permit
}

// semaphoreMachine drives a real Semaphore next to its model.
type semaphoreMachine struct {
	cap int // initial permits; sizes the draws
	s   *gate.Semaphore
	m   semModel

	nextID  int
	calls   modelCalls[semAcquired] // acquire goroutines
	permits map[int]*gate.Permit    // permits held by the test
	done    map[int]string          // how acquire goroutines returned

	race *modelRace[semModel] // set by cancelRace until the next check resolves it
}

// A modelRace is a cancelRace action: a queued waiter's ctx was cancelled and
// the same action released, added or closed (the racing operation) before the
// waiter could run. Its effect on the model depends on which of the two the
// primitive saw first, and the waiter's result alone does not tell (a waiter
// taken off the queue by Close or by a full grant may still return ctx.Err()).
// The check accepts any of the possible outcomes (see raceOutcomes); in every
// one, nothing granted is lost.
type modelRace[M any] struct {
	id    int      // the waiter whose ctx was cancelled
	apply func(*M) // applies the racing operation to a model
}

// pickOutcome returns the first candidate model whose observation equals got,
// or the first candidate if none does (the check then reports the diff).
func pickOutcome[M, O any](cands []M, obs func(*M) O, got O) M {
	for i := range cands {
		if cmp.Equal(obs(&cands[i]), got) {
			return cands[i]
		}
	}
	return cands[0]
}

func newSemMachine(rt *rapid.T) *semaphoreMachine {
	sm := &semaphoreMachine{
		cap:     rapid.IntRange(0, 4).Draw(rt, "permits"),
		calls:   newModelCalls[semAcquired](),
		permits: map[int]*gate.Permit{},
		done:    map[int]string{},
	}
	if sm.cap == 0 && rapid.Bool().Draw(rt, "zeroValue") {
		sm.s = new(gate.Semaphore)
	} else {
		sm.s = gate.NewSemaphore(sm.cap)
	}
	sm.m = semModel{avail: sm.cap, held: map[int]int{}, done: map[int]string{}}
	return sm
}

func (sm *semaphoreMachine) newID() int {
	sm.nextID++
	return sm.nextID
}

// settle waits until every goroutine is parked or gone and records the
// acquires that returned.
func (sm *semaphoreMachine) settle(rt *rapid.T) {
	for id, r := range sm.calls.returned() {
		sm.done[id] = resultString(r.err)
		if r.err == nil {
			if r.v.p.Count() != r.v.n {
				rt.Fatalf("acquire %d of %d permits returned a Permit of %d", id, r.v.n, r.v.p.Count())
			}
			sm.permits[id] = r.v.p
		} else if r.v.p.Count() != 0 {
			rt.Fatalf("acquire %d failed (%v) but returned a Permit of %d", id, r.err, r.v.p.Count())
		}
	}
}

func (sm *semaphoreMachine) check(rt *rapid.T) {
	sm.settle(rt)
	got := semObs{
		Available: sm.s.Available(),
		Waiters:   gate.SemaphoreWaiters(sm.s),
		HeadGrant: gate.SemaphoreHeadGrant(sm.s),
		Closed:    sm.s.IsClosed(),
		Done:      maps.Clone(sm.done),
		Held:      map[int]int{},
	}
	for id, p := range sm.permits {
		got.Held[id] = p.Count()
	}
	if r := sm.race; r != nil {
		sm.race = nil
		sm.m = pickOutcome(sm.m.raceOutcomes(r), (*semModel).obs, got)
	}
	if diff := cmp.Diff(sm.m.obs(), got); diff != "" {
		rt.Fatalf("semaphore differs from the model (-model +real):\n%s", diff)
	}
	if len(sm.calls.pending) != len(sm.m.queue) {
		rt.Fatalf("%d acquire goroutines parked, model queue has %d", len(sm.calls.pending), len(sm.m.queue))
	}
}

// acquire starts AcquireN (or Acquire) in a goroutine with its own context.
func (sm *semaphoreMachine) acquire(rt *rapid.T) {
	n := drawCount(rt, "n", sm.cap+2)
	viaAcquire := n == 1 && rapid.Bool().Draw(rt, "viaAcquire")
	precancelled := drawPrecancelled(rt)
	id := sm.newID()

	ctx := sm.calls.ctx(id, precancelled)
	s := sm.s
	sm.calls.start(id, goCall("AcquireN", func() (semAcquired, error) {
		var p gate.Permit
		var err error
		if viaAcquire {
			p, err = s.Acquire(ctx)
		} else {
			p, err = s.AcquireN(ctx, n)
		}
		return semAcquired{n, &p}, err
	}))
	sm.m.acquire(id, n, precancelled)
}

// tryAcquire calls TryAcquireN (or TryAcquire) on the test goroutine.
func (sm *semaphoreMachine) tryAcquire(rt *rapid.T) {
	n := drawCount(rt, "n", sm.cap+2)
	viaTryAcquire := n == 1 && rapid.Bool().Draw(rt, "viaTryAcquire")
	id := sm.newID()
	var p gate.Permit
	var err error
	if viaTryAcquire {
		p, err = sm.s.TryAcquire()
	} else {
		p, err = sm.s.TryAcquireN(n)
	}
	want := sm.m.tryAcquire(id, n)
	if got := resultString(err); got != want {
		rt.Fatalf("TryAcquireN(%d) = %s, model: %s", n, got, want)
	}
	if err == nil {
		if p.Count() != n {
			rt.Fatalf("TryAcquireN(%d) returned a Permit of %d", n, p.Count())
		}
		sm.permits[id] = &p
	}
}

// tooMany asks for more than MaxPermits; neither call may wait or take anything.
func (sm *semaphoreMachine) tooMany(rt *rapid.T) {
	p, err := sm.s.AcquireN(context.Background(), gate.MaxPermits+1)
	// API.md, Error order: ErrTooMany (the request could never succeed)
	// comes before ErrClosed, for AcquireN and TryAcquireN alike.
	if !errors.Is(err, gate.ErrTooMany) || p.Count() != 0 {
		rt.Fatalf("AcquireN(MaxPermits+1) = %d permits, %v; want ErrTooMany", p.Count(), err)
	}
	if p, err := sm.s.TryAcquireN(gate.MaxPermits + 1); !errors.Is(err, gate.ErrTooMany) || p.Count() != 0 {
		rt.Fatalf("TryAcquireN(MaxPermits+1) = %d permits, %v; want ErrTooMany", p.Count(), err)
	}
}

// release releases a held permit, twice (the second does nothing).
func (sm *semaphoreMachine) release(rt *rapid.T) {
	id, ok := pick(rt, sm.permits, "permit")
	if !ok {
		return
	}
	p := sm.permits[id]
	delete(sm.permits, id)
	p.Release()
	p.Release()
	if p.Count() != 0 {
		rt.Fatalf("Permit.Count() = %d after Release", p.Count())
	}
	n := sm.m.held[id]
	delete(sm.m.held, id)
	sm.m.grant(n)
}

// forgetPermit drops a held permit: the semaphore's capacity shrinks.
func (sm *semaphoreMachine) forgetPermit(rt *rapid.T) {
	id, ok := pick(rt, sm.permits, "permit")
	if !ok {
		return
	}
	p := sm.permits[id]
	delete(sm.permits, id)
	p.Forget()
	p.Release() // does nothing now
	if p.Count() != 0 {
		rt.Fatalf("Permit.Count() = %d after Forget", p.Count())
	}
	delete(sm.m.held, id)
}

// split moves some permits of a held permit into a new one.
func (sm *semaphoreMachine) split(rt *rapid.T) {
	id, ok := pick(rt, sm.permits, "permit")
	if !ok {
		return
	}
	p := sm.permits[id]
	k := rapid.IntRange(0, min(p.Count(), 8)+1).Draw(rt, "k")
	q, ok := p.Split(k)
	have := sm.m.held[id]
	if wantOK := k <= have; ok != wantOK {
		rt.Fatalf("Split(%d) of a Permit of %d: ok = %v", k, have, ok)
	}
	if !ok {
		if q.Count() != 0 {
			rt.Fatalf("failed Split returned a Permit of %d", q.Count())
		}
		return
	}
	nid := sm.newID()
	sm.permits[nid] = &q
	sm.m.held[id] -= k
	sm.m.held[nid] = k
}

// merge moves a held permit's permits into another.
func (sm *semaphoreMachine) merge(rt *rapid.T) {
	if len(sm.permits) < 2 {
		return // nothing to merge
	}
	ids := slices.Sorted(maps.Keys(sm.permits))
	i := rapid.IntRange(0, len(ids)-1).Draw(rt, "into")
	j := rapid.IntRange(0, len(ids)-2).Draw(rt, "from")
	if j >= i {
		j++
	}
	into, from := ids[i], ids[j]
	sm.permits[into].Merge(sm.permits[from])
	if c := sm.permits[from].Count(); c != 0 {
		rt.Fatalf("merged Permit still holds %d", c)
	}
	delete(sm.permits, from)
	sm.m.held[into] += sm.m.held[from]
	delete(sm.m.held, from)
}

func (sm *semaphoreMachine) addPermits(rt *rapid.T) {
	n := rapid.IntRange(0, 3).Draw(rt, "n")
	sm.s.AddPermits(n)
	sm.m.grant(n)
}

func (sm *semaphoreMachine) forgetPermits(rt *rapid.T) {
	n := rapid.IntRange(0, sm.cap+2).Draw(rt, "n")
	got := sm.s.ForgetPermits(n)
	want := min(n, sm.m.avail)
	sm.m.avail -= want
	if got != want {
		rt.Fatalf("ForgetPermits(%d) = %d, model: %d", n, got, want)
	}
}

// cancel cancels the context of a chosen acquire: a queued one, or one that
// has already returned (which must change nothing).
func (sm *semaphoreMachine) cancel(rt *rapid.T) {
	cancelPicked(rt, &sm.calls, "waiter", func(id int) { sm.m.cancel(id) })
}

// cancelRace cancels a queued waiter's ctx and, on the test goroutine and
// before the waiter can run, releases a held permit, adds permits or closes
// the semaphore, in either order. The waiter may see either event first: it
// returns granted (holding its permits), ErrClosed, or ctx.Err() having passed
// on whatever it had been granted (API.md: "Something granted to a waiter
// while it was being cancelled is passed on to the next waiter, never lost").
func (sm *semaphoreMachine) cancelRace(rt *rapid.T) {
	queued := map[int]bool{}
	for _, w := range sm.m.queue {
		queued[w.id] = true
	}
	id, ok := pick(rt, queued, "waiter")
	if !ok {
		return
	}
	// Every draw comes before the first change of state: a draw can abort
	// the action (under MakeFuzz, when the input runs out), and an aborted
	// action must leave the machine as it was.
	op := rapid.SampledFrom([]string{"release", "addPermits", "close"}).Draw(rt, "op")
	if op == "release" && len(sm.permits) == 0 {
		op = "addPermits"
	}
	pid, n := 0, 0
	switch op {
	case "release":
		pid, _ = pick(rt, sm.permits, "permit")
	case "addPermits":
		n = rapid.IntRange(1, 3).Draw(rt, "n")
	}
	cancelFirst := rapid.Bool().Draw(rt, "cancelFirst")

	var do func()
	var apply func(*semModel)
	switch op {
	case "release":
		p := sm.permits[pid]
		delete(sm.permits, pid)
		n := sm.m.held[pid]
		delete(sm.m.held, pid)
		do = p.Release
		apply = func(m *semModel) { m.grant(n) }
	case "addPermits":
		do = func() { sm.s.AddPermits(n) }
		apply = func(m *semModel) { m.grant(n) }
	case "close":
		do = sm.s.Close
		apply = (*semModel).close
	}
	cancel := sm.calls.take(id)
	if cancelFirst {
		cancel()
		do()
	} else {
		do()
		cancel()
	}
	sm.race = &modelRace[semModel]{id: id, apply: apply}
}

func (sm *semaphoreMachine) close(rt *rapid.T) {
	sm.s.Close()
	sm.m.close()
}

// semaphoreModel is the property shared by TestSemaphoreModel and
// FuzzSemaphoreModel.
func semaphoreModel(rt *rapid.T) {
	runModel(rt, func(rt *rapid.T) (func(), modelActions) {
		sm := newSemMachine(rt)
		return sm.calls.cleanup, modelActions{
			"":              sm.check,
			"acquire":       sm.acquire,
			"tryAcquire":    sm.tryAcquire,
			"tooMany":       sm.tooMany,
			"release":       sm.release,
			"forgetPermit":  sm.forgetPermit,
			"split":         sm.split,
			"merge":         sm.merge,
			"addPermits":    sm.addPermits,
			"forgetPermits": sm.forgetPermits,
			"cancel":        sm.cancel,
			"cancelRace":    sm.cancelRace,
			"close":         sm.close,
		}
	})
}

func TestSemaphoreModel(t *testing.T) { checkModel(t, semaphoreModel, true) }

func FuzzSemaphoreModel(f *testing.F) { fuzzModel(f, semaphoreModel, true) }

// oneProc runs the test with GOMAXPROCS 1. The model does not need it
// (synctest.Wait makes every step deterministic), but the cancelRace actions
// do: with one P, the waiter woken by the cancel cannot run on another P
// before the test goroutine has made the racing grant, so it usually finds
// both its grant and its ctx done, the case API.md's "never lost" rule is
// about. With several Ps it nearly always leaves the queue first.
func oneProc(tb testing.TB) {
	prev := runtime.GOMAXPROCS(1)
	tb.Cleanup(func() { runtime.GOMAXPROCS(prev) })
}

// ---------------------------------------------------------------------------
// Mutex

// mutexModel is the sequential model of a Mutex[int]. Every goroutine that
// gets the lock reads the value and writes its own id, so the model also
// tracks what each holder must read.
type mutexModel struct {
	locked bool
	value  int            // id of the last holder, which wrote it through the pointer
	queue  []int          // ids of the queued Lock calls, FIFO, oldest first
	held   int            // id of the holder (0: none)
	done   map[int]string // Lock goroutines that returned: id -> result
}

// granted records that id got the lock: it read value and wrote its id.
func (m *mutexModel) granted(id int) {
	m.locked = true
	m.held = id
	m.done[id] = fmt.Sprintf("locked v=%d", m.value)
	m.value = id
}

// lock models Lock started by waiter id.
func (m *mutexModel) lock(id int, precancelled bool) {
	switch {
	case precancelled: // a done ctx fails the call before anything else
		m.done[id] = "canceled"
	case !m.locked && len(m.queue) == 0:
		m.granted(id)
	default:
		m.queue = append(m.queue, id)
	}
}

// tryLock models TryLock by id and reports whether it succeeds; on success
// the test goroutine reads the value and writes id, like a Lock.
func (m *mutexModel) tryLock(id int) (read int, ok bool) {
	if m.locked || len(m.queue) > 0 {
		return 0, false
	}
	read = m.value
	m.locked, m.held, m.value = true, id, id
	return read, true
}

// unlock hands the lock to the oldest waiter, or unlocks.
func (m *mutexModel) unlock() {
	m.held = 0
	if len(m.queue) == 0 {
		m.locked = false
		return
	}
	id := m.queue[0]
	m.queue = m.queue[1:]
	m.granted(id)
}

// cancel models the end of waiter id's ctx: a queued waiter leaves the queue;
// any other is unaffected.
func (m *mutexModel) cancel(id int) {
	if i := slices.Index(m.queue, id); i >= 0 {
		m.queue = slices.Delete(m.queue, i, i+1)
		m.done[id] = "canceled"
	}
}

func (m *mutexModel) clone() mutexModel {
	c := *m
	c.queue = slices.Clone(m.queue)
	c.done = maps.Clone(m.done)
	return c
}

// raceOutcomes returns the states a cancelRace may end in: the waiter left
// the queue before the Unlock, or the Unlock came first (if the waiter was at
// the head it got the lock and keeps it; otherwise it leaves the queue
// after). A waiter granted the lock as its ctx ended and passing it on ends
// in the first state, since a Mutex has no partial grant.
func (m *mutexModel) raceOutcomes(r *modelRace[mutexModel]) []mutexModel {
	first := m.clone()
	first.cancel(r.id)
	r.apply(&first)
	after := m.clone()
	r.apply(&after)
	after.cancel(r.id) // no effect if the Unlock granted it
	return []mutexModel{first, after}
}

type mutexObs struct {
	Locked  bool
	Waiters int
	Held    int
	Done    map[int]string
}

func (m *mutexModel) obs() mutexObs {
	return mutexObs{Locked: m.locked, Waiters: len(m.queue), Held: m.held, Done: maps.Clone(m.done)}
}

// mutexMachine drives a real Mutex[int] next to its model. The goroutine or
// test call that gets the lock reads the value and writes its id, so the race
// detector checks the hand-over too.
type mutexMachine struct {
	mu *gate.Mutex[int]
	m  mutexModel

	nextID int
	calls  modelCalls[int] // Lock goroutines; each returns the value it read
	held   int             // id of the lock the test holds (0: none)
	done   map[int]string

	race *modelRace[mutexModel] // set by cancelRace until the next check resolves it
}

func newMutexMachine(rt *rapid.T) *mutexMachine {
	mm := &mutexMachine{
		calls: newModelCalls[int](),
		done:  map[int]string{},
	}
	if rapid.Bool().Draw(rt, "zeroValue") {
		mm.mu = new(gate.Mutex[int])
	} else {
		mm.mu = gate.NewMutex(0)
	}
	mm.m = mutexModel{done: map[int]string{}}
	return mm
}

func (mm *mutexMachine) newID() int {
	mm.nextID++
	return mm.nextID
}

func (mm *mutexMachine) settle(rt *rapid.T) {
	for id, r := range mm.calls.returned() {
		res := resultString(r.err)
		if r.err == nil {
			res = fmt.Sprintf("locked v=%d", r.v)
			if mm.held != 0 {
				rt.Fatalf("Lock %d got the lock while %d holds it", id, mm.held)
			}
			mm.held = id
		}
		mm.done[id] = res
	}
}

func (mm *mutexMachine) check(rt *rapid.T) {
	mm.settle(rt)
	got := mutexObs{
		Locked:  gate.MutexLocked(mm.mu),
		Waiters: gate.MutexWaiters(mm.mu),
		Held:    mm.held,
		Done:    maps.Clone(mm.done),
	}
	if r := mm.race; r != nil {
		mm.race = nil
		mm.m = pickOutcome(mm.m.raceOutcomes(r), (*mutexModel).obs, got)
	}
	if diff := cmp.Diff(mm.m.obs(), got); diff != "" {
		rt.Fatalf("Mutex differs from the model (-model +real):\n%s", diff)
	}
	if len(mm.calls.pending) != len(mm.m.queue) {
		rt.Fatalf("%d Lock goroutines parked, model queue has %d", len(mm.calls.pending), len(mm.m.queue))
	}
}

// lock starts Lock in a goroutine with its own context, sometimes already
// cancelled.
func (mm *mutexMachine) lock(rt *rapid.T) {
	precancelled := drawPrecancelled(rt)
	id := mm.newID()
	ctx := mm.calls.ctx(id, precancelled)
	mu := mm.mu
	mm.calls.start(id, goCall("Lock", func() (int, error) {
		p, err := mu.Lock(ctx)
		if (err == nil) != (p != nil) {
			return 0, fmt.Errorf("Lock returned pointer %p with error %v", p, err)
		}
		if err != nil {
			return 0, err
		}
		v := *p
		*p = id
		return v, nil
	}))
	mm.m.lock(id, precancelled)
}

func (mm *mutexMachine) tryLock(rt *rapid.T) {
	id := mm.newID()
	p, ok := mm.mu.TryLock()
	if ok != (p != nil) {
		rt.Fatalf("TryLock returned pointer %p with ok = %v", p, ok)
	}
	want, wantOK := mm.m.tryLock(id)
	if ok != wantOK {
		rt.Fatalf("TryLock = %v, model: %v", ok, wantOK)
	}
	if !ok {
		return
	}
	if *p != want {
		rt.Fatalf("TryLock read %d, last holder was %d", *p, want)
	}
	*p = id
	mm.held = id
}

// unlock unlocks the mutex if the test holds it; otherwise Unlock is misuse
// and must panic, changing nothing.
func (mm *mutexMachine) unlock(rt *rapid.T) {
	if mm.held == 0 {
		mustPanic(rt, "Unlock of an unlocked Mutex", mm.mu.Unlock)
		return
	}
	mm.held = 0
	mm.mu.Unlock()
	mm.m.unlock()
}

// cancel cancels the context of a chosen Lock: a queued one, or one that has
// already returned (which must change nothing).
func (mm *mutexMachine) cancel(rt *rapid.T) {
	cancelPicked(rt, &mm.calls, "waiter", func(id int) { mm.m.cancel(id) })
}

// cancelRace cancels a queued waiter's ctx and unlocks, in either order,
// before the waiter can run; see semaphoreMachine.cancelRace.
func (mm *mutexMachine) cancelRace(rt *rapid.T) {
	if mm.held == 0 {
		return // nothing to unlock: a plain cancel
	}
	queued := map[int]bool{}
	for _, id := range mm.m.queue {
		queued[id] = true
	}
	id, ok := pick(rt, queued, "waiter")
	if !ok {
		return
	}
	cancelFirst := rapid.Bool().Draw(rt, "cancelFirst")
	cancel := mm.calls.take(id)
	mm.held = 0
	if cancelFirst {
		cancel()
		mm.mu.Unlock()
	} else {
		mm.mu.Unlock()
		cancel()
	}
	mm.race = &modelRace[mutexModel]{id: id, apply: (*mutexModel).unlock}
}

// mutexModelCheck is the property shared by TestMutexModel and
// FuzzMutexModel.
func mutexModelCheck(rt *rapid.T) {
	runModel(rt, func(rt *rapid.T) (func(), modelActions) {
		mm := newMutexMachine(rt)
		return mm.calls.cleanup, modelActions{
			"":           mm.check,
			"lock":       mm.lock,
			"tryLock":    mm.tryLock,
			"unlock":     mm.unlock,
			"cancel":     mm.cancel,
			"cancelRace": mm.cancelRace,
		}
	})
}

func TestMutexModel(t *testing.T) { checkModel(t, mutexModelCheck, true) }

func FuzzMutexModel(f *testing.F) { fuzzModel(f, mutexModelCheck, true) }

// ---------------------------------------------------------------------------
// RWMutex

// rwModelWaiter is a queued RLock or Lock in the model.
type rwModelWaiter struct {
	id    int
	write bool
	grant int // partial grant; only the head's can be non-zero
}

// rwModel is the sequential model of an RWMutex: a batch semaphore of max
// permits where a reader takes 1 and a writer takes max.
type rwModel struct {
	max   int
	avail int
	value int             // id of the last writer, which wrote it through the pointer
	queue []rwModelWaiter // FIFO, oldest first
	held  map[int]string  // locks held by the test: id -> "read" / "write"
	done  map[int]string  // lock goroutines that returned: id -> result
}

func (m *rwModel) need(w rwModelWaiter) int {
	if w.write {
		return m.max
	}
	return 1
}

// granted records that id got the lock it asked for.
func (m *rwModel) granted(id int, write bool) {
	if write {
		m.value = id
		m.held[id] = "write"
		m.done[id] = "write"
	} else {
		m.held[id] = "read"
		m.done[id] = fmt.Sprintf("read v=%d", m.value)
	}
}

// grant hands n permits to the queue exactly as the batch semaphore does.
func (m *rwModel) grant(n int) {
	for n > 0 && len(m.queue) > 0 {
		w := &m.queue[0]
		need := m.need(*w) - w.grant
		if n < need {
			w.grant += n
			return
		}
		n -= need
		m.granted(w.id, w.write)
		m.queue = m.queue[1:]
	}
	if len(m.queue) == 0 {
		m.avail += n
	}
}

// lock models RLock / Lock started by waiter id.
func (m *rwModel) lock(id int, write, precancelled bool) {
	need := m.need(rwModelWaiter{write: write})
	switch {
	case precancelled: // a done ctx fails the call before anything else
		m.done[id] = "canceled"
	case len(m.queue) == 0 && m.avail >= need:
		m.avail -= need
		m.granted(id, write)
	default:
		m.queue = append(m.queue, rwModelWaiter{id: id, write: write, grant: m.avail})
		m.avail = 0
	}
}

// tryLock models TryRLock / TryLock and reports whether it succeeds.
func (m *rwModel) tryLock(id int, write bool) bool {
	need := m.need(rwModelWaiter{write: write})
	if len(m.queue) > 0 || m.avail < need {
		return false
	}
	m.avail -= need
	if write {
		m.value = id
		m.held[id] = "write"
	} else {
		m.held[id] = "read"
	}
	return true
}

func (m *rwModel) cancel(id int) {
	for i, w := range m.queue {
		if w.id == id {
			m.queue = slices.Delete(m.queue, i, i+1)
			m.done[id] = "canceled"
			m.grant(w.grant)
			return
		}
	}
}

func (m *rwModel) clone() rwModel {
	c := *m
	c.queue = slices.Clone(m.queue)
	c.held = maps.Clone(m.held)
	c.done = maps.Clone(m.done)
	return c
}

// raceOutcomes is semModel.raceOutcomes for the RWMutex.
func (m *rwModel) raceOutcomes(r *modelRace[rwModel]) []rwModel {
	first := m.clone()
	first.cancel(r.id)
	r.apply(&first)
	after := m.clone()
	r.apply(&after)
	out := []rwModel{first}
	if _, granted := after.done[r.id]; !granted {
		after.cancel(r.id)
		return append(out, after)
	}
	passed := after.clone()
	n := 1
	if passed.held[r.id] == "write" {
		n = passed.max
	}
	delete(passed.held, r.id)
	passed.done[r.id] = "canceled"
	passed.value = m.value // a writer that returns an error writes nothing
	passed.grant(n)
	return append(out, after, passed)
}

type rwObs struct {
	Available int
	Waiters   int
	HeadGrant int
	Done      map[int]string
	Held      map[int]string
}

func (m *rwModel) obs() rwObs {
	o := rwObs{
		Available: m.avail,
		Waiters:   len(m.queue),
		Done:      maps.Clone(m.done),
		Held:      maps.Clone(m.held),
	}
	if len(m.queue) > 0 {
		o.HeadGrant = m.queue[0].grant
	}
	return o
}

// rwLocked is what a lock goroutine returns besides its error.
type rwLocked struct {
	write bool // Lock, not RLock
	value int  // what a reader read through the pointer
}

// rwMutexMachine drives a real RWMutex[int] next to its model. Writers store their
// id through the pointer they get and readers report what they read, so the
// race detector also checks the lock's happens-before edges.
type rwMutexMachine struct {
	rw *gate.RWMutex[int]
	m  rwModel

	nextID int
	calls  modelCalls[rwLocked] // RLock and Lock goroutines
	held   map[int]string       // locks held by the test: id -> "read" / "write"
	done   map[int]string

	race *modelRace[rwModel] // set by cancelRace until the next check resolves it
}

func newRWMachine(rt *rapid.T) *rwMutexMachine {
	rm := &rwMutexMachine{
		calls: newModelCalls[rwLocked](),
		held:  map[int]string{},
		done:  map[int]string{},
	}
	max := rapid.IntRange(1, 5).Draw(rt, "maxReaders")
	if max == 5 {
		// The zero value admits MaxReaders.
		rm.rw = new(gate.RWMutex[int])
		max = gate.MaxReaders
	} else {
		rm.rw = gate.NewRWMutexMaxReaders(0, max)
	}
	if got := gate.RWMutexMaxReaders(rm.rw); got != max {
		rt.Fatalf("RWMutexMaxReaders = %d, want %d", got, max)
	}
	rm.m = rwModel{max: max, avail: max, held: map[int]string{}, done: map[int]string{}}
	return rm
}

func (rm *rwMutexMachine) newID() int {
	rm.nextID++
	return rm.nextID
}

func (rm *rwMutexMachine) settle(rt *rapid.T) {
	for id, r := range rm.calls.returned() {
		res := resultString(r.err)
		if r.err == nil {
			if r.v.write {
				res = "write"
				rm.held[id] = "write"
			} else {
				res = fmt.Sprintf("read v=%d", r.v.value)
				rm.held[id] = "read"
			}
		}
		rm.done[id] = res
	}
}

func (rm *rwMutexMachine) check(rt *rapid.T) {
	rm.settle(rt)
	got := rwObs{
		Available: gate.RWMutexAvailable(rm.rw),
		Waiters:   gate.RWMutexWaiters(rm.rw),
		HeadGrant: gate.ModelRWMutexHeadGrant(rm.rw),
		Done:      maps.Clone(rm.done),
		Held:      maps.Clone(rm.held),
	}
	if r := rm.race; r != nil {
		rm.race = nil
		rm.m = pickOutcome(rm.m.raceOutcomes(r), (*rwModel).obs, got)
	}
	if diff := cmp.Diff(rm.m.obs(), got); diff != "" {
		rt.Fatalf("RWMutex differs from the model (-model +real):\n%s", diff)
	}
	if len(rm.calls.pending) != len(rm.m.queue) {
		rt.Fatalf("%d lock goroutines parked, model queue has %d", len(rm.calls.pending), len(rm.m.queue))
	}
}

// lock starts RLock or Lock in a goroutine with its own context.
func (rm *rwMutexMachine) lock(rt *rapid.T, write bool) {
	precancelled := drawPrecancelled(rt)
	id := rm.newID()
	ctx := rm.calls.ctx(id, precancelled)
	rw := rm.rw
	rm.calls.start(id, goCall("lock", func() (rwLocked, error) {
		r := rwLocked{write: write}
		var p *int
		var err error
		if write {
			p, err = rw.Lock(ctx)
		} else {
			p, err = rw.RLock(ctx)
		}
		if (err == nil) != (p != nil) {
			err = fmt.Errorf("lock returned pointer %p with error %v", p, err)
		}
		if err == nil {
			if write {
				*p = id
			} else {
				r.value = *p
			}
		}
		return r, err
	}))
	rm.m.lock(id, write, precancelled)
}

func (rm *rwMutexMachine) tryLock(rt *rapid.T, write bool) {
	id := rm.newID()
	var p *int
	var ok bool
	if write {
		p, ok = rm.rw.TryLock()
	} else {
		p, ok = rm.rw.TryRLock()
	}
	if ok != (p != nil) {
		rt.Fatalf("try-lock returned pointer %p with ok = %v", p, ok)
	}
	valueBefore := rm.m.value
	if want := rm.m.tryLock(id, write); ok != want {
		rt.Fatalf("try-lock (write %v) = %v, model: %v", write, ok, want)
	}
	if !ok {
		return
	}
	if write {
		*p = id
		rm.held[id] = "write"
	} else {
		if *p != valueBefore {
			rt.Fatalf("TryRLock read %d, last writer was %d", *p, valueBefore)
		}
		rm.held[id] = "read"
	}
}

// unlock releases a held lock of the given kind.
func (rm *rwMutexMachine) unlock(rt *rapid.T, kind string) {
	locks := map[int]bool{}
	for id, k := range rm.held {
		if k == kind {
			locks[id] = true
		}
	}
	id, ok := pick(rt, locks, kind+" lock")
	if !ok {
		return
	}
	delete(rm.held, id)
	delete(rm.m.held, id)
	if kind == "read" {
		rm.rw.RUnlock()
		rm.m.grant(1)
	} else {
		rm.rw.Unlock()
		rm.m.grant(rm.m.max)
	}
}

// downgrade turns a held write lock into a read lock.
func (rm *rwMutexMachine) downgrade(rt *rapid.T) {
	var id int
	for i, k := range rm.held {
		if k == "write" {
			id = i
		}
	}
	if id == 0 {
		return // no write lock held
	}
	rm.rw.Downgrade()
	rm.held[id] = "read"
	rm.m.held[id] = "read"
	rm.m.grant(rm.m.max - 1)
}

// misuse unlocks an RWMutex that nobody holds: every unlock must panic and
// change nothing.
func (rm *rwMutexMachine) misuse(rt *rapid.T) {
	if len(rm.m.held) != 0 {
		return // a lock is held: an unlock would be legal
	}
	mustPanic(rt, "RUnlock of an unlocked RWMutex", rm.rw.RUnlock)
	mustPanic(rt, "Unlock of an unlocked RWMutex", rm.rw.Unlock)
	mustPanic(rt, "Downgrade of an unlocked RWMutex", rm.rw.Downgrade)
}

func (rm *rwMutexMachine) cancel(rt *rapid.T) {
	cancelPicked(rt, &rm.calls, "waiter", func(id int) { rm.m.cancel(id) })
}

// cancelRace cancels a queued waiter's ctx and, on the test goroutine and
// before the waiter can run, releases a held lock (RUnlock, Unlock or
// Downgrade), in either order; see semaphoreMachine.cancelRace.
func (rm *rwMutexMachine) cancelRace(rt *rapid.T) {
	queued := map[int]bool{}
	for _, w := range rm.m.queue {
		queued[w.id] = true
	}
	if len(rm.held) == 0 {
		return // nothing to release: a plain cancel
	}
	id, ok := pick(rt, queued, "waiter")
	if !ok {
		return
	}
	// Every draw comes before the first change of state; see
	// semaphoreMachine.cancelRace.
	hid, _ := pick(rt, rm.held, "lock")
	downgrade := rm.held[hid] == "write" && rapid.Bool().Draw(rt, "downgrade")
	cancelFirst := rapid.Bool().Draw(rt, "cancelFirst")

	var do func()
	var apply func(*rwModel)
	switch {
	case rm.held[hid] == "read":
		delete(rm.held, hid)
		delete(rm.m.held, hid)
		do = rm.rw.RUnlock
		apply = func(m *rwModel) { m.grant(1) }
	case downgrade:
		rm.held[hid] = "read"
		rm.m.held[hid] = "read"
		do = rm.rw.Downgrade
		apply = func(m *rwModel) { m.grant(m.max - 1) }
	default:
		delete(rm.held, hid)
		delete(rm.m.held, hid)
		do = rm.rw.Unlock
		apply = func(m *rwModel) { m.grant(m.max) }
	}
	cancel := rm.calls.take(id)
	if cancelFirst {
		cancel()
		do()
	} else {
		do()
		cancel()
	}
	rm.race = &modelRace[rwModel]{id: id, apply: apply}
}

func rwMutexModel(rt *rapid.T) {
	runModel(rt, func(rt *rapid.T) (func(), modelActions) {
		rm := newRWMachine(rt)
		return rm.calls.cleanup, modelActions{
			"":           rm.check,
			"rlock":      func(rt *rapid.T) { rm.lock(rt, false) },
			"lock":       func(rt *rapid.T) { rm.lock(rt, true) },
			"tryRLock":   func(rt *rapid.T) { rm.tryLock(rt, false) },
			"tryLock":    func(rt *rapid.T) { rm.tryLock(rt, true) },
			"runlock":    func(rt *rapid.T) { rm.unlock(rt, "read") },
			"unlock":     func(rt *rapid.T) { rm.unlock(rt, "write") },
			"downgrade":  rm.downgrade,
			"misuse":     rm.misuse,
			"cancel":     rm.cancel,
			"cancelRace": rm.cancelRace,
		}
	})
}

func TestRWMutexModel(t *testing.T) { checkModel(t, rwMutexModel, true) }

func FuzzRWMutexModel(f *testing.F) { fuzzModel(f, rwMutexModel, true) }
