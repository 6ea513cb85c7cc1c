// Package reload is a demo of gate's watch and broadcast channels: a set of
// servers that pick up configuration changes and react to events, each in
// one select loop.
//
//   - A [gate.Watch] channel holds the current configuration. The admin
//     changes it with SendModify; a server that was busy sees only the
//     newest version (watch keeps one value), and never an older one.
//   - A [gate.Broadcast] channel carries events to every server. Ordinary
//     events go out with Send, which never waits: a server that falls more
//     than the channel's capacity behind gets a [gate.LaggedError] saying how
//     many it missed, and goes on. The shutdown event goes out with SendWait,
//     which waits until no server would lose it.
//   - Each server sits in one select over the config receiver's Ready, the
//     event receiver's Ready and ctx.Done(), then calls BorrowAndUpdate or
//     TryRecv: the way a Go program keeps select when it leaves chan for a
//     library.
//   - A [gate.Barrier] of servers+1 lets the admin start sending only once
//     every server sits in its loop; its leader, whichever goroutine arrives
//     last, says so.
//   - The admin waits for every server to leave with the event sender's
//     WaitClosed.
//
// Servers are slowed down by timers, so the demo runs in a synctest bubble in
// its tests and takes no wall time there.
package reload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gophergate/gate"
	"github.com/gophergate/gate/examples/internal/clock"
)

// Settings is the configuration the servers watch.
type Settings struct {
	Version  int           // bumped by every change
	Greeting string        // what a server says
	Delay    time.Duration // how long a server takes per event
}

// An Event is one message to every server.
type Event struct {
	Seq      int
	Shutdown bool
}

// Config describes one run.
type Config struct {
	Servers  int           // server goroutines
	Events   int           // ordinary events before the shutdown
	Changes  int           // configuration changes, spread among the events
	Capacity int           // the event channel's capacity
	Slow     time.Duration // the first server's extra delay per event (it lags)
	Deadline time.Duration // the whole run is cancelled after this long
}

// DefaultConfig returns the configuration of the demo command.
func DefaultConfig() Config {
	return Config{
		Servers:  3,
		Events:   60,
		Changes:  5,
		Capacity: 8,
		Slow:     3 * time.Millisecond,
		Deadline: time.Second,
	}
}

// ServerReport says what one server saw.
type ServerReport struct {
	Handled  int    // events handled
	Skipped  uint64 // events missed while lagging, as reported by LaggedError
	Versions []int  // configuration versions applied, in order
	Shutdown bool   // saw the shutdown event
	Last     int    // Seq of the last event handled
}

// Report says what happened in one run.
type Report struct {
	Servers       []ServerReport
	Sent          int  // ordinary events sent
	FinalVersion  int  // the configuration's last version
	ShutdownSeen  int  // servers that got the shutdown event
	ShutdownReach int  // receivers the shutdown was sent to (SendWait's count)
	CutShort      bool // the deadline ended the run first
}

// Run runs the demo described by cfg and writes what the servers do to out.
func Run(ctx context.Context, cfg Config, out io.Writer) Report {
	ctx, cancel := context.WithTimeout(ctx, cfg.Deadline)
	defer cancel()

	cfgTx, cfgRx := gate.Watch(Settings{Version: 1, Greeting: "hello", Delay: 100 * time.Microsecond})
	evTx, evRx := gate.Broadcast[Event](cfg.Capacity)

	r := Report{Servers: make([]ServerReport, cfg.Servers)}
	var mu sync.Mutex // serializes the servers' lines on out
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format, args...)
	}
	// Every server and the admin meet here before the first event.
	start := gate.NewBarrier(cfg.Servers + 1)
	meet := func(who string) error {
		leader, err := start.Wait(ctx)
		if leader {
			logf("  start     all %d servers ready (%s arrived last)\n", cfg.Servers, who)
		}
		return err
	}
	var servers sync.WaitGroup
	for i := range cfg.Servers {
		// Every server gets its own receivers before any event is sent, so
		// that it sees them all (or learns how many it missed).
		settings, events := cfgRx.Clone(), evTx.Subscribe()
		extra := time.Duration(0)
		if i == 0 {
			extra = cfg.Slow
		}
		servers.Go(func() {
			r.Servers[i] = serve(ctx, i, settings, events, extra, meet, logf)
		})
	}
	// The originals are not used: closing them leaves one receiver of each
	// kind per server.
	cfgRx.Close()
	evRx.Close()

	// Admin: events, with configuration changes spread among them, then the
	// shutdown, sent so that no server can miss it.
	_ = meet("the admin") // a deadline that ends it also ends the loop below
	every := max(cfg.Events/max(cfg.Changes, 1), 1)
	changes := 0
	for seq := 1; seq <= cfg.Events && ctx.Err() == nil; seq++ {
		if seq%every == 0 && changes < cfg.Changes {
			changes++
			cfgTx.SendModify(func(s *Settings) {
				s.Version++
				s.Greeting = fmt.Sprintf("hello v%d", s.Version)
			})
		}
		if _, err := evTx.Send(Event{Seq: seq}); err != nil {
			break // every server is gone
		}
		r.Sent++
		if err := clock.Sleep(ctx, 200*time.Microsecond); err != nil {
			break
		}
	}
	r.FinalVersion = cfgTx.Borrow().Version
	n, err := evTx.SendWait(ctx, Event{Seq: r.Sent + 1, Shutdown: true})
	if err == nil {
		r.ShutdownReach = n
		// Every server leaves after the shutdown; wait for them to close
		// their receivers.
		err = evTx.WaitClosed(ctx)
	}
	r.CutShort = err != nil
	cfgTx.Close()
	evTx.Close()
	servers.Wait()
	for _, s := range r.Servers {
		if s.Shutdown {
			r.ShutdownSeen++
		}
	}
	return r
}

