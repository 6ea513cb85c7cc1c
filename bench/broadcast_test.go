package bench

import (
	"sync"
	"testing"

	"github.com/gophergate/gate"
)

// A fanout is one sender delivering every value to a fixed set of receiver
// goroutines. start starts the receivers; send sends one value; stop closes
// the sending side and waits until every receiver has drained and returned.
type fanout struct {
	send func(i int)
	stop func()
}

// fanoutImpl is an implementation of a one-to-many channel.
type fanoutImpl struct {
	name  string
	start func(receivers, capacity int) fanout
}

// runFanout benchmarks every implementation as sub-benchmarks impl=<name>:
// one op is one value sent and received by every receiver (the receivers'
// drain at the end is inside the timed region).
func runFanout(b *testing.B, impls []fanoutImpl, receivers, capacity int) {
	for _, im := range impls {
		b.Run("impl="+im.name, func(b *testing.B) {
			b.ReportAllocs()
			f := im.start(receivers, capacity)
			i := 0
			for b.Loop() {
				f.send(i)
				i++
			}
			f.stop()
		})
	}
}

// checkOrder fails the benchmark if a receiver gets values out of order: a
// broken channel must not pass as a fast one.
func checkOrder(b *testing.B, want *int, got int) {
	if got != *want {
		b.Errorf("receiver got %d, want %d", got, *want)
	}
	*want = got + 1
}

func fanoutImpls(b *testing.B) []fanoutImpl {
	return []fanoutImpl{
		{"gate", func(receivers, capacity int) fanout {
			// gate's broadcast with backpressure: SendWait never lets a
			// receiver lag, so every receiver gets every value.
			tx, rx := gate.Broadcast[int](capacity)
			rxs := []*gate.BroadcastReceiver[int]{rx}
			for len(rxs) < receivers {
				rxs = append(rxs, tx.Subscribe())
			}
			var wg sync.WaitGroup
			for _, r := range rxs {
				wg.Go(func() {
					want := 0
					for {
						v, err := r.Recv(ctx)
						if err != nil {
							if err != gate.ErrClosed {
								b.Error(err)
							}
							r.Close()
							return
						}
						checkOrder(b, &want, v)
					}
				})
			}
			return fanout{
				send: func(i int) {
					if _, err := tx.SendWait(ctx, i); err != nil {
						b.Fatal(err)
					}
				},
				stop: func() { tx.Close(); wg.Wait() },
			}
		}},
		{"chan", func(receivers, capacity int) fanout {
			// What a Go user writes instead: one buffered channel per
			// receiver, the sender sends each value on every one.
			chs := make([]chan int, receivers)
			var wg sync.WaitGroup
			for i := range chs {
				ch := make(chan int, capacity)
				chs[i] = ch
				wg.Go(func() {
					want := 0
					for v := range ch {
						checkOrder(b, &want, v)
					}
				})
			}
			return fanout{
				send: func(i int) {
					for _, ch := range chs {
						ch <- i
					}
				},
				stop: func() {
					for _, ch := range chs {
						close(ch)
					}
					wg.Wait()
				},
			}
		}},
	}
}

// BenchmarkBroadcastFanout is the target: 1 sender, 4 receivers,
// capacity 1024, every value delivered to every receiver.
func BenchmarkBroadcastFanout(b *testing.B) {
	b.Run("receivers=4/cap=1024", func(b *testing.B) { runFanout(b, fanoutImpls(b), 4, 1024) })
	b.Run("receivers=1/cap=1024", func(b *testing.B) { runFanout(b, fanoutImpls(b), 1, 1024) })
	b.Run("receivers=4/cap=16", func(b *testing.B) { runFanout(b, fanoutImpls(b), 4, 16) })
}

// BenchmarkBroadcastSendTryRecv is the uncontended path on one goroutine: a
// Send (gate) or a send on each of 4 channels, then every receiver takes the
// value with TryRecv (a non-blocking receive).
func BenchmarkBroadcastSendTryRecv(b *testing.B) {
	const receivers = 4
	b.Run("impl=gate", func(b *testing.B) {
		b.ReportAllocs()
		tx, rx := gate.Broadcast[int](64)
		rxs := []*gate.BroadcastReceiver[int]{rx}
		for len(rxs) < receivers {
			rxs = append(rxs, tx.Subscribe())
		}
		i := 0
		for b.Loop() {
			tx.Send(i)
			for _, r := range rxs {
				if v, err := r.TryRecv(); err != nil || v != i {
					b.Fatal(v, err)
				}
			}
			i++
		}
	})
	b.Run("impl=chan", func(b *testing.B) {
		b.ReportAllocs()
		chs := make([]chan int, receivers)
		for i := range chs {
			chs[i] = make(chan int, 64)
		}
		i := 0
		for b.Loop() {
			for _, ch := range chs {
				ch <- i
			}
			for _, ch := range chs {
				select {
				case v := <-ch:
					if v != i {
						b.Fatal(v)
					}
				default:
					b.Fatal("empty")
				}
			}
			i++
		}
	})
}
