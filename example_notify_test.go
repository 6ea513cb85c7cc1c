package gate_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gophergate/gate"
)

// A Notify wakes a consumer when a producer has added work. The stored
// permit makes the check-then-wait loop safe: a NotifyOne that comes between
// the consumer's check and its Wait is not lost.
func ExampleNotify() {
	ctx := context.Background()
	var (
		mu    sync.Mutex
		queue []string
		n     gate.Notify
	)
	done := make(chan struct{})
	go func() { // consumer
		defer close(done)
		for received := 0; received < 3; {
			mu.Lock()
			batch := queue
			queue = nil
			mu.Unlock()
			for _, job := range batch {
				fmt.Println("got", job)
				received++
			}
			if len(batch) == 0 {
				if err := n.Wait(ctx); err != nil {
					return
				}
			}
		}
	}()
	for _, job := range []string{"a", "b", "c"} { // producer
		mu.Lock()
		queue = append(queue, job)
		mu.Unlock()
		n.NotifyOne()
	}
	<-done
	// Output:
	// got a
	// got b
	// got c
}

// NotifyWaiters wakes every goroutine that waits for a condition to change.
// Each creates its Notified before it checks the condition, so a
// NotifyWaiters that comes in between completes it.
func ExampleNotified() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var (
		mu    sync.Mutex
		ready bool
		n     gate.Notify
		wg    sync.WaitGroup
	)
	isReady := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return ready
	}
	woke := make(chan int, 3)
	for i := range 3 {
		wg.Go(func() {
			for {
				changed := n.Notified() // registers for NotifyWaiters now
				if isReady() {
					woke <- i
					return
				}
				if err := changed.Wait(ctx); err != nil {
					return
				}
			}
		})
	}
	mu.Lock()
	ready = true
	mu.Unlock()
	n.NotifyWaiters()
	wg.Wait()
	fmt.Println(len(woke), "goroutines saw the change")
	// Output:
	// 3 goroutines saw the change
}

// Enable joins the queue without waiting, so that a NotifyOne sent before
// the goroutine gets to Wait goes to it rather than to a later waiter.
func ExampleNotified_Enable() {
	var n gate.Notify
	first := n.Notified()
	fmt.Println("notified before:", first.Enable())
	n.NotifyOne() // chosen: first is in the queue
	fmt.Println("notified after:", first.Enable())
	fmt.Println("Wait:", first.Wait(context.Background()))
	// Output:
	// notified before: false
	// notified after: true
	// Wait: <nil>
}
