package gate_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/gophergate/gate"
)

// A watch channel holds the newest value, here a configuration. A receiver
// reads it at any time with Borrow and waits for the next one with Changed,
// here through the Changes iterator; one that falls behind skips to the
// newest value.
func ExampleWatch() {
	type config struct {
		Level   string
		Workers int
	}
	ctx := context.Background()
	tx, rx := gate.Watch(config{Level: "info", Workers: 2})
	fmt.Println("start with", rx.Borrow())

	applied := make(chan config)
	go func() {
		defer close(applied)
		for c := range rx.Changes(ctx) {
			applied <- c
		}
	}()

	tx.SendModify(func(c *config) { c.Level = "debug" })
	fmt.Println("reloaded with", <-applied)
	tx.SendModify(func(c *config) { c.Workers = 8 })
	fmt.Println("reloaded with", <-applied)

	// Once every sender is closed, the loop ends.
	tx.Close()
	_, open := <-applied
	fmt.Println("still watching:", open)

	// Output:
	// start with {info 2}
	// reloaded with {debug 2}
	// reloaded with {debug 8}
	// still watching: false
}

// Changes ranges over the versions a receiver sees: it waits for each
// change, yields the newest value and ends once every sender is closed. A
// receiver that reads slower than the sender sends skips to the newest
// value; here the sender waits for each one to be read.
func ExampleWatchReceiver_Changes() {
	tx, rx := gate.Watch("v1")
	read := make(chan struct{})
	go func() {
		for _, v := range []string{"v2", "v3"} {
			_ = tx.Send(v)
			<-read
		}
		tx.Close()
	}()
	for v := range rx.Changes(context.Background()) {
		fmt.Println("config", v)
		read <- struct{}{}
	}
	fmt.Println("every sender closed")

	// Output:
	// config v2
	// config v3
	// every sender closed
}

// A Changed loop: wait for a new version, read it with BorrowAndUpdate, and
// stop on the error. A version sent just before the last sender closed is
// still delivered; then Changed returns ErrClosed.
func ExampleWatchReceiver_Changed() {
	ctx := context.Background()
	tx, rx := gate.Watch(0)
	go func() {
		_ = tx.Send(1)
		tx.Close()
	}()
	for {
		if err := rx.Changed(ctx); err != nil {
			fmt.Println("stop:", err)
			break
		}
		fmt.Println("value", rx.BorrowAndUpdate())
	}

	// Output:
	// value 1
	// stop: gate: closed
}

// WaitFor waits until the value satisfies a condition, looking at the
// current value first.
func ExampleWatchReceiver_WaitFor() {
	ctx := context.Background()
	tx, rx := gate.Watch("starting")
	go func() {
		_ = tx.Send("loading")
		_ = tx.Send("ready")
	}()
	state, err := rx.WaitFor(ctx, func(s string) bool { return s == "ready" })
	fmt.Println(state, err)

	// Output:
	// ready <nil>
}

// Ready lets a receiver wait in a select beside other channels, with no
// helper goroutine. After a receive from it, HasChanged reports true, or
// ErrClosed once every sender is closed (Changed then still returns a last
// unseen value).
func ExampleWatchReceiver_Ready() {
	ctx := context.Background()
	tx, rx := gate.Watch(0)
	events := make(chan string)
	go func() {
		events <- "event"
		_ = tx.Send(1)
		tx.Close()
	}()

	for {
		select {
		case <-rx.Ready():
			if _, err := rx.HasChanged(); errors.Is(err, gate.ErrClosed) {
				if rx.Changed(ctx) == nil {
					fmt.Println("value", rx.BorrowAndUpdate())
				}
				fmt.Println("closed")
				return
			}
			fmt.Println("value", rx.BorrowAndUpdate())
		case e := <-events:
			fmt.Println(e)
		}
	}

	// Output:
	// event
	// value 1
	// closed
}

// SendIfModified changes the value in place and notifies the receivers only
// when the change matters.
func ExampleWatchSender_SendIfModified() {
	tx, rx := gate.Watch(map[string]int{"replicas": 3})
	scale := func(n int) bool {
		return tx.SendIfModified(func(m *map[string]int) bool {
			if (*m)["replicas"] == n {
				return false // nothing to tell anyone
			}
			// Copy before writing: receivers may still hold the old map.
			next := map[string]int{"replicas": n}
			*m = next
			return true
		})
	}
	fmt.Println(scale(3), scale(5))
	changed, _ := rx.HasChanged()
	fmt.Println(changed, rx.BorrowAndUpdate()["replicas"])

	// Output:
	// false true
	// true 5
}

// WaitClosed lets a sender stop its work once nobody watches any more. A
// send with no receiver still stores its value, and Subscribe opens the
// channel again: the new receiver reads the last value.
func ExampleWatchSender_WaitClosed() {
	ctx := context.Background()
	tx, rx := gate.Watch(0)
	go rx.Close()
	if err := tx.WaitClosed(ctx); err == nil {
		fmt.Println("no receiver left:", tx.IsClosed(), tx.Send(1))
	}
	rx = tx.Subscribe()
	fmt.Println("after Subscribe:", tx.IsClosed(), rx.Borrow())

	// Output:
	// no receiver left: true <nil>
	// after Subscribe: false 1
}
