package crawler

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the run if a crawl leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// expected walks the web the way the crawler must: breadth first from the
// seed, not fetching (nor following) pages that robots.txt disallows. It
// returns the pages that must be fetched and the URLs that must be blocked.
func expected(w *Web) (fetch, blocked map[string]bool) {
	fetch, blocked = map[string]bool{}, map[string]bool{}
	seen := map[string]bool{w.Seed: true}
	queue := []string{w.Seed}
	for len(queue) > 0 {
		url := queue[0]
		queue = queue[1:]
		p := w.Pages[url]
		if !Allowed(w.Robots[p.Host], p.Path) {
			blocked[url] = true
			continue
		}
		fetch[url] = true
		for _, l := range p.Links {
			if !seen[l] {
				seen[l] = true
				queue = append(queue, l)
			}
		}
	}
	return fetch, blocked
}

// checkInvariants checks what holds for every crawl, cut short or not.
func checkInvariants(t *testing.T, cfg Config, r Result, fetch, blocked map[string]bool) {
	t.Helper()
	for url, n := range r.Fetches {
		if n != 1 {
			t.Errorf("%s fetched %d times, want once", url, n)
		}
		if !fetch[url] {
			t.Errorf("%s fetched but it is not reachable through allowed pages", url)
		}
	}
	if r.MaxInFlight > cfg.Permits {
		t.Errorf("max in-flight weight %d exceeds %d permits", r.MaxInFlight, cfg.Permits)
	}
	if r.MaxFetches > cfg.Workers {
		t.Errorf("max concurrent fetches %d exceeds %d workers", r.MaxFetches, cfg.Workers)
	}
	if r.Available != cfg.Permits {
		t.Errorf("Available() = %d after the crawl, want all %d permits back", r.Available, cfg.Permits)
	}
	if r.Blocked > len(blocked) {
		t.Errorf("%d pages blocked, only %d are disallowed", r.Blocked, len(blocked))
	}
	if got := r.Crawled() + r.Blocked + r.Unfetched; got != r.Discovered {
		t.Errorf("crawled %d + blocked %d + unfetched %d != discovered %d", r.Crawled(), r.Blocked, r.Unfetched, r.Discovered)
	}
}

// checkComplete checks a crawl that the deadline did not reach.
func checkComplete(t *testing.T, cfg Config, r Result) {
	t.Helper()
	web := NewWeb(cfg)
	fetch, blocked := expected(web)
	checkInvariants(t, cfg, r, fetch, blocked)
	if r.CutShort || r.Err != nil || r.Unfetched != 0 || r.Cancelled != 0 || r.Aborted != 0 {
		t.Errorf("long deadline, yet cut short=%v err=%v unfetched=%d cancelled=%d aborted=%d",
			r.CutShort, r.Err, r.Unfetched, r.Cancelled, r.Aborted)
	}
	if r.Crawled() != len(fetch) {
		t.Errorf("crawled %d pages, want every one of the %d reachable", r.Crawled(), len(fetch))
	}
	for url := range fetch {
		if r.Fetches[url] != 1 {
			t.Errorf("%s fetched %d times, want once", url, r.Fetches[url])
		}
	}
	if r.Blocked != len(blocked) || r.Discovered != len(fetch)+len(blocked) {
		t.Errorf("blocked %d of %d disallowed, discovered %d of %d", r.Blocked, len(blocked), r.Discovered, len(fetch)+len(blocked))
	}
	if r.MaxInFlight < 1 {
		t.Errorf("max in-flight weight %d: nothing was measured", r.MaxInFlight)
	}
	// Every discovered URL was checked against its host's robots.txt, and
	// each host's was fetched exactly once: workers that needed it while it
	// was being fetched waited for that fetch instead of starting their own.
	hosts := map[string]bool{}
	for url := range r.Fetches {
		hosts[web.Pages[url].Host] = true
	}
	for url := range blocked {
		hosts[web.Pages[url].Host] = true
	}
	if r.Robots != len(hosts) {
		t.Errorf("%d robots.txt fetches for %d hosts, want one each", r.Robots, len(hosts))
	}
}

func smallConfig() Config {
	return Config{Pages: 80, Hosts: 3, Seed: 7, Unit: 10 * time.Millisecond, Workers: 6, Permits: 4, Deadline: time.Hour}
}

// TestCrawlComplete crawls small webs to the end on the bubble's fake clock:
// every reachable page exactly once, heavy (weight 4) pages included, and never
// more weight in flight than permits.
func TestCrawlComplete(t *testing.T) {
	for _, tc := range []struct {
		seed             uint64
		workers, permits int
	}{
		{7, 6, 4},
		{1, 1, 1}, // one worker, one permit: heavy pages are clamped to 1
		{2, 8, 2}, // weight-4 pages clamped to all the permits
		{3, 16, 5},
		{4, 3, 12}, // more permits than workers
	} {
		t.Run(fmt.Sprintf("seed%d_w%d_p%d", tc.seed, tc.workers, tc.permits), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := smallConfig()
				cfg.Seed, cfg.Workers, cfg.Permits = tc.seed, tc.workers, tc.permits
				r := Crawl(t.Context(), cfg)
				checkComplete(t, cfg, r)
				if r.ByWeight[4] == 0 {
					t.Errorf("no heavy page was crawled: %v", r.ByWeight)
				}
				checkNoWriteAcrossFetch(t, r)
			})
		})
	}
}

