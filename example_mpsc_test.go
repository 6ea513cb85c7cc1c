package gate_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gophergate/gate"
)

// Producers send into a bounded channel; the receiver drains it with All
// once every producer has closed its handle.
func ExampleMPSC() {
	ctx := context.Background()
	tx, rx := gate.MPSC[int](4) // at most 4 values buffered: senders wait for room
	var wg sync.WaitGroup
	for p := range 3 {
		tx := tx.Clone()
		wg.Go(func() {
			defer tx.Close()
			for i := range 3 {
				if err := tx.Send(ctx, 10*p+i); err != nil {
					return
				}
			}
		})
	}
	tx.Close() // the receiver ends once every clone is closed too

	var got []int
	for v := range rx.All(ctx) {
		got = append(got, v)
	}
	wg.Wait()
	slices.Sort(got) // each producer's values arrive in order; producers interleave
	fmt.Println(got)
	// Output: [0 1 2 10 11 12 20 21 22]
}

// An unbounded channel's Send never waits.
func ExampleUnboundedMPSC() {
	ctx := context.Background()
	tx, rx := gate.UnboundedMPSC[string]()
	for _, s := range []string{"a", "b", "c"} {
		_ = tx.Send(ctx, s)
	}
	tx.Close()
	for {
		s, err := rx.Recv(ctx)
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(s)
	}
	// Output:
	// a
	// b
	// c
	// gate: closed
}

// Reserve takes room first and sends later, so that a value that is costly
// to build is built only once there is room for it, and a cancelled wait loses
// nothing.
func ExampleMPSCSender_Reserve() {
	ctx := context.Background()
	tx, rx := gate.MPSC[string](1)
	p, err := tx.Reserve(ctx)
	if err != nil {
		return
	}
	fmt.Println("free slots:", tx.Capacity())
	p.Send("built after the reservation") // never fails, never waits

	// The channel is full: a second reservation with a deadline gives up.
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	_, err = tx.Reserve(short)
	fmt.Println(err)

	v, _ := rx.Recv(ctx)
	fmt.Println(v)
	// Output:
	// free slots: 0
	// context deadline exceeded
	// built after the reservation
}

// ReserveN takes room for a whole batch at once, so that a producer whose
// wait is cancelled or fails never leaves half a batch behind: it gets room
// for all of it, or sends none.
func ExampleMPSCSender_ReserveN() {
	ctx := context.Background()
	tx, rx := gate.MPSC[string](4)
	batch := []string{"header", "row 1", "row 2"}
	p, err := tx.ReserveN(ctx, len(batch))
	if err != nil {
		return
	}
	fmt.Println("reserved:", p.Count(), "free:", tx.Capacity())
	for _, v := range batch {
		p.Send(v)
	}
	p.Release() // nothing left to give back here; harmless
	tx.Close()
	for v := range rx.All(ctx) {
		fmt.Println(v)
	}
	// Output:
	// reserved: 3 free: 1
	// header
	// row 1
	// row 2
}

// All ranges over the values until every sender is closed and the channel
// is drained, or ctx is done: check ctx.Err() after the loop to tell which.
func ExampleMPSCReceiver_All() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tx, rx := gate.UnboundedMPSC[int]()
	go func() {
		defer tx.Close()
		for i := 1; i <= 4; i++ {
			_ = tx.Send(ctx, i*i)
		}
	}()
	sum := 0
	for v := range rx.All(ctx) {
		sum += v
	}
	fmt.Println(sum, ctx.Err())
	// Output: 30 <nil>
}

// RecvMany takes whatever is there, up to the size of the buffer, after
// waiting for at least one value.
func ExampleMPSCReceiver_RecvMany() {
	ctx := context.Background()
	tx, rx := gate.MPSC[int](16)
	for i := range 5 {
		_ = tx.TrySend(i)
	}
	buf := make([]int, 3)
	n, _ := rx.RecvMany(ctx, buf)
	fmt.Println(buf[:n])
	n, _ = rx.RecvMany(ctx, buf)
	fmt.Println(buf[:n])
	// Output:
	// [0 1 2]
	// [3 4]
}

// Ready lets one goroutine merge two receivers and a ticker in a select
// statement, with no helper goroutine: call Ready for each open receiver
// before the select, then TryRecv on the one that fired.
func ExampleMPSCReceiver_Ready() {
	ctx := context.Background()
	orders, rxOrders := gate.MPSC[string](8)
	cancels, rxCancels := gate.UnboundedMPSC[string]()
	go func() {
		for _, o := range []string{"order 1", "order 2", "order 3"} {
			_ = orders.Send(ctx, o)
		}
		orders.Close()
	}()
	go func() {
		_ = cancels.Send(ctx, "cancel 2")
		cancels.Close()
	}()

	tick := time.NewTicker(time.Hour) // periodic work, say a flush
	defer tick.Stop()
	var got []string
	for rxOrders != nil || rxCancels != nil {
		var ready1, ready2 <-chan struct{} // nil: a closed receiver's case never fires
		if rxOrders != nil {
			ready1 = rxOrders.Ready()
		}
		if rxCancels != nil {
			ready2 = rxCancels.Ready()
		}
		select {
		case <-ready1:
			if v, err := rxOrders.TryRecv(); err == nil {
				got = append(got, v)
			} else {
				rxOrders = nil // ErrClosed: drained and closed
			}
		case <-ready2:
			if v, err := rxCancels.TryRecv(); err == nil {
				got = append(got, v)
			} else {
				rxCancels = nil
			}
		case <-tick.C:
			fmt.Println("flush")
		}
	}
	slices.Sort(got)
	fmt.Println(got)
	// Output: [cancel 2 order 1 order 2 order 3]
}

// After the receiver closes, senders get ErrClosed and WaitClosed returns,
// while the values already sent are still received.
func ExampleMPSCReceiver_Close() {
	ctx := context.Background()
	tx, rx := gate.MPSC[int](4)
	_ = tx.Send(ctx, 1)
	rx.Close()
	fmt.Println(tx.Send(ctx, 2), tx.WaitClosed(ctx))
	v, err := rx.Recv(ctx)
	fmt.Println(v, err)
	_, err = rx.Recv(ctx)
	fmt.Println(err)
	// Output:
	// gate: closed <nil>
	// 1 <nil>
	// gate: closed
}
