package etcd_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/gophergate/gate/etcd"
)

// The benchmarks compare gate/etcd with etcd's own client/v3/concurrency package (and a
// raw clientv3 watch) on the same embedded server: impl=gate against impl=concurrency or
// impl=clientv3. Each op is one round trip pattern, so the figures are dominated by the
// server's latency, and the ratio is what matters.

// locker is what both implementations offer to the benchmarks.
type locker interface {
	Lock(context.Context) error
	Unlock(context.Context) error
}

type gateLocker struct{ m *etcd.Mutex }

func (l gateLocker) Lock(ctx context.Context) error   { _, err := l.m.Lock(ctx); return err }
func (l gateLocker) Unlock(ctx context.Context) error { return l.m.Unlock(ctx) }

// lockers returns n lockers of one name, each through its own session.
func lockers(b *testing.B, impl string, c *clientv3.Client, n int) []locker {
	ls := make([]locker, n)
	nm := "gate-bench/" + b.Name()
	for i := range ls {
		switch impl {
		case "gate":
			ls[i] = gateLocker{etcd.NewMutex(newSession(b, c, 10*time.Second), nm)}
		case "concurrency":
			s, err := concurrency.NewSession(c, concurrency.WithTTL(10))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			ls[i] = concurrency.NewMutex(s, nm)
		}
	}
	return ls
}

// BenchmarkMutexUncontended is one Lock and Unlock of a free lock.
func BenchmarkMutexUncontended(b *testing.B) {
	c := newClient(b, server.Endpoint)
	for _, impl := range []string{"gate", "concurrency"} {
		b.Run("impl="+impl, func(b *testing.B) {
			l := lockers(b, impl, c, 1)[0]
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := l.Lock(ctx); err != nil {
					b.Fatal(err)
				}
				if err := l.Unlock(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMutexContended has 8 sessions take turns at one lock; an op is one hand-off
// (Lock, Unlock), so ns/op is the time from one holder's Unlock to the next's Lock
// returning, plus the Unlock itself.
func BenchmarkMutexContended(b *testing.B) {
	c := newClient(b, server.Endpoint)
	for _, impl := range []string{"gate", "concurrency"} {
		b.Run("impl="+impl+"/sessions=8", func(b *testing.B) {
			ls := lockers(b, impl, c, 8)
			ctx := context.Background()
			b.ReportAllocs()
			var mu sync.Mutex
			n := b.N
			b.ResetTimer()
			var wg sync.WaitGroup
			for _, l := range ls {
				wg.Go(func() {
					for {
						if err := l.Lock(ctx); err != nil {
							b.Error(err)
							return
						}
						mu.Lock()
						n--
						last := n < 0
						mu.Unlock()
						if err := l.Unlock(ctx); err != nil {
							b.Error(err)
							return
						}
						if last {
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// BenchmarkWatch is one Put of the watched key and the watcher learning of it: Changed
// returning for gate, the next response on the watch channel for clientv3.
func BenchmarkWatch(b *testing.B) {
	c := newClient(b, server.Endpoint)
	ctx := b.Context()
	key := "gate-bench/watch"
	b.Run("impl=gate", func(b *testing.B) {
		rx, err := etcd.Watch(ctx, c, key, func(v []byte) ([]byte, error) { return v, nil })
		if err != nil {
			b.Fatal(err)
		}
		putLoop(b, ctx, c, key, func() {
			if err := rx.Changed(ctx); err != nil {
				b.Fatal(err)
			}
			rx.BorrowAndUpdate()
		})
	})
	b.Run("impl=clientv3", func(b *testing.B) {
		resp, err := c.Get(ctx, key)
		if err != nil {
			b.Fatal(err)
		}
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		wch := c.Watch(wctx, key, clientv3.WithRev(resp.Header.Revision+1))
		putLoop(b, ctx, c, key, func() {
			if wr := <-wch; wr.Err() != nil || len(wr.Events) == 0 {
				b.Fatalf("watch response %+v", wr)
			}
		})
	})
}

// putLoop is BenchmarkWatch's loop: each round Puts a new value of key, then waits in
// seen until the watcher has learnt of it.
func putLoop(b *testing.B, ctx context.Context, c *clientv3.Client, key string, seen func()) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := c.Put(ctx, key, strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
		seen()
	}
}
