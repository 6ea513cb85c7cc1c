package gate_test

// Linearizability tests (layer 3 of TESTING.md).
//
// Real goroutines run real operations on a Mutex and a Semaphore; every call
// is stamped with an atomic counter just before it starts and just after it
// returns, and porcupine then searches for a sequential order of the calls,
// consistent with those intervals, that a sequential model accepts.
//
// The models cannot see the queue, so they take the contract's word for
// everything a queue can do and nothing more. A blocking call is recorded as
// two porcupine operations: a point operation "begin" stamped before the call
// (it counts the call as pending in the model state) and the call itself,
// stamped after the begin, which takes the call off the pending count when it
// is linearized. Pending calls are what may legitimately make a Try call fail
// although the model has the permits free:
//
//   - a queued waiter holds a partial grant (Semaphore) or is next in line, and
//     FIFO fairness forbids a newcomer, TryAcquire included, to go ahead of it.
//
// That leaves no trace once the call has returned, so a Try call may fail
// "spuriously" only while some blocking call is pending; with no blocking call
// at all (the try-only histories) the model is exact. A Mutex has no partial
// grants and a queue implies a holder, so its model is exact: a successful
// Lock is linearized as held from its grant, and a failing Lock has no effect
// (a waiter handed the lock before it could leave the queue returns it).
//
// A blocking call that fails with ctx.Err() may do so in any state: its ctx
// ended during the call, and a done ctx fails even a call that could complete
// at once (API.md, Context). Exactly when a call with a live ctx must wait is
// checked by the rapid models, where ctx ends at known points.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/gophergate/gate"
)

// A linRecorder stamps operations with an atomic counter as the clock and
// collects them per client, so that recording costs no lock.
type linRecorder struct {
	clock   atomic.Int64
	clients [][]porcupine.Operation
}

func newLinRecorder(clients int) *linRecorder {
	return &linRecorder{clients: make([][]porcupine.Operation, clients)}
}

// now returns the next timestamp; every call returns a distinct, larger value.
func (r *linRecorder) now() int64 { return r.clock.Add(1) }

// add records an operation of client c; only c's goroutine calls it for c.
func (r *linRecorder) add(c int, in, out any, call, ret int64) {
	r.clients[c] = append(r.clients[c], porcupine.Operation{
		ClientId: c, Input: in, Output: out, Call: call, Return: ret,
	})
}

// begin records the point operation that marks a blocking call of client c as
// pending and returns the timestamp after it, at which the call itself starts.
func (r *linRecorder) begin(c int, in any) int64 {
	t := r.now()
	r.add(c, in, nil, t, t)
	return r.now()
}

func (r *linRecorder) history() []porcupine.Operation {
	var h []porcupine.Operation
	for _, ops := range r.clients {
		h = append(h, ops...)
	}
	return h
}

// describeCounts returns how often each kind of operation occurs in history,
// for the log: a history without contention would prove little.
func describeCounts(model porcupine.Model, history []porcupine.Operation) string {
	counts := map[string]int{}
	for _, op := range history {
		// Merge sizes and values: "AcquireN(3) -> ok" counts as "AcquireN() -> ok".
		d := strings.Map(func(r rune) rune {
			if '0' <= r && r <= '9' {
				return -1
			}
			return r
		}, model.DescribeOperation(op.Input, op.Output))
		counts[d]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%q: %d; ", k, counts[k])
	}
	return b.String()
}

