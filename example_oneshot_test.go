package gate_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gophergate/gate"
)

// A oneshot carries the reply to one request: the caller keeps the receiver
// and hands the sender to the goroutine that does the work.
func ExampleOneshot() {
	type request struct {
		n     int
		reply *gate.OneshotSender[int]
	}
	requests := make(chan request)
	go func() { // a server
		for req := range requests {
			_ = req.reply.Send(req.n * req.n)
		}
	}()
	defer close(requests)

	ctx := context.Background()
	for n := range 3 {
		tx, rx := gate.Oneshot[int]()
		requests <- request{n, tx}
		v, err := rx.Recv(ctx)
		fmt.Println(n, "squared is", v, err)
	}
	// Output:
	// 0 squared is 0 <nil>
	// 1 squared is 1 <nil>
	// 2 squared is 4 <nil>
}

// Ready puts a oneshot in a select beside other channels, here a ticker that
// reports progress while the reply is awaited. After a receive from Ready,
// TryRecv returns the value or ErrClosed, never ErrEmpty.
func ExampleOneshotReceiver_Ready() {
	tx, rx := gate.Oneshot[string]()
	go func() {
		time.Sleep(50 * time.Millisecond) // the work
		_ = tx.Send("done")
	}()

	tick := time.NewTicker(time.Hour) // a real program would tick more often
	defer tick.Stop()
	for {
		select {
		case <-rx.Ready():
			v, err := rx.TryRecv()
			fmt.Println(v, err)
			return
		case <-tick.C:
			fmt.Println("still waiting")
		}
	}
	// Output:
	// done <nil>
}

// A sender that closes without sending tells the receiver that no value
// will come; a Send after that fails and the caller keeps its value.
func ExampleOneshotSender_Close() {
	tx, rx := gate.Oneshot[int]()
	tx.Close()
	_, err := rx.Recv(context.Background())
	fmt.Println(errors.Is(err, gate.ErrClosed))
	fmt.Println(tx.Send(1))
	// Output:
	// true
	// gate: closed
}

// WaitClosed lets the goroutine that computes a value stop when nobody
// wants it any more: here the receiver gives up after its deadline and
// closes.
func ExampleOneshotSender_WaitClosed() {
	tx, rx := gate.Oneshot[int]()
	stopped := make(chan string)
	go func() {
		work := time.NewTimer(time.Hour) // a long computation
		defer work.Stop()
		closed := make(chan error, 1)
		go func() { closed <- tx.WaitClosed(context.Background()) }()
		select {
		case <-work.C:
			_ = tx.Send(42)
			stopped <- "sent"
		case <-closed:
			stopped <- "abandoned: the receiver is gone"
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := rx.Recv(ctx)
	fmt.Println(err)
	rx.Close()
	fmt.Println(<-stopped)
	// Output:
	// context deadline exceeded
	// abandoned: the receiver is gone
}

// A value sent before the receiver's Close can still be received; after
// Close, Sends fail.
func ExampleOneshotReceiver_Close() {
	tx, rx := gate.Oneshot[string]()
	_ = tx.Send("in time")
	rx.Close()
	fmt.Println(tx.IsClosed())
	v, err := rx.TryRecv()
	fmt.Println(v, err)
	_, err = rx.TryRecv()
	fmt.Println(err)

	tx, rx = gate.Oneshot[string]()
	rx.Close()
	fmt.Println(tx.Send("too late"))
	// Output:
	// true
	// in time <nil>
	// gate: closed
	// gate: closed
}
