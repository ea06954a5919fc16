package md

// Interner returns one shared string per distinct byte sequence, so decoding venue and
// symbol names allocates only the first time each name is seen. It is bounded: past
// maxEntries distinct strings it stops remembering new ones (they are still returned,
// allocated). Not goroutine-safe.
type Interner struct {
	m   map[string]string
	max int
}

// NewInterner returns an Interner remembering at most maxEntries strings (0 = 65536).
func NewInterner(maxEntries int) *Interner {
	if maxEntries <= 0 {
		maxEntries = 1 << 16
	}
	return &Interner{m: make(map[string]string), max: maxEntries}
}

// Bytes returns the interned string equal to b.
func (in *Interner) Bytes(b []byte) string {
	if s, ok := in.m[string(b)]; ok { // no allocation: the compiler elides the conversion
		return s
	}
	s := string(b)
	if len(in.m) < in.max {
		in.m[s] = s
	}
	return s
}
