package bench

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gophergate/gate"
)

// Notify and Barrier against what a Go user writes instead: a pair of
// buffered channels for a ping-pong, closing a channel to wake many
// goroutines, and a sync.Cond cyclic barrier.

// A pingPongImpl is one way for two goroutines to take turns: ping (run by
// the benchmark goroutine) wakes the partner and waits for its reply; pong
// (run by the partner) waits to be woken and replies. One op is a round trip.
type pingPongImpl struct {
	name string
	pair func(ctx context.Context) (ping, pong func())
}

func pingPongImpls() []pingPongImpl {
	return []pingPongImpl{
		{"gate", func(ctx context.Context) (ping, pong func()) {
			var there, back gate.Notify
			return func() {
					there.NotifyOne()
					_ = back.Wait(ctx)
				}, func() {
					_ = there.Wait(ctx)
					back.NotifyOne()
				}
		}},
		{"chan", func(ctx context.Context) (ping, pong func()) {
			there, back := make(chan struct{}, 1), make(chan struct{}, 1)
			done := ctx.Done()
			if done == nil {
				return func() {
						there <- struct{}{}
						<-back
					}, func() {
						<-there
						back <- struct{}{}
					}
			}
			// With a ctx that can end, a user selects on it too.
			return func() {
					there <- struct{}{}
					select {
					case <-back:
					case <-done:
					}
				}, func() {
					select {
					case <-there:
					case <-done:
					}
					back <- struct{}{}
				}
		}},
	}
}

func benchPingPong(b *testing.B, ctx context.Context) {
	for _, im := range pingPongImpls() {
		b.Run("impl="+im.name, func(b *testing.B) {
			b.ReportAllocs()
			ping, pong := im.pair(ctx)
			var wg sync.WaitGroup
			n := b.N
			wg.Go(func() {
				for range n {
					pong()
				}
			})
			b.ResetTimer()
			for range n {
				ping()
			}
			wg.Wait()
		})
	}
}

// BenchmarkNotifyPingPong: two goroutines take turns through two Notify
// (NotifyOne, then Wait for the reply) against two channels of capacity 1.
func BenchmarkNotifyPingPong(b *testing.B) {
	b.Run("ctx=background", func(b *testing.B) { benchPingPong(b, context.Background()) })
	b.Run("ctx=cancel", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		benchPingPong(b, ctx)
	})
}

// A wakeAllImpl wakes a crowd of goroutines at once. arm is called by a
// waiter before it announces that it waits (it registers for the next wake);
// wait waits on what arm returned; wake (the benchmark goroutine) wakes every
// goroutine that armed before it.
type wakeAllImpl struct {
	name string
	make func() (arm func() func(), wake func())
}

func wakeAllImpls() []wakeAllImpl {
	return []wakeAllImpl{
		{"gate", func() (arm func() func(), wake func()) {
			var n gate.Notify
			return func() func() {
				w := n.Notified()
				return func() { _ = w.Wait(ctx) }
			}, n.NotifyWaiters
		}},
		{"chan", func() (arm func() func(), wake func()) {
			// The channel idiom: close the current channel and put a new
			// one in its place for the next round.
			var cur atomic.Pointer[chan struct{}]
			ch := make(chan struct{})
			cur.Store(&ch)
			return func() func() {
					c := *cur.Load()
					return func() { <-c }
				}, func() {
					next := make(chan struct{})
					close(*cur.Swap(&next))
				}
		}},
	}
}

// BenchmarkNotifyWaiters: one op wakes 100 goroutines that wait, and waits
// until all of them are waiting again: NotifyWaiters against closing a
// channel.
func BenchmarkNotifyWaiters(b *testing.B) {
	const waiters = 100
	for _, im := range wakeAllImpls() {
		b.Run("waiters=100/impl="+im.name, func(b *testing.B) {
			b.ReportAllocs()
			arm, wake := im.make()
			var armed atomic.Int64
			var stop atomic.Bool
			var wg sync.WaitGroup
			for range waiters {
				wg.Go(func() {
					for {
						wait := arm()
						armed.Add(1)
						wait()
						if stop.Load() {
							return
						}
					}
				})
			}
			waitArmed := func() {
				for armed.Load() < waiters {
					runtime.Gosched()
				}
				armed.Store(0)
			}
			b.ResetTimer()
			for range b.N {
				waitArmed()
				wake()
			}
			waitArmed()
			stop.Store(true)
			wake()
			wg.Wait()
		})
	}
}

// cyclicBarrier is the sync.Cond barrier a Go user writes by hand.
type cyclicBarrier struct {
	mu      sync.Mutex
	cond    sync.Cond
	n       int
	arrived int
	gen     uint64
}

func newCyclicBarrier(n int) *cyclicBarrier {
	b := &cyclicBarrier{n: n}
	b.cond.L = &b.mu
	return b
}

func (b *cyclicBarrier) Wait() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.arrived++
	if b.arrived == b.n {
		b.arrived = 0
		b.gen++
		b.cond.Broadcast()
		return true
	}
	gen := b.gen
	for gen == b.gen {
		b.cond.Wait()
	}
	return false
}

func barrierImpls(n int) []impl {
	return []impl{
		{"gate", func() func(int) {
			b := gate.NewBarrier(n)
			return func(int) { _, _ = b.Wait(ctx) }
		}},
		{"cond", func() func(int) {
			b := newCyclicBarrier(n)
			return func(int) { b.Wait() }
		}},
	}
}

// everyone returns a driver that runs op b.N times on each of g goroutines:
// one op is one generation of a barrier of g.
func everyone(g int) func(b *testing.B, op func(int)) {
	return together(g, func(b *testing.B, _ int) int { return b.N })
}

// BenchmarkBarrier: 8 goroutines pass a barrier of 8 again and again; one op
// is one generation.
func BenchmarkBarrier(b *testing.B) {
	b.Run("goroutines=8", func(b *testing.B) { run(b, barrierImpls(8), everyone(8)) })
}