// checkLinearizable fails t if porcupine finds history illegal for model, and
// writes a visualization of the failure to a file whose name it logs. A check
// that runs out of time is logged, not failed: it found no violation.
func checkLinearizable(t *testing.T, model porcupine.Model, history []porcupine.Operation) {
	t.Helper()
	res, info := porcupine.CheckOperationsVerbose(model, history, 30*time.Second)
	switch res {
	case porcupine.Ok:
	case porcupine.Unknown:
		t.Logf("porcupine timed out on a history of %d operations (no violation found)", len(history))
	default:
		msg := ""
		if f, err := os.CreateTemp("", "gate-linearizability-*.html"); err == nil {
			if err := porcupine.Visualize(model, info, f); err == nil {
				msg = "; visualization in " + f.Name()
			}
			f.Close()
		}
		if os.Getenv("GATE_LIN_DUMP") != "" {
			dumpHistory(t, model, info, history)
		}
		t.Fatalf("history of %d operations is not linearizable%s", len(history), msg)
	}
}

// dumpHistory logs history in call order and the longest partial
// linearization porcupine found, with the model state after each step. It
// runs on a failure when GATE_LIN_DUMP is set in the environment.
func dumpHistory(t *testing.T, model porcupine.Model, info porcupine.LinearizationInfo, history []porcupine.Operation) {
	h := append([]porcupine.Operation(nil), history...)
	sort.Slice(h, func(i, j int) bool { return h[i].Call < h[j].Call })
	for _, op := range h {
		t.Logf("c%d [%d,%d] %s", op.ClientId, op.Call, op.Return, model.DescribeOperation(op.Input, op.Output))
	}
	for _, part := range info.PartialLinearizationsOperations() {
		longest := 0
		for i, l := range part {
			if len(l) > len(part[longest]) {
				longest = i
			}
		}
		if len(part) == 0 {
			continue
		}
		st := model.Init()
		for _, op := range part[longest] {
			_, st = model.Step(st, op.Input, op.Output)
			t.Logf("lin: c%d [%d,%d] %s => %s", op.ClientId, op.Call, op.Return, model.DescribeOperation(op.Input, op.Output), model.DescribeState(st))
		}
	}
}

// Mutex model.

type mutexLinOp int

const (
	mutexLinLock    mutexLinOp = iota // Lock that succeeded; output: value read
	mutexLinFail                      // a Lock that failed with ctx.Err(): no effect
	mutexLinTryLock                   // output: ok and value read
	mutexLinUnlock                    // input: value written before Unlock
)

type mutexLinIn struct {
	op  mutexLinOp
	val int
}

type mutexLinOut struct {
	ok  bool
	val int
}

// mutexLinState is the sequential state of a Mutex[int]: whether it is held
// and the value last written under it. A Lock that fails has no effect: a
// waiter to which the lock was handed before it could leave the queue returns
// the lock, so no lock is ever in transit through a failing call.
type mutexLinState struct {
	held bool
	val  int
}

var mutexLinModel = porcupine.Model{
	Init: func() any { return mutexLinState{} },
	Step: func(state, input, output any) (bool, any) {
		st := state.(mutexLinState)
		in := input.(mutexLinIn)
		switch in.op {
		case mutexLinLock:
			// Mutual exclusion, and the holder sees what the previous
			// holder wrote.
			out := output.(mutexLinOut)
			if st.held || out.val != st.val {
				return false, st
			}
			st.held = true
		case mutexLinFail:
			// Its ctx ended during the call: legal in any state (a done
			// ctx fails even a Lock that could complete at once).
		case mutexLinTryLock:
			out := output.(mutexLinOut)
			if out.ok {
				if st.held || out.val != st.val {
					return false, st
				}
				st.held = true
			} else if !st.held {
				// TryLock fails only if the lock is held (a queue
				// implies a holder).
				return false, st
			}
		case mutexLinUnlock:
			if !st.held {
				return false, st
			}
			st.held = false
			st.val = in.val
		}
		return true, st
	},
	DescribeOperation: func(input, output any) string {
		in := input.(mutexLinIn)
		switch in.op {
		case mutexLinLock:
			return fmt.Sprintf("Lock() -> read %d", output.(mutexLinOut).val)
		case mutexLinFail:
			return "Lock() -> ctx.Err()"
		case mutexLinTryLock:
			out := output.(mutexLinOut)
			if !out.ok {
				return "TryLock() -> false"
			}
			return fmt.Sprintf("TryLock() -> read %d", out.val)
		default:
			return fmt.Sprintf("write %d; Unlock()", in.val)
		}
	},
	DescribeState: func(state any) string {
		st := state.(mutexLinState)
		return fmt.Sprintf("held=%v val=%d", st.held, st.val)
	},
}

