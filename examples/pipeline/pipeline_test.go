package pipeline

import (
	"io"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the run if a pipeline leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// checksum is the sum of the squares every job of cfg asks for.
func checksum(cfg Config) int {
	sum := 0
	for p := range cfg.Producers {
		for seq := range cfg.Jobs {
			n := (p*cfg.Jobs + seq) % 100
			sum += n * n
		}
	}
	return sum
}

// With time to spare every job is queued, processed once and answered once.
func TestPipelineCompletes(t *testing.T) {
	for _, batch := range []int{1, 3, 8} {
		synctest.Test(t, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Batch = batch
			cfg.Deadline = time.Hour
			r := Run(t.Context(), cfg, io.Discard)
			total := cfg.Producers * cfg.Jobs
			if r.Sent != total || r.Processed != total || r.Answered != total {
				t.Fatalf("batch %d: sent %d, processed %d, answered %d; want %d each", batch, r.Sent, r.Processed, r.Answered, total)
			}
			if r.Checksum != checksum(cfg) {
				t.Fatalf("batch %d: checksum %d, want %d", batch, r.Checksum, checksum(cfg))
			}
			if r.Dropped+r.Refused+r.Unread+r.Unsent+r.Lost != 0 || r.CutShort {
				t.Fatalf("batch %d: a complete run reported losses: %+v", batch, r)
			}
			if r.TableInit != 1 {
				t.Fatalf("batch %d: shared table built %d times, want once", batch, r.TableInit)
			}
			if r.MaxQueue < 1 || r.MaxQueue > cfg.QueueCap {
				t.Fatalf("batch %d: queue held %d jobs, want 1..%d", batch, r.MaxQueue, cfg.QueueCap)
			}
			if r.Ticks == 0 {
				t.Fatalf("batch %d: no progress report", batch)
			}
		})
	}
}

// A deadline in the middle cuts the run short, and every job is still
// accounted for: queued jobs are processed or dropped, never lost, and a
// reply is answered, refused or left unread.
func TestPipelineDeadlineLosesNothing(t *testing.T) {
	for _, deadline := range []time.Duration{0, 5 * time.Millisecond, 30 * time.Millisecond, 80 * time.Millisecond} {
		synctest.Test(t, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Deadline = deadline
			r := Run(t.Context(), cfg, io.Discard)
			total := cfg.Producers * cfg.Jobs
			if !r.CutShort {
				t.Fatalf("deadline %v: run not cut short: %+v", deadline, r)
			}
			if r.Sent+r.Unsent != total {
				t.Fatalf("deadline %v: %d sent + %d unsent, want %d", deadline, r.Sent, r.Unsent, total)
			}
			if r.Lost != 0 || r.Processed+r.Dropped != r.Sent {
				t.Fatalf("deadline %v: %d sent but %d processed + %d dropped", deadline, r.Sent, r.Processed, r.Dropped)
			}
			if r.Unread < 0 || r.Answered+r.Refused+r.Unread != r.Processed {
				t.Fatalf("deadline %v: replies do not add up: %+v", deadline, r)
			}
			if r.Processed > 0 && r.TableInit != 1 {
				t.Fatalf("deadline %v: shared table built %d times", deadline, r.TableInit)
			}
		})
	}
}
