// Command examples runs gate's demo programs, one after another:
//
//   - crawler: a weighted Semaphore bounding a crawler's fetches, a Mutex
//     owning its state and an RWMutex owning its robots.txt table, all cut
//     short by a deadline;
//   - pipeline: producers, a bounded mpsc job queue, a pool of workers and a
//     oneshot reply per job, with a select over the queue's Ready channel;
//   - reload: servers that follow a watch channel of configuration and a
//     broadcast channel of events in one select loop, started together by a
//     Barrier, with a lagging server and a shutdown that no server can miss.
//
// Each demo is a package of its own beside this file, with tests that run it
// in a testing/synctest bubble. Run them all, or one with -demo:
//
//	go run ./examples/...
//	go run ./examples/... -demo crawler -deadline 5s -permits 16
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/gophergate/gate/examples/crawler"
	"github.com/gophergate/gate/examples/pipeline"
	"github.com/gophergate/gate/examples/reload"
)

func main() {
	demo := flag.String("demo", "all", "the demo to run: all, crawler, pipeline or reload")
	cfg := crawler.DefaultConfig()
	flag.IntVar(&cfg.Workers, "workers", cfg.Workers, "crawler: worker goroutines")
	flag.IntVar(&cfg.Permits, "permits", cfg.Permits, "crawler: semaphore permits, the most page weight fetched at once (pages weigh 1, 2 or 4)")
	flag.DurationVar(&cfg.Deadline, "deadline", cfg.Deadline, "crawler: cancel the whole crawl after this long")
	flag.IntVar(&cfg.Pages, "pages", cfg.Pages, "crawler: pages in the generated web")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "crawler: seed of the generated web")
	flag.DurationVar(&cfg.Unit, "latency", cfg.Unit, "crawler: simulated fetch latency per unit of page weight")
	flag.Parse()
	if cfg.Workers < 1 || cfg.Permits < 1 || cfg.Pages < 1 || cfg.Deadline <= 0 || cfg.Unit < 0 {
		fmt.Fprintln(os.Stderr, "examples: -workers, -permits, -pages and -deadline must be positive")
		os.Exit(2)
	}
	ctx := context.Background()
	ran := false
	if *demo == "all" || *demo == "crawler" {
		ran = true
		if err := crawler.Print(os.Stdout, cfg, crawler.Crawl(ctx, cfg)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if *demo == "all" || *demo == "pipeline" {
		ran = true
		pc := pipeline.DefaultConfig()
		pipeline.Header(os.Stdout, pc)
		pipeline.Print(os.Stdout, pc, pipeline.Run(ctx, pc, os.Stdout))
	}
	if *demo == "all" || *demo == "reload" {
		ran = true
		rc := reload.DefaultConfig()
		reload.Header(os.Stdout, rc)
		reload.Print(os.Stdout, rc, reload.Run(ctx, rc, os.Stdout))
	}
	if !ran {
		fmt.Fprintf(os.Stderr, "examples: unknown -demo %q\n", *demo)
		os.Exit(2)
	}
}
