package bench

import (
	"testing"
	"time"

	"github.com/gophergate/gate"
	"github.com/puzpuzpuz/xsync/v4"
)

// A pipe is one implementation of a multi-producer, single-consumer queue
// for the mpsc benchmarks: make returns a send function that producers call
// from many goroutines and a receive loop that the benchmark goroutine runs
// until it has taken n values.
type pipe struct {
	name string
	make func(capacity int) (send func(v int), recv func(n int))
}

// runPipes benchmarks every pipe with the same driver, as sub-benchmarks
// impl=<name>: producers goroutines send b.N values in total while the
// benchmark goroutine receives them. One op is one value through the queue.
func runPipes(b *testing.B, pipes []pipe, capacity, producers int) {
	for _, p := range pipes {
		b.Run("impl="+p.name, func(b *testing.B) {
			b.ReportAllocs()
			send, recv := p.make(capacity)
			release, wait := launch(producers, func(k int) int { return share(b.N, producers, k) }, send)
			b.ResetTimer()
			release()
			recv(b.N)
			b.StopTimer()
			wait()
		})
	}
}

var sink int

func gatePipe(capacity int) (func(int), func(int)) {
	var tx *gate.MPSCSender[int]
	var rx *gate.MPSCReceiver[int]
	if capacity < 0 {
		tx, rx = gate.UnboundedMPSC[int]()
	} else {
		tx, rx = gate.MPSC[int](capacity)
	}
	return func(v int) { _ = tx.Send(ctx, v) }, func(n int) {
		for range n {
			v, _ := rx.Recv(ctx)
			sink += v
		}
	}
}

func gateRecvManyPipe(capacity int) (func(int), func(int)) {
	tx, rx := gate.MPSC[int](capacity)
	return func(v int) { _ = tx.Send(ctx, v) }, func(n int) {
		buf := make([]int, 128)
		for n > 0 {
			k, _ := rx.RecvMany(ctx, buf[:min(n, len(buf))])
			for _, v := range buf[:k] {
				sink += v
			}
			n -= k
		}
	}
}

// gateSelectPipe receives in a select on Ready beside a ticker, then
// TryRecv: the pattern of a loop that also does periodic work.
func gateSelectPipe(capacity int) (func(int), func(int)) {
	tx, rx := gate.MPSC[int](capacity)
	return func(v int) { _ = tx.Send(ctx, v) }, func(n int) {
		tick := time.NewTicker(time.Hour)
		defer tick.Stop()
		for n > 0 {
			select {
			case <-rx.Ready():
				v, err := rx.TryRecv()
				if err == nil {
					sink += v
					n--
				}
			case <-tick.C:
			}
		}
	}
}

func chanPipe(capacity int) (func(int), func(int)) {
	if capacity < 0 {
		capacity = 1024 // what a Go user picks for "unbounded"
	}
	ch := make(chan int, capacity)
	return func(v int) { ch <- v }, func(n int) {
		for range n {
			sink += <-ch
		}
	}
}

func chanSelectPipe(capacity int) (func(int), func(int)) {
	ch := make(chan int, capacity)
	return func(v int) { ch <- v }, func(n int) {
		tick := time.NewTicker(time.Hour)
		defer tick.Stop()
		for n > 0 {
			select {
			case v := <-ch:
				sink += v
				n--
			case <-tick.C:
			}
		}
	}
}

// xsyncPipe is xsync's unbounded MPSC queue: segments of 4096 slots, one
// atomic add per enqueue, a per-slot WaitGroup to park the consumer; no ctx,
// no close, no select.
func xsyncPipe(int) (func(int), func(int)) {
	q := xsync.NewUMPSCQueue[int]()
	return func(v int) { q.Enqueue(v) }, func(n int) {
		for range n {
			sink += q.Dequeue()
		}
	}
}

func BenchmarkMPSC(b *testing.B) {
	bounded := []pipe{{"gate", gatePipe}, {"chan", chanPipe}}
	for _, producers := range []int{1, 4} {
		b.Run("cap=1024/producers="+itoa(producers), func(b *testing.B) { runPipes(b, bounded, 1024, producers) })
	}
	b.Run("cap=1/producers=1", func(b *testing.B) { runPipes(b, bounded, 1, 1) })
}

func BenchmarkMPSCRecvMany(b *testing.B) {
	pipes := []pipe{{"gate", gateRecvManyPipe}, {"chan", chanPipe}}
	b.Run("cap=1024/producers=4", func(b *testing.B) { runPipes(b, pipes, 1024, 4) })
}

func BenchmarkMPSCUnbounded(b *testing.B) {
	pipes := []pipe{{"gate", gatePipe}, {"chan", chanPipe}, {"xsync", xsyncPipe}}
	for _, producers := range []int{1, 4} {
		b.Run("producers="+itoa(producers), func(b *testing.B) { runPipes(b, pipes, -1, producers) })
	}
}

func BenchmarkMPSCSelect(b *testing.B) {
	pipes := []pipe{{"gate", gateSelectPipe}, {"chan", chanSelectPipe}}
	b.Run("cap=1024/producers=1", func(b *testing.B) { runPipes(b, pipes, 1024, 1) })
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + itoa(n%10)
}