// serve is one server's loop: one select over both receivers and ctx.
func serve(ctx context.Context, id int, settings *gate.WatchReceiver[Settings], events *gate.BroadcastReceiver[Event], extra time.Duration, meet func(string) error, logf func(string, ...any)) ServerReport {
	defer settings.Close()
	defer events.Close()
	var rep ServerReport
	cur := settings.BorrowAndUpdate()
	rep.Versions = append(rep.Versions, cur.Version)
	if meet(fmt.Sprintf("server %d", id)) != nil {
		return rep // the deadline came first
	}
	configOpen := true
	for {
		// Ready re-arms on every call: call it before every select. A nil
		// channel leaves that case out once the config channel is closed.
		var configReady <-chan struct{}
		if configOpen {
			configReady = settings.Ready()
		}
		select {
		case <-configReady:
			changed, err := settings.HasChanged()
			if err != nil {
				configOpen = false // the admin closed it: keep what we have
				continue
			}
			if !changed {
				continue // cannot happen after Ready, but harmless
			}
			cur = settings.BorrowAndUpdate()
			rep.Versions = append(rep.Versions, cur.Version)
			logf("  server %d  config v%d: %q\n", id, cur.Version, cur.Greeting)
		case <-events.Ready():
			ev, err := events.TryRecv()
			var lag *gate.LaggedError
			switch {
			case errors.As(err, &lag):
				rep.Skipped += lag.Skipped
				logf("  server %d  lagged: missed %d events\n", id, lag.Skipped)
				continue
			case errors.Is(err, gate.ErrClosed):
				return rep // every sender is gone
			case err != nil:
				continue // ErrEmpty: cannot happen after Ready, but harmless
			}
			if ev.Shutdown {
				rep.Shutdown = true
				logf("  server %d  shutting down after %d events (%d missed)\n", id, rep.Handled, rep.Skipped)
				return rep
			}
			if err := clock.Sleep(ctx, cur.Delay+extra); err != nil {
				return rep
			}
			rep.Handled++
			rep.Last = ev.Seq
		case <-ctx.Done():
			return rep
		}
	}
}

// Header writes the line that introduces a run of cfg, before Run's own
// lines.
func Header(out io.Writer, cfg Config) {
	fmt.Fprintf(out, "reload: %d servers, %d events over a broadcast of %d, %d config changes, deadline %v\n",
		cfg.Servers, cfg.Events, cfg.Capacity, cfg.Changes, cfg.Deadline)
}

// Print writes a report in the demo's format.
func Print(out io.Writer, cfg Config, r Report) {
	for i, s := range r.Servers {
		fmt.Fprintf(out, "  server %d  handled %d, missed %d (lagged), configs %v, shutdown %v\n",
			i, s.Handled, s.Skipped, s.Versions, s.Shutdown)
	}
	fmt.Fprintf(out, "  admin     sent %d events, config at v%d, shutdown reached %d of %d servers\n",
		r.Sent, r.FinalVersion, r.ShutdownSeen, cfg.Servers)
	if r.CutShort {
		fmt.Fprintln(out, "  deadline  cut the run short")
	}
}
