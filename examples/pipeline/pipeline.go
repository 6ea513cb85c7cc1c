// Package pipeline is a demo of gate's channels: producers hand jobs to a
// pool of workers through one bounded mpsc channel and get each answer back
// over a oneshot channel of its own.
//
//   - [gate.MPSC] is the job queue. Its capacity is the backpressure: a
//     producer's Send waits (FIFO among producers) while the queue is full,
//     and gives up with its ctx, keeping the job. A producer that needs room
//     for a whole batch at once reserves it with ReserveN and then sends
//     every job of the batch through the [gate.MPSCPermit], which cannot fail.
//     When the last producer closes its sender, the dispatcher drains the
//     queue and then sees ErrClosed.
//   - The dispatcher sits in one select over the queue's Ready channel, a
//     progress ticker and ctx.Done(): the way a Go program keeps select when
//     it leaves chan for a library.
//   - A [gate.Semaphore] bounds the workers in flight; a worker replies on
//     the job's [gate.OneshotSender]. A producer that stopped waiting closed
//     its receiver, so the late reply is refused (ErrClosed) and counted.
//   - A [gate.OnceCell] holds the workers' shared lookup table, built by the
//     first worker that needs it, while the others wait for it.
//
// Work is simulated with timers, so the demo runs in a synctest bubble in its
// tests and takes no wall time there.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gophergate/gate"
	"github.com/gophergate/gate/examples/internal/clock"
)

// Config describes one run.
type Config struct {
	Producers int           // producer goroutines
	Jobs      int           // jobs per producer
	Batch     int           // jobs a producer reserves room for at once (1: plain Send)
	QueueCap  int           // capacity of the job queue
	Workers   int           // most jobs processed at once
	Unit      time.Duration // simulated work per job, times 1 to 3
	Deadline  time.Duration // the whole run is cancelled after this long
	Progress  time.Duration // how often the dispatcher reports progress (0: never)
}

// DefaultConfig returns the configuration of the demo command.
func DefaultConfig() Config {
	return Config{
		Producers: 4,
		Jobs:      40,
		Batch:     4,
		QueueCap:  8,
		Workers:   3,
		Unit:      2 * time.Millisecond,
		Deadline:  time.Second,
		Progress:  25 * time.Millisecond,
	}
}

// A job is one request: square N, reply on Reply.
type job struct {
	Producer, Seq int
	N             int
	Reply         *gate.OneshotSender[answer]
}

// An answer is a worker's reply to one job.
type answer struct {
	Seq    int
	Square int
	Worker int
}

// Report says what happened in one run.
type Report struct {
	Sent      int   // jobs queued (through a reserved permit, which cannot fail)
	Unsent    int   // jobs never queued: the deadline came first
	Processed int   // jobs a worker finished and replied to
	Dropped   int   // jobs taken from the queue after the deadline and closed unprocessed
	Lost      int   // jobs queued but neither processed nor dropped (must be 0)
	Answered  int   // replies the producers received
	Refused   int   // replies refused: the producer had stopped waiting
	Unread    int   // replies delivered but not read: the producer's ctx ended first
	Checksum  int   // sum of the received squares
	MaxQueue  int   // most jobs seen waiting in the queue at once
	Ticks     int   // progress reports the dispatcher printed
	TableInit int32 // times the shared table was built (must be 1 if any job ran)
	CutShort  bool  // the deadline ended the run before every job was answered
}

