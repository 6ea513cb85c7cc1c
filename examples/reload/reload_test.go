package reload

import (
	"io"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the run if a run leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Every server sees every event or learns how many it missed, applies
// configuration versions in increasing order, and gets the shutdown, which
// SendWait delivers to all of them even though one server lags.
func TestReloadEveryServerAccountsForEveryEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Deadline = time.Hour
		r := Run(t.Context(), cfg, io.Discard)
		if r.CutShort || r.Sent != cfg.Events {
			t.Fatalf("sent %d of %d events, cut short %v", r.Sent, cfg.Events, r.CutShort)
		}
		if r.ShutdownReach != cfg.Servers || r.ShutdownSeen != cfg.Servers {
			t.Fatalf("shutdown reached %d and was seen by %d servers, want %d", r.ShutdownReach, r.ShutdownSeen, cfg.Servers)
		}
		if r.FinalVersion != cfg.Changes+1 {
			t.Fatalf("final config v%d, want v%d", r.FinalVersion, cfg.Changes+1)
		}
		for i, s := range r.Servers {
			if got := uint64(s.Handled) + s.Skipped; got != uint64(r.Sent) {
				t.Errorf("server %d: handled %d + missed %d = %d, want %d", i, s.Handled, s.Skipped, got, r.Sent)
			}
			for k := 1; k < len(s.Versions); k++ {
				if s.Versions[k] <= s.Versions[k-1] {
					t.Errorf("server %d: config versions %v not strictly increasing", i, s.Versions)
					break
				}
			}
			if s.Versions[0] != 1 || s.Versions[len(s.Versions)-1] > r.FinalVersion {
				t.Errorf("server %d: config versions %v outside 1..%d", i, s.Versions, r.FinalVersion)
			}
		}
		if r.Servers[0].Skipped == 0 {
			t.Errorf("the slow server never lagged: %+v", r.Servers[0])
		}
		for i, s := range r.Servers[1:] {
			if s.Skipped != 0 {
				t.Errorf("fast server %d lagged by %d", i+1, s.Skipped)
			}
		}
	})
}

// A deadline before the end stops every server and the admin, and leaves no
// goroutine behind.
func TestReloadDeadline(t *testing.T) {
	for _, d := range []time.Duration{0, 2 * time.Millisecond, 7 * time.Millisecond} {
		synctest.Test(t, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Deadline = d
			r := Run(t.Context(), cfg, io.Discard)
			if !r.CutShort || r.Sent >= cfg.Events {
				t.Fatalf("deadline %v: sent %d of %d, cut short %v", d, r.Sent, cfg.Events, r.CutShort)
			}
			for i, s := range r.Servers {
				if uint64(s.Handled)+s.Skipped > uint64(r.Sent) {
					t.Errorf("deadline %v: server %d handled %d + missed %d of %d sent", d, i, s.Handled, s.Skipped, r.Sent)
				}
			}
		})
	}
}