// TestMutexLinearizable checks that Lock, TryLock and Unlock on a Mutex[int]
// are linearizable with respect to a lock that owns a value: at most one
// holder at a time, each holder reads exactly what the previous one wrote
// (every write is unique), TryLock fails only while the lock is held or in
// transit, and a Lock fails with ctx.Err() only if it had to wait.
func TestMutexLinearizable(t *testing.T) {
	watchdog(t)
	clients, iters, rounds := 6, 40, shortOr(60, 4)
	seed := logSeed(t)
	var all []porcupine.Operation
	for round := range rounds {
		var m gate.Mutex[int]
		rec := newLinRecorder(clients)
		var wg sync.WaitGroup
		for c := range clients {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(seed, uint64(round*clients+c)))
				for i := range iters {
					var p *int
					if r.IntN(3) == 0 {
						call := rec.now()
						var ok bool
						p, ok = m.TryLock()
						out := mutexLinOut{ok: ok}
						if ok {
							out.val = *p
						}
						rec.add(c, mutexLinIn{op: mutexLinTryLock}, out, call, rec.now())
						if !ok {
							continue
						}
					} else {
						ctx, cancel := randomCtx(r, context.Background())
						call := rec.now()
						var err error
						p, err = m.Lock(ctx)
						if err != nil {
							ret := rec.now()
							checkStormErr(t, "Lock", ctx, err)
							cancel()
							if p != nil {
								t.Errorf("Lock failed with %v but returned a pointer", err)
							}
							rec.add(c, mutexLinIn{op: mutexLinFail}, nil, call, ret)
							continue
						}
						out := mutexLinOut{ok: true, val: *p}
						ret := rec.now()
						cancel()
						rec.add(c, mutexLinIn{op: mutexLinLock}, out, call, ret)
					}
					for range r.IntN(3) {
						runtime.Gosched()
					}
					v := (c+1)*1_000_000 + round*1000 + i + 1
					*p = v
					call := rec.now()
					m.Unlock()
					rec.add(c, mutexLinIn{op: mutexLinUnlock, val: v}, nil, call, rec.now())
				}
			})
		}
		waitLive(t, &wg, func() string {
			return fmt.Sprintf("locked=%v waiters=%d", gate.MutexLocked(&m), gate.MutexWaiters(&m))
		})
		if t.Failed() {
			return
		}
		if gate.MutexLocked(&m) || gate.MutexWaiters(&m) != 0 {
			t.Fatalf("round %d: mutex left locked=%v waiters=%d", round, gate.MutexLocked(&m), gate.MutexWaiters(&m))
		}
		h := rec.history()
		checkLinearizable(t, mutexLinModel, h)
		all = append(all, h...)
	}
	t.Logf("%d rounds: %s", rounds, describeCounts(mutexLinModel, all))
}

// Semaphore model.

type semLinOp int

const (
	semLinBegin   semLinOp = iota // a blocking AcquireN starts: pending
	semLinAcquire                 // AcquireN(n) returns
	semLinTry                     // TryAcquireN(n) returns
	semLinRelease                 // Release of a Permit holding n
	semLinClose                   // Close
)

type semLinIn struct {
	op semLinOp
	n  int
}

type semLinRes int

const (
	semLinOK semLinRes = iota
	semLinNoPermits
	semLinClosed
	semLinCtx // ctx.Err()
)

// semLinState is the sequential state of a Semaphore: the permits neither held
// by a caller whose acquire returned nor lost (partial grants of queued
// waiters count as available: their call has not taken effect), the number of
// pending AcquireN calls, and whether it is closed.
type semLinState struct {
	avail   int
	pending int
	closed  bool
}