// checkNoWriteAcrossFetch checks, on a synctest bubble's clock, that the
// robots table's write lock was never held across a fetch. The bubble's clock
// only moves when every goroutine is blocked; a fetch blocks its goroutine on
// a timer, so a write lock held across one would be held for at least a
// latency unit, while map operations take no time on that clock.
func checkNoWriteAcrossFetch(t *testing.T, r Result) {
	t.Helper()
	if r.RobotsWriteHeld != 0 {
		t.Errorf("robots table write-locked for %v at once: held across a fetch", r.RobotsWriteHeld)
	}
}

// TestCrawlCompleteRealClock is TestCrawlComplete on the real clock, with a
// short latency and a deadline that is never reached.
func TestCrawlCompleteRealClock(t *testing.T) {
	cfg := smallConfig()
	cfg.Pages, cfg.Unit, cfg.Deadline = 150, 200*time.Microsecond, time.Minute
	checkComplete(t, cfg, Crawl(t.Context(), cfg))
}

// checkCutShort checks a crawl that the deadline stopped early.
func checkCutShort(t *testing.T, cfg Config, r Result) {
	t.Helper()
	fetch, blocked := expected(NewWeb(cfg))
	checkInvariants(t, cfg, r, fetch, blocked)
	if !r.CutShort || r.Unfetched == 0 || r.Crawled() >= len(fetch) {
		t.Errorf("tiny deadline, yet cut short=%v unfetched=%d crawled %d of %d",
			r.CutShort, r.Unfetched, r.Crawled(), len(fetch))
	}
	if !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", r.Err)
	}
}

// TestCrawlDeadline stops a crawl of a big web early (fake clock): several
// workers are queued on the semaphore when the deadline passes, their
// AcquireN calls fail, and all permits are back afterwards.
func TestCrawlDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := smallConfig()
		cfg.Pages, cfg.Workers, cfg.Permits = 400, 12, 3
		cfg.Deadline = 205 * time.Millisecond // 20.5 units: far from enough for 400 pages
		r := Crawl(t.Context(), cfg)
		checkCutShort(t, cfg, r)
		if r.Cancelled == 0 {
			t.Errorf("no AcquireN was cancelled (12 workers, 3 permits): %+v", r)
		}
		if r.Crawled() == 0 {
			t.Errorf("nothing crawled before the deadline")
		}
		checkNoWriteAcrossFetch(t, r)
	})
}

// TestCrawlDoneContext starts a crawl whose context is already done. A done
// ctx fails every gate call that takes it, even on a free lock, so nothing is
// fetched; the seed is still recorded (as unfetched) and nothing is held.
func TestCrawlDoneContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		cfg := smallConfig()
		r := Crawl(ctx, cfg)
		if r.Discovered != 1 || r.Crawled() != 0 || r.Unfetched != 1 || r.Robots != 0 {
			t.Errorf("done ctx: discovered %d, crawled %d, unfetched %d, robots %d; want 1, 0, 1, 0",
				r.Discovered, r.Crawled(), r.Unfetched, r.Robots)
		}
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", r.Err)
		}
		if r.Available != cfg.Permits {
			t.Errorf("Available() = %d, want %d", r.Available, cfg.Permits)
		}
	})
}

// TestCrawlDeadlineRealClock stops a crawl on the real clock. Timers never
// fire early, so it cannot finish however the goroutines are scheduled: its
// reachable pages take well over a hundred latency units of permit time, two
// permits at a time, and the deadline is 30 units.
func TestCrawlDeadlineRealClock(t *testing.T) {
	cfg := smallConfig()
	cfg.Pages, cfg.Workers, cfg.Permits = 400, 12, 2
	cfg.Unit, cfg.Deadline = time.Millisecond, 30*time.Millisecond
	fetch, _ := expected(NewWeb(cfg))
	if len(fetch) < 2*30 {
		t.Fatalf("only %d reachable pages: the web is too small for this test", len(fetch))
	}
	checkCutShort(t, cfg, Crawl(t.Context(), cfg))
}

// TestNewWebDeterministic: the same config gives the same web, so the tests'
// expectations and the crawl agree.
func TestNewWebDeterministic(t *testing.T) {
	cfg := smallConfig()
	a, b := NewWeb(cfg), NewWeb(cfg)
	if len(a.Pages) != cfg.Pages || len(b.Pages) != cfg.Pages {
		t.Fatalf("%d and %d pages, want %d", len(a.Pages), len(b.Pages), cfg.Pages)
	}
	for url, p := range a.Pages {
		q := b.Pages[url]
		if q == nil || fmt.Sprint(p.Links) != fmt.Sprint(q.Links) || p.Weight != q.Weight {
			t.Fatalf("page %s differs between two generations", url)
		}
	}
}