// Run runs the pipeline described by cfg and writes progress lines to out.
func Run(ctx context.Context, cfg Config, out io.Writer) Report {
	ctx, cancel := context.WithTimeout(ctx, cfg.Deadline)
	defer cancel()

	var r Report
	var sent, answered, checksum, unsent, processed, dropped, refused atomic.Int64
	var tableInit atomic.Int32
	var table gate.OnceCell[[]int] // squares of 0..99, built once on first use

	tx, rx := gate.MPSC[job](cfg.QueueCap)

	// Producers: each has its own clone of the sender and closes it when
	// done; the original is closed once every clone exists.
	var producers sync.WaitGroup
	for p := range cfg.Producers {
		ptx := tx.Clone()
		producers.Go(func() {
			defer ptx.Close()
			c, u := produce(ctx, cfg, p, ptx, &sent, &answered)
			checksum.Add(int64(c))
			unsent.Add(int64(u))
		})
	}
	tx.Close()

	// Dispatcher: one select over the queue, a ticker and ctx.
	workers := gate.NewSemaphore(cfg.Workers)
	var inFlight sync.WaitGroup
	work := func(id int, j job) {
		defer inFlight.Done()
		squares, err := table.GetOrInit(ctx, func(ctx context.Context) []int {
			tableInit.Add(1)
			t := make([]int, 100)
			for i := range t {
				t[i] = i * i
			}
			return t
		})
		if err == nil {
			err = clock.Sleep(ctx, time.Duration(1+j.N%3)*cfg.Unit)
		}
		if err != nil {
			// The run is over: the producer stopped waiting too.
			j.Reply.Close()
			dropped.Add(1)
			return
		}
		processed.Add(1)
		if j.Reply.Send(answer{Seq: j.Seq, Square: squares[j.N%100], Worker: id}) != nil {
			refused.Add(1)
		}
	}

	var tick <-chan time.Time
	if cfg.Progress > 0 {
		t := time.NewTicker(cfg.Progress)
		defer t.Stop()
		tick = t.C
	}
	report := func() {
		r.Ticks++
		fmt.Fprintf(out, "  progress  %3d sent, %3d answered, %d queued, %d workers free\n",
			sent.Load(), answered.Load(), rx.Len(), workers.Available())
	}
	next := 0
dispatch:
	for {
		select {
		case <-rx.Ready():
			for {
				r.MaxQueue = max(r.MaxQueue, rx.Len())
				j, err := rx.TryRecv()
				if errors.Is(err, gate.ErrEmpty) {
					break
				}
				if errors.Is(err, gate.ErrClosed) {
					break dispatch // every producer is done and the queue is drained
				}
				p, err := workers.Acquire(ctx)
				if err != nil {
					j.Reply.Close()
					dropped.Add(1)
					continue // the deadline passed: drain without working
				}
				inFlight.Add(1)
				next++
				go func(id int) {
					defer p.Release()
					work(id, j)
				}(next)
				// The queue may never run dry while producers keep up:
				// report progress from here too.
				select {
				case <-tick:
					report()
				default:
				}
			}
		case <-tick:
			report()
		case <-ctx.Done():
			// Refuse what is left; the producers' sends fail with ctx too.
			rx.Close()
			for j := range rx.All(context.WithoutCancel(ctx)) {
				j.Reply.Close()
				dropped.Add(1)
			}
			break dispatch
		}
	}
	producers.Wait()
	inFlight.Wait()

	r.Sent = int(sent.Load())
	r.Answered = int(answered.Load())
	r.Checksum = int(checksum.Load())
	r.Unsent = int(unsent.Load())
	r.Processed = int(processed.Load())
	r.Dropped = int(dropped.Load())
	r.Refused = int(refused.Load())
	r.TableInit = tableInit.Load()
	r.Lost = r.Sent - r.Processed - r.Dropped
	r.Unread = r.Processed - r.Refused - r.Answered
	r.CutShort = r.Answered < cfg.Producers*cfg.Jobs
	return r
}

// produce sends a producer's jobs, in batches of cfg.Batch reserved at once,
// then waits for their answers, counting both in sent and answered as it
// goes. It returns the checksum of its answers and how many jobs it never
// sent.
func produce(ctx context.Context, cfg Config, p int, tx *gate.MPSCSender[job], sent, answered *atomic.Int64) (checksum, unsent int) {
	var replies []*gate.OneshotReceiver[answer]
	defer func() {
		// Replies we no longer wait for are refused from now on.
		for _, rx := range replies {
			rx.Close()
		}
	}()
	for seq := 0; seq < cfg.Jobs; {
		n := min(max(cfg.Batch, 1), cfg.Jobs-seq)
		permit, err := tx.ReserveN(ctx, n)
		if err != nil {
			unsent += cfg.Jobs - seq // ctx ended or the dispatcher closed: keep the rest
			break
		}
		for range n {
			reply, wait := gate.Oneshot[answer]()
			permit.Send(job{Producer: p, Seq: seq, N: p*cfg.Jobs + seq, Reply: reply})
			replies = append(replies, wait)
			seq++
			sent.Add(1)
		}
	}
	for _, rx := range replies {
		a, err := rx.Recv(ctx)
		if err != nil {
			continue // deadline, or the job was dropped unprocessed
		}
		answered.Add(1)
		checksum += a.Square
	}
	return checksum, unsent
}

// Header writes the line that introduces a run of cfg, before Run's own
// lines.
func Header(out io.Writer, cfg Config) {
	fmt.Fprintf(out, "pipeline: %d producers x %d jobs, batches of %d, queue of %d, %d workers, deadline %v\n",
		cfg.Producers, cfg.Jobs, cfg.Batch, cfg.QueueCap, cfg.Workers, cfg.Deadline)
}

// Print writes a report in the demo's format.
func Print(out io.Writer, cfg Config, r Report) {
	fmt.Fprintf(out, "  jobs      %d sent (%d never sent), %d processed, %d dropped at the deadline, %d lost\n",
		r.Sent, r.Unsent, r.Processed, r.Dropped, r.Lost)
	fmt.Fprintf(out, "  replies   %d answered (checksum %d), %d refused, %d unread\n",
		r.Answered, r.Checksum, r.Refused, r.Unread)
	fmt.Fprintf(out, "  queue     at most %d of %d slots waiting; shared table built %d time(s); %d progress reports\n",
		r.MaxQueue, cfg.QueueCap, r.TableInit, r.Ticks)
	if r.CutShort {
		fmt.Fprintln(out, "  deadline  cut the run short: every job is accounted for, none is lost")
	}
}
