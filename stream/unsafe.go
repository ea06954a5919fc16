package stream

import "unsafe"

// unsafeString views b as a string without copying; b must not change while it is used.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