// semLinModel returns the model of a Semaphore created with permits permits.
//
// Sequential spec, for n >= 1:
//
//   - AcquireN(n) succeeds iff open and n <= avail, taking n; it fails with
//     ErrClosed iff closed; with ctx.Err() in any state, since its ctx ended
//     during the call and a done ctx fails even a call that could complete
//     at once (the rapid models check exactly when a live ctx must wait).
//   - TryAcquireN(n) succeeds iff open and n <= avail; ErrClosed iff closed;
//     ErrNoPermits if open and n > avail, or if an AcquireN is pending (it may
//     be queued ahead, hold a partial grant or a grant in transit).
//   - Release(n) adds n, never above the initial count.
//   - Close closes.
func semLinModel(permits int) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return semLinState{avail: permits} },
		Step: func(state, input, output any) (bool, any) {
			st := state.(semLinState)
			in := input.(semLinIn)
			switch in.op {
			case semLinBegin:
				st.pending++
			case semLinAcquire:
				if st.pending < 1 {
					return false, st
				}
				st.pending--
				switch output.(semLinRes) {
				case semLinOK:
					if st.closed || in.n > st.avail {
						return false, st
					}
					st.avail -= in.n
				case semLinClosed:
					if !st.closed {
						return false, st
					}
				case semLinCtx:
				default:
					return false, st
				}
			case semLinTry:
				switch output.(semLinRes) {
				case semLinOK:
					if st.closed || in.n > st.avail {
						return false, st
					}
					st.avail -= in.n
				case semLinNoPermits:
					if st.closed || in.n <= st.avail && st.pending < 1 {
						return false, st
					}
				case semLinClosed:
					if !st.closed {
						return false, st
					}
				default:
					return false, st
				}
			case semLinRelease:
				st.avail += in.n
				if st.avail > permits {
					return false, st
				}
			case semLinClose:
				st.closed = true
			}
			return true, st
		},
		DescribeOperation: func(input, output any) string {
			in := input.(semLinIn)
			res := func() string {
				return [...]string{"ok", "ErrNoPermits", "ErrClosed", "ctx.Err()"}[output.(semLinRes)]
			}
			switch in.op {
			case semLinBegin:
				return fmt.Sprintf("begin AcquireN(%d)", in.n)
			case semLinAcquire:
				return fmt.Sprintf("AcquireN(%d) -> %s", in.n, res())
			case semLinTry:
				return fmt.Sprintf("TryAcquireN(%d) -> %s", in.n, res())
			case semLinRelease:
				return fmt.Sprintf("Release(%d)", in.n)
			default:
				return "Close()"
			}
		},
		DescribeState: func(state any) string {
			st := state.(semLinState)
			return fmt.Sprintf("avail=%d pending=%d closed=%v", st.avail, st.pending, st.closed)
		},
	}
}

// TestSemaphoreLinearizable checks AcquireN, TryAcquireN, Release and Close
// on a Semaphore with few permits against semLinModel, in three kinds of
// history: TryAcquireN only (the model is exact), TryAcquireN mixed with
// blocking AcquireN under random ctx cancellation, and the same with a Close
// in the middle.
func TestSemaphoreLinearizable(t *testing.T) {
	watchdog(t)
	for _, tc := range []struct {
		name        string
		blocking    bool
		closeMidway bool
	}{
		{"try-only", false, false},
		{"mixed", true, false},
		{"mixed-close", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testSemaphoreLinearizable(t, tc.blocking, tc.closeMidway)
		})
	}
}

