// Package crawler crawls a generated, in-process "web" with a pool of workers
// and shows how the gate primitives fit together in a real program. It needs
// no network: pages, links, robots.txt files and fetch latency are all
// simulated (deterministically, from -seed), and a fetch is a timer.
//
// What it demonstrates:
//
//   - [gate.Semaphore] as a weighted, fair concurrency limit. Every page
//     carries a size hint; a fetch takes that many permits with AcquireN
//     (light pages 1, heavy pages up to 4), so -permits bounds the total
//     weight in flight rather than the number of fetches. Waiters are served
//     in FIFO order, so a heavy page at the head of the queue is not starved
//     by a stream of light ones.
//   - [gate.Mutex] owning the crawl state (the visited set, the per-page
//     results, the fetch counters): the map can only be reached through
//     Lock, which returns a pointer to it.
//   - [gate.RWMutex] owning a read-mostly robots.txt table. Every fetch reads
//     it under a shared read lock. The write lock is held for map operations
//     only, never across a fetch: the first worker to see a host takes that
//     host's own gate.Mutex and fetches its robots.txt holding only that;
//     other workers that need the same host wait for it on that Mutex (FIFO,
//     giving up at the deadline), while workers on other hosts go on reading.
//   - Cancellation by a context deadline (context.WithTimeout over the whole
//     crawl). Once the deadline has passed, AcquireN, RLock and Lock fail with
//     ctx.Err(): workers queued in them give up, and a worker that calls them
//     afterwards gets the error at once, even if the lock or the permits are
//     free, so no fetch starts after the deadline. A cancelled acquire holds
//     nothing: after the crawl the semaphore's Available() is back to
//     -permits. Bookkeeping that must happen whatever the time (recording a
//     page that was fetched) locks with context.WithoutCancel.
//
// With the defaults the deadline (750ms) always cuts the crawl short: the
// reachable pages need about a second of fetching at 8 permits' worth of
// weight at a time. Run with -deadline 5s to let it complete:
//
//	go run ./examples/... -demo crawler
//	go run ./examples/... -demo crawler -deadline 5s -permits 16
package crawler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gophergate/gate"
	"github.com/gophergate/gate/examples/internal/clock"
)

// Config describes one crawl: the generated web and the crawler's limits.
type Config struct {
	Pages    int           // pages in the generated web
	Hosts    int           // hosts the pages are spread over (each has a robots.txt)
	Seed     uint64        // seed of the generator: the same seed gives the same web
	Unit     time.Duration // latency of one unit of page weight
	Workers  int           // worker goroutines
	Permits  int           // semaphore permits: the most page weight in flight at once
	Deadline time.Duration // the whole crawl is cancelled after this long
}

// DefaultConfig returns the configuration behind the command's flag defaults.
func DefaultConfig() Config {
	return Config{
		Pages:    300,
		Hosts:    6,
		Seed:     1,
		Unit:     8 * time.Millisecond,
		Workers:  16,
		Permits:  8,
		Deadline: 750 * time.Millisecond,
	}
}

// ---------------------------------------------------------------------------
// The simulated web.

// Page is one generated page.
type Page struct {
	URL    string
	Host   string
	Path   string
	Weight int      // size hint: permits a fetch takes, and latency units it lasts
	Links  []string // URLs of other pages
}

// Web is a deterministic graph of pages spread over a few hosts. It is
// immutable after NewWeb, so any goroutine may read it.
type Web struct {
	Seed   string           // the URL the crawl starts from
	Pages  map[string]*Page // by URL
	Robots map[string][]string
	Unit   time.Duration
}

