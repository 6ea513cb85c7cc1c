package gate_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind: a primitive
// that strands a parked waiter shows up here.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
