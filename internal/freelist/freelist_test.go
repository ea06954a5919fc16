package freelist

import (
	"runtime"
	"sync"
	"testing"
)

func TestListReusesAndBounds(t *testing.T) {
	made := 0
	l := &List[[]byte]{Max: 2, New: func() *[]byte { made++; b := make([]byte, 0, 8); return &b }}
	a, b, c := l.Get(), l.Get(), l.Get()
	if made != 3 {
		t.Fatalf("made %d, want 3", made)
	}
	l.Put(a)
	l.Put(b)
	l.Put(c) // beyond Max: dropped
	if l.Len() != 2 {
		t.Fatalf("kept %d, want 2", l.Len())
	}
	runtime.GC() // a sync.Pool would lose its objects here
	if x := l.Get(); x != b {
		t.Fatal("Get did not return the last kept object")
	}
	if x := l.Get(); x != a {
		t.Fatal("Get did not return the first kept object")
	}
	l.Get()
	if made != 4 {
		t.Fatalf("made %d, want 4 after the list emptied", made)
	}
}

func TestListConcurrent(t *testing.T) {
	l := &List[int]{Max: 64, New: func() *int { return new(int) }}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				x := l.Get()
				*x++
				l.Put(x)
			}
		}()
	}
	wg.Wait()
	if l.Len() > 64 {
		t.Fatalf("kept %d > Max", l.Len())
	}
}
