package gate

// Tests of the keyed table that look inside it: the entries of keys no
// longer in use are freed, and the shards' maps give their room back, so
// that after a million distinct keys a KeyedMutex or Flight is back to the
// size of an empty one.

import (
	"context"
	"runtime"
	"testing"
)

// footprint returns what the table holds: keys in use, the sum of the
// shards' peaks (the size their maps grew to and still have), and how many
// shards have a map.
func (t *keyedTable[K, E]) footprint() (keys, peak, maps int) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		keys += len(sh.m)
		peak += sh.peak
		if sh.m != nil {
			maps++
		}
		sh.mu.Unlock()
	}
	return keys, peak, maps
}

// heapAlloc returns the bytes of live heap objects after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func TestKeyedMutexMemoryAfterManyKeys(t *testing.T) {
	total, window := 1_000_000, 10_000
	if testing.Short() {
		total = 100_000
	}
	ctx := context.Background()
	m := new(KeyedMutex[int])
	// Warm up: the spares and small maps an empty table may keep.
	for k := range keyedShards * 4 {
		m.Lock(ctx, -1-k)
		m.Unlock(-1 - k)
	}
	before := heapAlloc()
	for base := 0; base < total; base += window {
		// Hold a window of keys at once, so the maps grow, then let go.
		for k := base; k < base+window; k++ {
			if err := m.Lock(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		if n := m.Len(); n != window {
			t.Fatalf("Len = %d with %d keys held", n, window)
		}
		for k := base; k < base+window; k++ {
			m.Unlock(k)
		}
	}
	keys, peak, maps := m.t.footprint()
	if keys != 0 || m.Len() != 0 {
		t.Fatalf("%d keys left after every Unlock", keys)
	}
	if peak > keyedShards*keyedKeep {
		t.Fatalf("maps still sized for %d keys (%d maps) after every Unlock", peak, maps)
	}
	after := heapAlloc()
	// A window of held keys costs about a megabyte; the table must give
	// all of it back (the slack covers the runtime's own noise).
	if after > before+256<<10 {
		t.Fatalf("heap grew from %d to %d bytes after %d keys locked and unlocked", before, after, total)
	}
	t.Logf("heap %d -> %d bytes; %d maps, peaks %d", before, after, maps, peak)
}

// Flight shares the table with KeyedMutex (tested with a million keys
// above); a fifth of that checks its own use of it.
func TestFlightMemoryAfterManyKeys(t *testing.T) {
	total := 200_000
	if testing.Short() {
		total = 20_000
	}
	ctx := context.Background()
	f := new(Flight[int, int])
	before := heapAlloc()
	for k := range total {
		v, _, err := f.Do(ctx, k, func(context.Context) (int, error) { return k, nil })
		if v != k || err != nil {
			t.Fatalf("Do(%d) = %d, %v", k, v, err)
		}
	}
	keys, peak, _ := f.t.footprint()
	if keys != 0 || peak > keyedShards*keyedKeep {
		t.Fatalf("%d keys, peaks %d left after every call returned", keys, peak)
	}
	if after := heapAlloc(); after > before+256<<10 {
		t.Fatalf("heap grew from %d to %d bytes after %d calls", before, after, total)
	}
}

// A shard that shrank to a quarter of its peak moves to a smaller map, again
// and again as it drains, down to a small one that it keeps.
func TestKeyedTableShrinks(t *testing.T) {
	var tb keyedTable[int, int]
	sh := &tb.shards[0]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	const n = 1000
	entries := make([]*keyedEntry[int], n)
	for k := range n {
		entries[k] = sh.ref(k)
	}
	if sh.peak != n {
		t.Fatalf("peak %d, want %d", sh.peak, n)
	}
	for k := range n - n/4 {
		sh.unref(k, entries[k], false)
	}
	if sh.peak != n/4 || len(sh.m) != n/4 {
		t.Fatalf("after removing 3/4: peak %d, len %d; want both %d", sh.peak, len(sh.m), n/4)
	}
	for k := n - n/4; k < n; k++ {
		if sh.m[k] != entries[k] {
			t.Fatalf("key %d lost its entry in the shrink", k)
		}
		sh.unref(k, entries[k], false)
	}
	// Each quarter shrank the map again, down to a small one it keeps.
	if len(sh.m) != 0 || sh.peak > keyedKeep {
		t.Fatalf("emptied shard keeps a map of len %d, peak %d", len(sh.m), sh.peak)
	}
}
