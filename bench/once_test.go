package bench

import (
	"context"
	"sync"
	"testing"

	"github.com/gophergate/gate"
)

// The cells are read far more often than they are set: these benchmarks
// measure the read of a set cell, which is what a Go user would otherwise do
// by calling a function made by sync.OnceValue. The value is an int, so the
// copy costs nothing and the comparison is of the synchronization alone.

// use checks a value read by an op, which keeps the read from being
// optimized away without a store that goroutines would contend on.
func use(v int) {
	if v != 42 {
		panic("bench: wrong value")
	}
}

// onceValueImpl is the baseline of the cell rows: calling a sync.OnceValue
// func that has run.
var onceValueImpl = impl{"sync", func() func(int) {
	get := sync.OnceValue(func() int { return 42 })
	get()
	return func(int) { use(get()) }
}}

// onceCellGetImpls reads a set OnceCell with Get, against calling a
// sync.OnceValue func that has run.
func onceCellGetImpls() []impl {
	return []impl{
		{"gate", func() func(int) {
			var c gate.OnceCell[int]
			_ = c.Set(42)
			return func(int) {
				v, _ := c.Get()
				use(v)
			}
		}},
		onceValueImpl,
	}
}

// onceCellGetOrInitImpls calls GetOrInit on a set OnceCell: the done-ctx
// check and the load that every caller of a lazily initialized value makes,
// against calling a sync.OnceValue func that has run.
func onceCellGetOrInitImpls() []impl {
	init := func(context.Context) int { return 42 }
	return []impl{
		{"gate", func() func(int) {
			var c gate.OnceCell[int]
			_, _ = c.GetOrInit(ctx, init)
			return func(int) {
				v, _ := c.GetOrInit(ctx, init)
				use(v)
			}
		}},
		onceValueImpl,
	}
}

// setOnceGetImpls reads a set SetOnce with Get.
func setOnceGetImpls() []impl {
	return []impl{
		{"gate", func() func(int) {
			var c gate.SetOnce[int]
			_ = c.Set(42)
			return func(int) {
				v, _ := c.Get()
				use(v)
			}
		}},
		onceValueImpl,
	}
}

// setOnceWaitImpls calls Wait on a set SetOnce (the done-ctx check and a
// load), against a receive from a closed channel and a read of the value it
// guards, the hand-made "event with a value".
func setOnceWaitImpls() []impl {
	return []impl{
		{"gate", func() func(int) {
			var c gate.SetOnce[int]
			_ = c.Set(42)
			return func(int) {
				v, _ := c.Wait(ctx)
				use(v)
			}
		}},
		{"chan", func() func(int) {
			done := make(chan struct{})
			v := 42
			close(done)
			return func(int) {
				<-done
				use(v)
			}
		}},
	}
}

// readRows runs impls uncontended and on 8 goroutines: the rows of a read of
// a set cell.
func readRows(b *testing.B, impls func() []impl) {
	b.Run("uncontended", func(b *testing.B) { run(b, impls(), serial) })
	b.Run("goroutines=8", func(b *testing.B) { run(b, impls(), goroutines(8)) })
}

func BenchmarkOnceCellGet(b *testing.B) {
	readRows(b, onceCellGetImpls)
}

func BenchmarkOnceCellGetOrInit(b *testing.B) {
	readRows(b, onceCellGetOrInitImpls)
}

func BenchmarkSetOnceGet(b *testing.B) {
	readRows(b, setOnceGetImpls)
}

func BenchmarkSetOnceWait(b *testing.B) {
	b.Run("uncontended", func(b *testing.B) { run(b, setOnceWaitImpls(), serial) })
}
