// Package freelist owns a bounded free list of reusable objects. Unlike sync.Pool it keeps
// its objects across garbage collections, so a steady stream of messages reuses the same
// buffers instead of reallocating a share of them after every GC cycle.
package freelist

import "sync"

// List is a bounded LIFO of *T. The zero value is not usable: set Max (and New) first. Safe
// for concurrent use.
type List[T any] struct {
	// New makes an object when the list is empty.
	New func() *T
	// Max bounds the objects kept; Put drops objects beyond it.
	Max int

	mu    sync.Mutex
	items []*T
}

// Get returns a kept object, or a new one.
func (l *List[T]) Get() *T {
	l.mu.Lock()
	if n := len(l.items); n > 0 {
		x := l.items[n-1]
		l.items[n-1] = nil
		l.items = l.items[:n-1]
		l.mu.Unlock()
		return x
	}
	l.mu.Unlock()
	return l.New()
}

// Put keeps x for reuse unless the list is full.
func (l *List[T]) Put(x *T) {
	l.mu.Lock()
	if len(l.items) < l.Max {
		l.items = append(l.items, x)
	}
	l.mu.Unlock()
}

// Len returns the number of kept objects.
func (l *List[T]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.items)
}
