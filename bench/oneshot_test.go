package bench

import (
	"testing"
	"time"

	"github.com/gophergate/gate"
)

// Sinks that make the channels escape to the heap, as they do in real use
// (the sender goes to another goroutine): without them the compiler could
// keep a oneshot that never leaves the benchmark loop on the stack.
var (
	oneshotSink *gate.OneshotSender[int]
	chanSink    chan int
)

// oneshotImpls creates a channel, sends one value and receives it, all on
// one goroutine: the cost of a reply channel that is already answered when
// its receiver looks.
func oneshotImpls() []impl {
	return []impl{
		{"gate", func() func(int) {
			return func(i int) {
				tx, rx := gate.Oneshot[int]()
				oneshotSink = tx
				_ = tx.Send(i)
				if v, err := rx.Recv(ctx); v != i || err != nil {
					panic("oneshot: wrong value")
				}
			}
		}},
		{"chan", func() func(int) {
			return func(i int) {
				c := make(chan int, 1)
				chanSink = c
				c <- i
				if v := <-c; v != i {
					panic("chan: wrong value")
				}
			}
		}},
	}
}

// oneshotGoImpls is the request/reply pattern: a new channel per request, a
// goroutine spawned to send the reply, the caller waiting for it.
func oneshotGoImpls() []impl {
	return []impl{
		{"gate", func() func(int) {
			return func(i int) {
				tx, rx := gate.Oneshot[int]()
				go func() { _ = tx.Send(i) }()
				if v, err := rx.Recv(ctx); v != i || err != nil {
					panic("oneshot: wrong value")
				}
			}
		}},
		{"chan", func() func(int) {
			return func(i int) {
				c := make(chan int, 1)
				go func() { c <- i }()
				if v := <-c; v != i {
					panic("chan: wrong value")
				}
			}
		}},
	}
}

// oneshotSelectImpls is oneshotGoImpls with the reply awaited in a select
// beside a ticker, as a caller that does other work while it waits would:
// Ready + TryRecv against a select on the chan.
func oneshotSelectImpls() []impl {
	return []impl{
		{"gate", func() func(int) {
			tick := time.NewTicker(time.Hour)
			return func(i int) {
				tx, rx := gate.Oneshot[int]()
				go func() { _ = tx.Send(i) }()
				select {
				case <-rx.Ready():
					if v, err := rx.TryRecv(); v != i || err != nil {
						panic("oneshot: wrong value")
					}
				case <-tick.C:
					panic("tick")
				}
			}
		}},
		{"chan", func() func(int) {
			tick := time.NewTicker(time.Hour)
			return func(i int) {
				c := make(chan int, 1)
				go func() { c <- i }()
				select {
				case v := <-c:
					if v != i {
						panic("chan: wrong value")
					}
				case <-tick.C:
					panic("tick")
				}
			}
		}},
	}
}

func BenchmarkOneshot(b *testing.B) {
	b.Run("create+send+recv", func(b *testing.B) { run(b, oneshotImpls(), serial) })
	b.Run("goroutine-per-send", func(b *testing.B) { run(b, oneshotGoImpls(), serial) })
	b.Run("select-ready", func(b *testing.B) { run(b, oneshotSelectImpls(), serial) })
	b.Run("goroutine-per-send/parallel", func(b *testing.B) { run(b, oneshotGoImpls(), parallel) })
}