func testSemaphoreLinearizable(t *testing.T, blocking, closeMidway bool) {
	const permits = 4
	clients, iters, rounds := 6, 30, shortOr(40, 3)
	seed := logSeed(t)
	var all []porcupine.Operation
	for round := range rounds {
		s := gate.NewSemaphore(permits)
		rec := newLinRecorder(clients)
		var wg sync.WaitGroup
		for c := range clients {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(seed, uint64(round*clients+c)))
				for i := range iters {
					if closeMidway && c == 0 && i == iters*2/3 {
						call := rec.now()
						s.Close()
						rec.add(c, semLinIn{op: semLinClose}, nil, call, rec.now())
					}
					n := 1 + r.IntN(permits)
					if r.IntN(2) == 0 {
						n = 1 // small requests make the queue interesting
					}
					var p gate.Permit
					var err error
					var res semLinRes
					if !blocking || r.IntN(3) == 0 {
						call := rec.now()
						p, err = s.TryAcquireN(n)
						ret := rec.now()
						switch err {
						case nil:
							res = semLinOK
						case gate.ErrNoPermits:
							res = semLinNoPermits
						case gate.ErrClosed:
							res = semLinClosed
						default:
							t.Errorf("TryAcquireN(%d): unexpected error %v", n, err)
							return
						}
						rec.add(c, semLinIn{op: semLinTry, n: n}, res, call, ret)
					} else {
						ctx, cancel := randomCtx(r, context.Background())
						call := rec.begin(c, semLinIn{op: semLinBegin, n: n})
						p, err = s.AcquireN(ctx, n)
						ret := rec.now()
						switch err {
						case nil:
							res = semLinOK
						case gate.ErrClosed:
							res = semLinClosed
						default:
							checkStormErr(t, "AcquireN", ctx, err)
							res = semLinCtx
						}
						cancel()
						rec.add(c, semLinIn{op: semLinAcquire, n: n}, res, call, ret)
					}
					if err != nil {
						if p.Count() != 0 {
							t.Errorf("failed acquire holds %d permits", p.Count())
						}
						continue
					}
					if p.Count() != n {
						t.Errorf("acquired %d permits, holds %d", n, p.Count())
					}
					for range r.IntN(3) {
						runtime.Gosched()
					}
					if n >= 2 && r.IntN(2) == 0 {
						// Give the permits back in two parts.
						q, _ := p.Split(1 + r.IntN(n-1))
						k := q.Count()
						call := rec.now()
						q.Release()
						rec.add(c, semLinIn{op: semLinRelease, n: k}, nil, call, rec.now())
						runtime.Gosched()
					}
					k := p.Count()
					call := rec.now()
					p.Release()
					rec.add(c, semLinIn{op: semLinRelease, n: k}, nil, call, rec.now())
				}
			})
		}
		waitLive(t, &wg, func() string {
			return fmt.Sprintf("Available()=%d waiters=%d head grant=%d",
				s.Available(), gate.SemaphoreWaiters(s), gate.SemaphoreHeadGrant(s))
		})
		if t.Failed() {
			return
		}
		if got := s.Available(); got != permits {
			t.Fatalf("round %d: Available() = %d after every permit was released, want %d", round, got, permits)
		}
		if w := gate.SemaphoreWaiters(s); w != 0 {
			t.Fatalf("round %d: %d waiters left", round, w)
		}
		h := rec.history()
		checkLinearizable(t, semLinModel(permits), h)
		all = append(all, h...)
	}
	t.Logf("%d rounds: %s", rounds, describeCounts(semLinModel(permits), all))
}