// NewWeb generates the web described by cfg. Every page is linked from an
// earlier one, so all pages are reachable from the seed unless robots.txt
// rules cut them off; about one page in eight lives under /private/, which
// every host's robots.txt disallows.
func NewWeb(cfg Config) *Web {
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	w := &Web{Pages: make(map[string]*Page, cfg.Pages), Robots: make(map[string][]string), Unit: cfg.Unit}
	hosts := max(cfg.Hosts, 1)
	pages := make([]*Page, cfg.Pages)
	for i := range pages {
		host := fmt.Sprintf("h%d.example", rng.IntN(hosts))
		path := fmt.Sprintf("/docs/%d", i)
		switch {
		case i == 0:
			host, path = "h0.example", "/"
		case rng.IntN(8) == 0:
			path = fmt.Sprintf("/private/%d", i)
		case rng.IntN(5) == 0:
			path = fmt.Sprintf("/media/%d", i)
		}
		weight := 1
		if strings.HasPrefix(path, "/media/") {
			weight = 4 // video: heavy
		} else if rng.IntN(4) == 0 {
			weight = 2
		}
		p := &Page{URL: "https://" + host + path, Host: host, Path: path, Weight: weight}
		pages[i] = p
		w.Pages[p.URL] = p
		if i > 0 { // a link from an earlier page keeps everything reachable
			parent := pages[rng.IntN(i)]
			parent.Links = append(parent.Links, p.URL)
		}
	}
	for _, p := range pages { // plus some random links, cycles included
		for range rng.IntN(4) {
			p.Links = append(p.Links, pages[rng.IntN(len(pages))].URL)
		}
	}
	for i := range hosts {
		rules := []string{"/private/"}
		if i%3 == 2 {
			rules = append(rules, "/cgi-bin/")
		}
		w.Robots[fmt.Sprintf("h%d.example", i)] = rules
	}
	if len(pages) > 0 {
		w.Seed = pages[0].URL
	}
	return w
}

// Fetch "downloads" the page at url: it takes Weight latency units, or fails
// with ctx.Err() if ctx ends first.
func (w *Web) Fetch(ctx context.Context, url string) (*Page, error) {
	p, ok := w.Pages[url]
	if !ok {
		return nil, fmt.Errorf("404 %s", url)
	}
	if err := clock.Sleep(ctx, time.Duration(p.Weight)*w.Unit); err != nil {
		return nil, err
	}
	return p, nil
}

// FetchRobots "downloads" host's robots.txt: one latency unit.
func (w *Web) FetchRobots(ctx context.Context, host string) ([]string, error) {
	if err := clock.Sleep(ctx, w.Unit); err != nil {
		return nil, err
	}
	return w.Robots[host], nil
}

