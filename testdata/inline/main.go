// Command inline instantiates every generic type of gate, so that
// `go build -gcflags=github.com/gophergate/gate=-m` reports the inlining
// decisions for their methods too. TestInliningPromises builds it; it is
// never run.
package main

import "github.com/gophergate/gate"

// keep puts a value in an interface, which makes the compiler build every
// method of its type.
func keep(...any) {}

func main() {
	keep(new(gate.Mutex[int]), new(gate.RWMutex[int]), new(gate.OnceCell[int]), new(gate.SetOnce[int]))
	keep(gate.Oneshot[int]())
	keep(gate.MPSC[int](1))
	keep(gate.Broadcast[int](1))
	keep(gate.Watch(0))
}