// TestLinearizabilityModelsRejectViolations makes sure the models are not
// vacuous: histories that break the contract are found illegal.
func TestLinearizabilityModelsRejectViolations(t *testing.T) {
	op := func(c int, in, out any, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: in, Output: out, Call: call, Return: ret}
	}
	for _, tc := range []struct {
		name  string
		model porcupine.Model
		hist  []porcupine.Operation
	}{
		{"mutex two holders", mutexLinModel, []porcupine.Operation{
			op(0, mutexLinIn{op: mutexLinLock}, mutexLinOut{ok: true}, 1, 2),
			op(1, mutexLinIn{op: mutexLinTryLock}, mutexLinOut{ok: true}, 3, 4),
		}},
		{"mutex stale read", mutexLinModel, []porcupine.Operation{
			op(0, mutexLinIn{op: mutexLinLock}, mutexLinOut{ok: true}, 1, 2),
			op(0, mutexLinIn{op: mutexLinUnlock, val: 7}, nil, 3, 4),
			op(1, mutexLinIn{op: mutexLinLock}, mutexLinOut{ok: true, val: 0}, 5, 6),
		}},
		{"mutex spurious TryLock failure", mutexLinModel, []porcupine.Operation{
			op(0, mutexLinIn{op: mutexLinTryLock}, mutexLinOut{}, 1, 2),
		}},
		{"mutex TryLock fails while a failing Lock has the lock in transit", mutexLinModel, []porcupine.Operation{
			op(0, mutexLinIn{op: mutexLinLock}, mutexLinOut{ok: true}, 1, 2),
			op(1, mutexLinIn{op: mutexLinFail}, nil, 4, 9),
			op(0, mutexLinIn{op: mutexLinUnlock, val: 1}, nil, 5, 6),
			op(0, mutexLinIn{op: mutexLinTryLock}, mutexLinOut{}, 7, 8),
		}},
		{"semaphore overdraw", semLinModel(2), []porcupine.Operation{
			op(0, semLinIn{op: semLinTry, n: 2}, semLinOK, 1, 2),
			op(1, semLinIn{op: semLinTry, n: 1}, semLinOK, 3, 4),
		}},
		{"semaphore spurious ErrNoPermits", semLinModel(2), []porcupine.Operation{
			op(0, semLinIn{op: semLinTry, n: 1}, semLinOK, 1, 2),
			op(1, semLinIn{op: semLinTry, n: 1}, semLinNoPermits, 3, 4),
		}},
		{"semaphore acquire after close", semLinModel(2), []porcupine.Operation{
			op(0, semLinIn{op: semLinClose}, nil, 1, 2),
			op(1, semLinIn{op: semLinBegin, n: 1}, nil, 3, 3),
			op(1, semLinIn{op: semLinAcquire, n: 1}, semLinOK, 4, 5),
		}},
		{"semaphore release inflates", semLinModel(2), []porcupine.Operation{
			op(0, semLinIn{op: semLinTry, n: 1}, semLinOK, 1, 2),
			op(0, semLinIn{op: semLinRelease, n: 1}, nil, 3, 4),
			op(0, semLinIn{op: semLinRelease, n: 1}, nil, 5, 6),
		}},
	} {
		if porcupine.CheckOperations(tc.model, tc.hist) {
			t.Errorf("%s: model accepts an illegal history", tc.name)
		}
	}
	for _, tc := range []struct {
		name  string
		model porcupine.Model
		hist  []porcupine.Operation
	}{
		{"semaphore TryAcquire behind a pending AcquireN", semLinModel(2), []porcupine.Operation{
			op(1, semLinIn{op: semLinTry, n: 1}, semLinOK, 1, 2),
			op(0, semLinIn{op: semLinBegin, n: 2}, nil, 3, 3),
			op(1, semLinIn{op: semLinTry, n: 1}, semLinNoPermits, 4, 5),
			op(0, semLinIn{op: semLinAcquire, n: 2}, semLinCtx, 4, 7),
		}},
		{"mutex Lock fails while the lock is free", mutexLinModel, []porcupine.Operation{
			op(0, mutexLinIn{op: mutexLinFail}, nil, 1, 2),
			op(1, mutexLinIn{op: mutexLinTryLock}, mutexLinOut{ok: true}, 3, 4),
		}},
	} {
		if !porcupine.CheckOperations(tc.model, tc.hist) {
			t.Errorf("%s: model rejects a legal history", tc.name)
		}
	}
}