// Allowed reports whether rules (a robots.txt's Disallow lines) allow path.
func Allowed(rules []string, path string) bool {
	for _, r := range rules {
		if strings.HasPrefix(path, r) {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// The crawler.

// Result summarises one crawl.
type Result struct {
	Discovered int            // distinct URLs seen (the seed included)
	Fetches    map[string]int // times each URL was fetched (1 for every crawled page)
	ByWeight   map[int]int    // crawled pages by weight
	Blocked    int            // URLs robots.txt disallowed (never fetched)
	Unfetched  int            // discovered, not blocked, not fetched: the deadline got them
	Cancelled  int            // AcquireN calls that failed because the deadline had passed
	Aborted    int            // fetches interrupted by the deadline
	Robots     int            // robots.txt fetches started (at most one per host at a time)

	MaxInFlight int // most page weight (permits) being fetched at once
	MaxFetches  int // most fetches at once
	Permits     int // the limit MaxInFlight is held to
	Available   int // the semaphore's Available() after every worker returned

	// RobotsWriteHeld is the longest time the robots table's write lock was
	// held at once: map operations only, so 0 on a synctest bubble's clock.
	RobotsWriteHeld time.Duration

	Err      error // the crawl context's error at the end: nil, context.DeadlineExceeded, or the parent's error
	CutShort bool  // the deadline left discovered pages unfetched
	Elapsed  time.Duration
}

// Crawled returns the number of pages fetched.
func (r *Result) Crawled() int { return len(r.Fetches) }

// crawlState is what the gate.Mutex owns.
type crawlState struct {
	seen     map[string]bool
	fetches  map[string]int
	byWeight map[int]int
	blocked  int
	aborted  int
	canceled int
}

// robotsTable is what the gate.RWMutex owns: read by every fetch, written a
// few times per host, never across a fetch.
type robotsTable struct {
	rules map[string][]string                // by host; present once the host's robots.txt was fetched
	hosts map[string]*gate.Mutex[hostRobots] // by host: held by the worker fetching its robots.txt
	held  time.Duration                      // longest hold of the write lock (see lockRobots)
}

// hostRobots is what a host's gate.Mutex owns: the host's rules, once a worker
// has fetched them.
type hostRobots struct {
	rules   []string
	fetched bool
}

type crawler struct {
	web     *Web
	permits int
	sem     *gate.Semaphore
	state   *gate.Mutex[crawlState]
	robots  *gate.RWMutex[robotsTable]

	// book is the crawl's context without its deadline, for bookkeeping
	// that must happen even after the deadline (a done ctx fails Lock even
	// when the lock is free). Only short critical sections use it, so a
	// Lock(book) never waits long.
	book context.Context

	jobs    chan string    // the frontier; its buffer holds every page, so sends never block
	pending sync.WaitGroup // URLs queued or being visited

	inFlight, maxInFlight atomic.Int64 // page weight being fetched
	fetching, maxFetching atomic.Int64 // fetches in progress
	robotsFetches         atomic.Int64 // robots.txt fetches started
}

// Crawl crawls the web generated from cfg, starting at its seed page, and
// returns when every reachable page was visited or the deadline
// (cfg.Deadline after the call) cut the crawl short. Either way every worker
// has returned by then.
func Crawl(ctx context.Context, cfg Config) Result {
	return crawlWeb(ctx, cfg, NewWeb(cfg))
}

func crawlWeb(ctx context.Context, cfg Config, web *Web) Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.Deadline)
	defer cancel()

	c := &crawler{
		web:     web,
		permits: cfg.Permits,
		sem:     gate.NewSemaphore(cfg.Permits),
		state: gate.NewMutex(crawlState{
			seen:     make(map[string]bool),
			fetches:  make(map[string]int),
			byWeight: make(map[int]int),
		}),
		robots: gate.NewRWMutex(robotsTable{
			rules: make(map[string][]string),
			hosts: make(map[string]*gate.Mutex[hostRobots]),
		}),
		book: context.WithoutCancel(ctx),
		jobs: make(chan string, len(web.Pages)),
	}

	if web.Seed != "" {
		// No worker runs yet, so the lock is free; but ctx may already be
		// done (a done ctx fails Lock even then), and the seed must be
		// recorded either way: then the workers drain it unfetched.
		st, _ := c.state.Lock(c.book)
		st.seen[web.Seed] = true
		c.state.Unlock()
		c.pending.Add(1)
		c.jobs <- web.Seed
	}
	go func() { // close the frontier once nothing is queued or being visited
		c.pending.Wait()
		close(c.jobs)
	}()

	var workers sync.WaitGroup
	for range max(cfg.Workers, 1) {
		workers.Go(func() {
			for url := range c.jobs {
				if ctx.Err() == nil {
					c.visit(ctx, url)
				}
				// else: drain the frontier without fetching
				c.pending.Done()
			}
		})
	}
	workers.Wait()

	// Every worker returned: nothing is held, nothing is queued.
	st, _ := c.state.Lock(context.Background())
	defer c.state.Unlock()
	rb, _ := c.robots.RLock(context.Background())
	defer c.robots.RUnlock()
	r := Result{
		Discovered:  len(st.seen),
		Fetches:     st.fetches,
		ByWeight:    st.byWeight,
		Blocked:     st.blocked,
		Cancelled:   st.canceled,
		Aborted:     st.aborted,
		Robots:      int(c.robotsFetches.Load()),
		MaxInFlight: int(c.maxInFlight.Load()),
		MaxFetches:  int(c.maxFetching.Load()),
		Permits:     cfg.Permits,
		Available:   c.sem.Available(),
		Err:         ctx.Err(),
		Elapsed:     time.Since(start),

		RobotsWriteHeld: rb.held,
	}
	r.Unfetched = r.Discovered - len(r.Fetches) - r.Blocked
	r.CutShort = r.Unfetched > 0
	return r
}

// allowed reports whether robots.txt allows p, fetching the robots.txt of
// p's host first if nobody has yet.
func (c *crawler) allowed(ctx context.Context, p *Page) (bool, error) {
	// Fast, common case: a shared read lock, many workers at once.
	rb, err := c.robots.RLock(ctx)
	if err != nil {
		return false, err
	}
	rules, known := rb.rules[p.Host]
	c.robots.RUnlock()
	if !known {
		if rules, err = c.hostRules(ctx, p.Host); err != nil {
			return false, err
		}
	}
	return Allowed(rules, p.Path), nil
}

// hostRules returns host's robots.txt rules, fetching them if no worker has
// yet.
//
// The fetch takes a latency unit, and it does not hold the table's write
// lock: that would stall every worker, whatever its host, for the whole
// fetch (and a queued writer holds back the readers behind it, as the lock is
// write-preferring). Each host has its own gate.Mutex instead. The first
// worker to lock it fetches the rules; workers that need the same host queue
// on it (in FIFO order, giving up at the deadline) and find the rules when
// they get it. The table's write lock is taken twice, for map operations
// only: to find or add the host's Mutex, and to publish the rules.
func (c *crawler) hostRules(ctx context.Context, host string) ([]string, error) {
	wt, start, err := c.lockRobots(ctx)
	if err != nil {
		return nil, err
	}
	if rules, known := wt.rules[host]; known { // published since our RLock
		c.unlockRobots(wt, start)
		return rules, nil
	}
	hm := wt.hosts[host]
	if hm == nil {
		hm = new(gate.Mutex[hostRobots]) // the zero Mutex is unlocked
		wt.hosts[host] = hm
	}
	c.unlockRobots(wt, start)

	// Wait while another worker fetches this host's robots.txt. Lock order:
	// the table lock is never held while waiting for a host's Mutex.
	h, err := hm.Lock(ctx)
	if err != nil {
		return nil, err
	}
	defer hm.Unlock()
	if h.fetched { // the worker before us in line fetched them
		return h.rules, nil
	}
	c.robotsFetches.Add(1)
	rules, err := c.web.FetchRobots(ctx, host)
	if err != nil {
		// Deadline: nothing is stored, and the next worker in line tries
		// its own fetch.
		return nil, err
	}
	h.rules, h.fetched = rules, true

	// Publish, even if the deadline passed meanwhile: the rules were fetched.
	wt, start, _ = c.lockRobots(c.book)
	wt.rules[host] = rules
	c.unlockRobots(wt, start)
	return rules, nil
}

// lockRobots write-locks the robots table and returns the time it did, for
// unlockRobots to record how long the lock was held.
func (c *crawler) lockRobots(ctx context.Context) (*robotsTable, time.Time, error) {
	wt, err := c.robots.Lock(ctx)
	return wt, time.Now(), err
}

// unlockRobots records how long the write lock was held and unlocks it.
func (c *crawler) unlockRobots(wt *robotsTable, start time.Time) {
	wt.held = max(wt.held, time.Since(start))
	c.robots.Unlock()
}

// visit fetches one page and queues the new URLs it links to.
func (c *crawler) visit(ctx context.Context, url string) {
	// Bookkeeping takes the state lock for a few map operations only, so it
	// uses c.book, which the deadline does not cancel: once the deadline has
	// passed, Lock(ctx) would fail even on a free lock, and a page that was
	// fetched must still be recorded.
	book := c.book

	page := c.web.Pages[url] // the "HEAD request": host, path and size hint
	ok, err := c.allowed(ctx, page)
	if err != nil {
		return // deadline: counted as unfetched
	}
	if !ok {
		st, _ := c.state.Lock(book)
		st.blocked++
		c.state.Unlock()
		return
	}

	// Take one permit per unit of weight. Heavy pages wait their turn in the
	// FIFO queue like everyone else and are not overtaken by lighter ones.
	weight := min(page.Weight, c.permits)
	permit, err := c.sem.AcquireN(ctx, weight)
	if err != nil {
		// The deadline passed, while queued or before the call: it holds no
		// permit (any it had collected went on to the next waiter), and no
		// fetch starts after the deadline.
		st, _ := c.state.Lock(book)
		st.canceled++
		c.state.Unlock()
		return
	}
	c.track(int64(weight))
	page, err = c.web.Fetch(ctx, url)
	c.track(-int64(weight)) // before Release: in-flight weight never exceeds the permits held
	permit.Release()
	if err != nil {
		st, _ := c.state.Lock(book)
		st.aborted++
		c.state.Unlock()
		return
	}

	st, _ := c.state.Lock(book)
	st.fetches[url]++
	st.byWeight[page.Weight]++
	var fresh []string
	for _, link := range page.Links {
		if !st.seen[link] {
			st.seen[link] = true
			fresh = append(fresh, link)
		}
	}
	c.pending.Add(len(fresh)) // before this visit's Done, so the frontier stays open
	c.state.Unlock()
	for _, link := range fresh {
		c.jobs <- link // never blocks: each URL is queued at most once
	}
}

// track adds delta to the weight in flight and records the maxima.
func (c *crawler) track(delta int64) {
	n := c.inFlight.Add(delta)
	f := c.fetching.Add(int64(sign(delta)))
	raise(&c.maxInFlight, n)
	raise(&c.maxFetching, f)
}

func sign(n int64) int {
	if n < 0 {
		return -1
	}
	return 1
}

func raise(m *atomic.Int64, v int64) {
	for {
		old := m.Load()
		if v <= old || m.CompareAndSwap(old, v) {
			return
		}
	}
}

// ---------------------------------------------------------------------------

// Print writes a crawl's result in the demo's format. It returns an error if
// the crawl leaked permits or failed for another reason than its deadline.
func Print(out io.Writer, cfg Config, r Result) error {
	fmt.Fprintf(out, "crawler: %d pages on %d hosts, %d workers, %d permits, deadline %v\n",
		cfg.Pages, cfg.Hosts, cfg.Workers, cfg.Permits, cfg.Deadline)
	weights := make([]string, 0, len(r.ByWeight))
	for _, w := range slices.Sorted(maps.Keys(r.ByWeight)) {
		weights = append(weights, fmt.Sprintf("weight %d: %d", w, r.ByWeight[w]))
	}
	fmt.Fprintf(out, "  crawled    %d of %d discovered pages (%s); %d blocked by robots.txt (%d robots.txt fetched)\n",
		r.Crawled(), r.Discovered, strings.Join(weights, ", "), r.Blocked, r.Robots)
	fmt.Fprintf(out, "  in flight  max weight %d of %d permits, max %d fetches at once\n",
		r.MaxInFlight, r.Permits, r.MaxFetches)
	fmt.Fprintf(out, "  robots     table write-locked for at most %v at a time (never across a fetch)\n", r.RobotsWriteHeld.Round(time.Microsecond))
	if r.CutShort {
		fmt.Fprintf(out, "  deadline   cut the crawl short after %v: %d pages left unfetched (%d acquires failed at the deadline, %d fetches aborted)\n",
			r.Elapsed.Round(time.Millisecond), r.Unfetched, r.Cancelled, r.Aborted)
	} else {
		fmt.Fprintf(out, "  deadline   not reached: the crawl completed in %v\n", r.Elapsed.Round(time.Millisecond))
	}
	fmt.Fprintf(out, "  semaphore  Available() = %d of %d after the crawl", r.Available, r.Permits)
	if r.Available != r.Permits {
		fmt.Fprintln(out, ": PERMITS LEAKED")
		return errors.New("crawler: permits leaked")
	}
	fmt.Fprintln(out, ": failed acquires hold nothing")
	if r.Err != nil && !errors.Is(r.Err, context.DeadlineExceeded) {
		return fmt.Errorf("crawler: %w", r.Err)
	}
	return nil
}
