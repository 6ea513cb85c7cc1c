package bench

import (
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gophergate/gate"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"
)

// Benchmarks of the "beyond tokio" primitives against what a Go user writes
// without gate: Group against errgroup with SetLimit, KeyedMutex against a
// map of reference-counted sync.Mutexes under one lock (the design of
// github.com/moby/locker, written out below), and Flight against
// singleflight.

// groupTasks is the number of tasks of one Group benchmark op.
const groupTasks = 10_000

// groupImpls run groupTasks small tasks, at most limit at once, then wait:
// one op is the whole batch (ns/task and allocs/task are reported beside it).
func groupImpls(limit int) []impl {
	task := func(n *atomic.Int64) func() { return func() { n.Add(1) } }
	return []impl{
		{"gate", func() func(int) {
			return func(int) {
				var n atomic.Int64
				add := task(&n)
				g, _ := gate.NewGroup(ctx, limit)
				for range groupTasks {
					_ = g.Go(ctx, func(context.Context) error { add(); return nil })
				}
				_ = g.Wait()
				if n.Load() != groupTasks {
					panic("bench: lost tasks")
				}
			}
		}},
		{"errgroup", func() func(int) {
			return func(int) {
				var n atomic.Int64
				add := task(&n)
				g, _ := errgroup.WithContext(ctx)
				g.SetLimit(limit)
				for range groupTasks {
					g.Go(func() error { add(); return nil })
				}
				_ = g.Wait()
				if n.Load() != groupTasks {
					panic("bench: lost tasks")
				}
			}
		}},
	}
}

func BenchmarkGroup(b *testing.B) {
	b.Run("tasks=10000/limit=8", func(b *testing.B) {
		for _, im := range groupImpls(8) {
			b.Run("impl="+im.name, func(b *testing.B) {
				b.ReportAllocs()
				op := im.op()
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				serial(b, op)
				runtime.ReadMemStats(&ms1)
				tasks := float64(b.N) * groupTasks
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/tasks, "ns/task")
				b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/tasks, "allocs/task")
			})
		}
	})
}

// A lockerPeer is the design of github.com/moby/locker: one map of
// per-name mutexes under one sync.Mutex, each with a count of the
// goroutines that wait for it, so that the last Unlock deletes it.
type lockerPeer struct {
	mu    sync.Mutex
	locks map[int]*lockerCtr
}

type lockerCtr struct {
	mu      sync.Mutex
	waiters atomic.Int32 // goroutines waiting for or holding mu
}

func (l *lockerPeer) Lock(key int) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[int]*lockerCtr{}
	}
	c, ok := l.locks[key]
	if !ok {
		c = &lockerCtr{}
		l.locks[key] = c
	}
	c.waiters.Add(1)
	l.mu.Unlock()
	c.mu.Lock()
	c.waiters.Add(-1)
}

func (l *lockerPeer) Unlock(key int) {
	l.mu.Lock()
	c, ok := l.locks[key]
	if !ok {
		l.mu.Unlock()
		panic("bench: unlock of unlocked key")
	}
	if c.waiters.Load() == 0 {
		delete(l.locks, key)
	}
	c.mu.Unlock()
	l.mu.Unlock()
}

// keyedImpls lock and unlock a key drawn at random from keys (keys 1: one hot
// key).
func keyedImpls(keys int) []impl {
	draw := func() int {
		if keys == 1 {
			return 0
		}
		return int(rand.Uint32() % uint32(keys))
	}
	return []impl{
		{"gate", func() func(int) {
			var m gate.KeyedMutex[int]
			return func(int) {
				k := draw()
				_ = m.Lock(ctx, k)
				m.Unlock(k)
			}
		}},
		{"locker", func() func(int) {
			var l lockerPeer
			return func(int) {
				k := draw()
				l.Lock(k)
				l.Unlock(k)
			}
		}},
	}
}

// hotKeyImpls compare one hot key of a KeyedMutex with a plain gate Mutex:
// what the per-key table costs.
func hotKeyImpls() []impl {
	return []impl{
		keyedImpls(1)[0],
		{"mutex", func() func(int) {
			var m gate.Mutex[struct{}]
			return func(int) {
				_, _ = m.Lock(ctx)
				m.Unlock()
			}
		}},
	}
}

func BenchmarkKeyedMutex(b *testing.B) {
	b.Run("uncontended", func(b *testing.B) { run(b, keyedImpls(1024), serial) })
	b.Run("keys=1024/parallel", func(b *testing.B) { run(b, keyedImpls(1024), parallel) })
	b.Run("hotkey/goroutines=8", func(b *testing.B) { run(b, hotKeyImpls(), goroutines(8)) })
}

// flightLoad is the function behind every Flight call: it yields once, so
// that callers arriving meanwhile join the call in flight.
func flightLoad() int {
	runtime.Gosched()
	return 42
}

// flightImpls call one key from every goroutine of the driver.
func flightImpls() []impl {
	return []impl{
		{"gate", func() func(int) {
			var f gate.Flight[string, int]
			fn := func(context.Context) (int, error) { return flightLoad(), nil }
			return func(int) {
				v, _, _ := f.Do(ctx, "k", fn)
				use(v)
			}
		}},
		{"gate-cancelctx", func() func(int) {
			// A caller ctx that can end: fn runs in a goroutine of its own,
			// so that every caller can give up alone.
			var f gate.Flight[string, int]
			cctx, cancel := context.WithCancel(ctx)
			_ = cancel // lives as long as the benchmark
			fn := func(context.Context) (int, error) { return flightLoad(), nil }
			return func(int) {
				v, _, _ := f.Do(cctx, "k", fn)
				use(v)
			}
		}},
		{"singleflight", func() func(int) {
			var f singleflight.Group
			fn := func() (any, error) { return flightLoad(), nil }
			return func(int) {
				v, _, _ := f.Do("k", fn)
				use(v.(int))
			}
		}},
	}
}

func BenchmarkFlight(b *testing.B) {
	b.Run("callers=100", func(b *testing.B) { run(b, flightImpls(), goroutines(100)) })
}
