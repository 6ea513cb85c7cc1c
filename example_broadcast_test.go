package gate_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gophergate/gate"
)

// Every subscriber of a broadcast channel gets every value sent after it
// subscribed, in order. Closing the last sender ends the stream: each
// receiver gets what is left for it, then ErrClosed.
func ExampleBroadcast() {
	ctx := context.Background()
	tx, rx1 := gate.Broadcast[string](16)
	rx2 := tx.Subscribe()

	var wg sync.WaitGroup
	out := make([][]string, 2)
	for i, rx := range []*gate.BroadcastReceiver[string]{rx1, rx2} {
		wg.Go(func() {
			defer rx.Close()
			for {
				ev, err := rx.Recv(ctx)
				if err != nil { // ErrClosed: every sender closed, nothing left
					return
				}
				out[i] = append(out[i], ev)
			}
		})
	}
	for _, ev := range []string{"start", "tick", "stop"} {
		n, _ := tx.Send(ev)
		_ = n // the number of receivers that will see ev: 2
	}
	tx.Close()
	wg.Wait()
	fmt.Println(out[0])
	fmt.Println(out[1])
	// Output:
	// [start tick stop]
	// [start tick stop]
}

// A receiver that falls more than the capacity behind loses the oldest
// values: Recv says how many with a *LaggedError, then goes on with the
// oldest value still held. The capacity is exact: 2 holds 2 values.
func ExampleBroadcastReceiver_Recv_lagged() {
	ctx := context.Background()
	tx, rx := gate.Broadcast[int](2)
	for v := 1; v <= 5; v++ {
		tx.Send(v) // never waits: 1, 2 and 3 are overwritten
	}
	tx.Close()
	for {
		v, err := rx.Recv(ctx)
		var lag *gate.LaggedError
		switch {
		case errors.As(err, &lag):
			fmt.Println("missed", lag.Skipped)
		case err != nil:
			fmt.Println(err)
			return
		default:
			fmt.Println(v)
		}
	}
	// Output:
	// missed 3
	// 4
	// 5
	// gate: closed
}

// SendWait is a Send with backpressure: it waits until every receiver has
// read the oldest value, so that no receiver lags.
func ExampleBroadcastSender_SendWait() {
	ctx := context.Background()
	tx, rx := gate.Broadcast[int](2)
	done := make(chan []int)
	go func() {
		var got []int
		for {
			v, err := rx.Recv(ctx)
			if err != nil {
				done <- got
				return
			}
			got = append(got, v)
			time.Sleep(time.Millisecond) // a slow receiver
		}
	}()
	for v := 1; v <= 5; v++ {
		if _, err := tx.SendWait(ctx, v); err != nil {
			fmt.Println(err)
		}
	}
	tx.Close()
	fmt.Println(<-done) // nothing lost
	// Output: [1 2 3 4 5]
}

// Ready lets a receiver wait in a select beside other channels, with no
// goroutine to forward its values: here a deadline.
func ExampleBroadcastReceiver_Ready() {
	tx, rx := gate.Broadcast[string](4)
	go func() {
		tx.Send("config changed")
		tx.Close()
	}()
	timeout := time.After(time.Minute)
	for {
		select {
		case <-rx.Ready():
			ev, err := rx.TryRecv()
			if errors.Is(err, gate.ErrClosed) {
				fmt.Println("done")
				return
			}
			fmt.Println("event:", ev)
		case <-timeout:
			fmt.Println("timed out")
			return
		}
	}
	// Output:
	// event: config changed
	// done
}

// WaitClosed lets a sender find out that nobody listens any more.
func ExampleBroadcastSender_WaitClosed() {
	tx, rx := gate.Broadcast[int](1)
	go func() {
		rx.Recv(context.Background())
		rx.Close() // the only receiver leaves
	}()
	tx.Send(1)
	if err := tx.WaitClosed(context.Background()); err == nil {
		fmt.Println("no receivers left; ReceiverCount =", tx.ReceiverCount())
	}
	_, err := tx.Send(2)
	fmt.Println(err)
	// Output:
	// no receivers left; ReceiverCount = 0
	// gate: closed
}

// All ranges over a receiver: each value with a nil error, a lag once as a
// *LaggedError (then the oldest value still held), until every sender is
// closed and nothing is left.
func ExampleBroadcastReceiver_All() {
	tx, rx := gate.Broadcast[int](2)
	for v := 1; v <= 4; v++ {
		tx.Send(v) // 1 and 2 are overwritten
	}
	tx.Close()
	for v, err := range rx.All(context.Background()) {
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(v)
	}
	// Output:
	// gate: receiver lagged, missed 2 values
	// 3
	// 4
}
