package gate

import (
	"errors"
	"strconv"
)

// The errors that gate's calls return for runtime conditions. They are sentinel
// values: compare them with [errors.Is]. A call that gives up because its
// context ended returns ctx.Err() itself, never one of these.
var (
	// ErrClosed reports that the other side of a channel is gone, or that the
	// primitive (a Semaphore, a channel handle) was closed.
	ErrClosed = errors.New("gate: closed")
	// ErrFull reports that TrySend or TryReserve found no free slot.
	ErrFull = errors.New("gate: channel full")
	// ErrEmpty reports that TryRecv found nothing to receive yet.
	ErrEmpty = errors.New("gate: channel empty")
	// ErrNoPermits reports that TryAcquire found too few permits available.
	ErrNoPermits = errors.New("gate: no permits available")
	// ErrLagged reports that a broadcast receiver fell behind. The error
	// returned is a *LaggedError, for which errors.Is(err, ErrLagged) holds.
	ErrLagged = errors.New("gate: receiver lagged")
	// ErrAlreadySet reports that a OnceCell or SetOnce already holds a value.
	ErrAlreadySet = errors.New("gate: value already set")
	// ErrInitializing reports that OnceCell.Set was called while an
	// initializer is running.
	ErrInitializing = errors.New("gate: cell is being initialized")
	// ErrTooMany reports a request for more than MaxPermits permits, or for
	// more slots than a channel can ever hold.
	ErrTooMany = errors.New("gate: request exceeds the maximum")
)

// A LaggedError reports that a broadcast receiver fell behind and missed
// Skipped values; the receiver goes on with the oldest value still held.
// errors.Is(err, ErrLagged) is true for it.
type LaggedError struct{ Skipped uint64 }

// Error returns a message that names the number of missed values.
func (e *LaggedError) Error() string {
	return "gate: receiver lagged, missed " + strconv.FormatUint(e.Skipped, 10) + " values"
}

// Is reports whether target is ErrLagged, so that errors.Is(err, ErrLagged)
// matches every *LaggedError.
func (e *LaggedError) Is(target error) bool { return target == ErrLagged }
