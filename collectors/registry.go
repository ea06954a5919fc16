package collectors

import (
	"fmt"
	"sort"
	"sync"
)

// Registry maps venue names to connectors.
type Registry struct {
	mu sync.RWMutex
	m  map[string]Connector
}

// NewRegistry returns an empty registry (tests use their own instead of the global one).
func NewRegistry() *Registry { return &Registry{m: map[string]Connector{}} }

// Register adds a connector. It panics on nil or a duplicate name, like database/sql.
func (r *Registry) Register(c Connector) {
	if c == nil {
		panic("collectors: Register of nil connector")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[c.Name()]; dup {
		panic("collectors: Register called twice for venue " + c.Name())
	}
	r.m[c.Name()] = c
}

// Lookup returns the connector of a venue.
func (r *Registry) Lookup(name string) (Connector, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.m[name]
	if !ok {
		names := make([]string, 0, len(r.m))
		for n := range r.m {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("collectors: unknown venue %q (known: %v)", name, names)
	}
	return c, nil
}

// Names returns the registered venue names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Default is the process-wide registry venue packages register into from init().
var Default = NewRegistry()

// Register adds a connector to the default registry.
func Register(c Connector) { Default.Register(c) }
